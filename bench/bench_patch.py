"""Benchmark: our in-process `apply_patch` against a whole `git apply` process.

Cases, each applied to a fresh copy of its tree (copying is not timed):
  054       corpus case unified/054 (one 20,000-line file, 300 hunks)
  055       corpus case unified/055 (200 files in 10 directories, one hunk each)
  10k/100k/300k   one synthetic file of that many lines with a changed line every
            50 lines; the patch is real `git diff` output

"ours" times `sandbox.patching.apply_patch` (reading the patch file, parsing,
matching, the atomic write and the revision token) in this process; "git" times
`git apply PATCH` as a subprocess, which is what a caller would otherwise run. Each
figure is the median of several runs. Targets (printed as PASS/MISS, not an exit
status): ours/git <= 1.0 on 054, 055, 100k and 300k, and our time growing at most 11x
from 10k to 100k lines (linear, not quadratic).

055 makes 200 new files on both sides (our temporary files, git's rewritten files), so
where creating a file is slow, that dominates it and both sides slow down alike. One
such case: ext4 without a journal, where each new inode skips every recently deleted
one in its group (`recently_deleted` in the kernel: for 1 to 6 minutes), and this
benchmark's own fresh copies delete hundreds of files a round; 055's figures then rise
from round to round for ours and git together.

Run from the repository root:  .venv/bin/python bench/bench_patch.py [--repeat N]
Scratch files go to bench/.work/ (git-ignored). The corpus is found through
PATCH_CORPUS_DIR (default ../shared/patch_corpus); without it the corpus rows are skipped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox.patching import apply_patch  # noqa: E402

WORK = REPO / "bench" / ".work"
CORPUS = Path(os.environ.get("PATCH_CORPUS_DIR", REPO.parent / "shared" / "patch_corpus"))
# git must not discover the product's own repository above the scratch directory.
GIT_ENV = {**os.environ, "GIT_CEILING_DIRECTORIES": str(WORK)}


def synthetic_case(lines: int) -> tuple[Path, Path]:
    """A tree with one file of `lines` lines and a `git diff` changing every 50th line."""
    case = WORK / f"synthetic_{lines}"
    before, patch = case / "before", case / "patch.diff"
    if patch.exists():
        return before, patch
    shutil.rmtree(case, ignore_errors=True)
    repo = case / "repo"
    repo.mkdir(parents=True)
    text = [f"line {i:06d}: value = compute({i % 97}, {i * 7 % 1000})  # keep\n" for i in range(lines)]
    (repo / "big.txt").write_text("".join(text))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True, env=GIT_ENV)
    subprocess.run([*git, "add", "big.txt"], cwd=repo, check=True, env=GIT_ENV)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True, env=GIT_ENV)
    shutil.copytree(repo, before, ignore=shutil.ignore_patterns(".git"))
    for i in range(25, lines, 50):
        text[i] = f"line {i:06d}: value = changed({i})  # edited\n"
    (repo / "big.txt").write_text("".join(text))
    diff = subprocess.run(["git", "diff"], cwd=repo, check=True, capture_output=True, env=GIT_ENV).stdout
    patch.write_bytes(diff)
    shutil.rmtree(repo)
    return before, patch


def fresh_copy(before: Path, name: str) -> Path:
    target = WORK / "run" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(before, target, symlinks=True)
    return target


def run_ours(before: Path, patch: Path) -> float:
    root = fresh_copy(before, "ours")
    start = time.perf_counter()
    text = patch.read_bytes().decode("utf-8")
    result = apply_patch(root, text)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"our apply failed on {patch}: {result.as_dict()['summary']}")
    return elapsed * 1000


def run_git(before: Path, patch: Path) -> float:
    root = fresh_copy(before, "git")
    start = time.perf_counter()
    proc = subprocess.run(["git", "apply", str(patch)], cwd=root, env=GIT_ENV, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"git apply failed on {patch}: {proc.stderr.decode()}")
    return elapsed * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (median is reported)")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)

    cases: list[tuple[str, Path, Path]] = []
    for name, folder in (("054", "054_large_20k_lines_300_hunks"), ("055", "055_two_hundred_files")):
        case = CORPUS / "unified" / folder
        if case.is_dir():
            cases.append((name, case / "before", case / "patch.diff"))
        else:
            print(f"(skipping {name}: corpus not found at {CORPUS})")
    for lines, name in ((10_000, "10k"), (100_000, "100k"), (300_000, "300k")):
        cases.append((name, *synthetic_case(lines)))

    # Ours and git alternate within each round, and rounds sweep all cases, so a busy
    # moment on the machine hits both sides and every case alike.
    ours = {name: [] for name, _, _ in cases}
    git = {name: [] for name, _, _ in cases}
    for _name, before, patch in cases:
        run_ours(before, patch)  # warm-up: imports, page cache
    for round_no in range(args.repeat):
        for name, before, patch in cases:
            if round_no % 2:
                git[name].append(run_git(before, patch))
                ours[name].append(run_ours(before, patch))
            else:
                ours[name].append(run_ours(before, patch))
                git[name].append(run_git(before, patch))

    med = {name: statistics.median(v) for name, v in ours.items()}
    print(
        f"{'case':<6} {'ours ms':>9} {'git ms':>9} {'ours/git':>9}  {'(min ours':>9} {'min git)':>9}  target"
    )
    for name, _, _ in cases:
        git_med = statistics.median(git[name])
        ratio = med[name] / git_med
        target = "" if name == "10k" else ("PASS" if ratio <= 1.0 else "MISS") + " (<= 1.0)"
        print(
            f"{name:<6} {med[name]:9.2f} {git_med:9.2f} {ratio:9.2f}  "
            f"{min(ours[name]):9.2f} {min(git[name]):9.2f}  {target}"
        )
    growth = med["100k"] / med["10k"]
    print(f"\nour growth 10k -> 100k lines: {growth:.2f}x  {'PASS' if growth <= 11 else 'MISS'} (<= 11x)")
    print(f"(medians of {args.repeat} runs; each run on a fresh copy of the tree, copying not timed)")
    shutil.rmtree(WORK / "run", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
