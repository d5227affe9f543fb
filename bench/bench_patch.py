"""Benchmark: our in-process `apply_patch` against a whole `git apply` process.

Cases, each applied to a fresh copy of its tree (copying is not timed):
  054       corpus case unified/054 (one 20,000-line file, 300 hunks)
  055       corpus case unified/055 (200 files in 10 directories, one hunk each)
  10k/100k/300k   one synthetic file of that many lines with a changed line every
            50 lines; the patch is real `git diff` output

"ours" times `sandbox.patching.apply_patch` (reading the patch file, parsing,
matching, the atomic write and the revision token) in this process, until it returns;
"git" times `git apply PATCH` as a subprocess, which is what a caller would otherwise
run. Our engine leaves the closing of the replaced files' descriptors, which frees their
blocks, to background threads (sandbox/patching/closer.py); "freed ms" is how much longer
that took, waited for after each run so it never overlaps the next, and "all/git" the
ratio with it counted. Each
figure is the median of several runs. Targets (printed as PASS/MISS, not an exit
status): ours/git <= 1.0 on 054, 055, 100k and 300k, and our time growing at most 11x
from 10k to 100k lines (linear, not quadratic).

Every copy a round needs is made, and flushed to disk, before the round is timed, and
the copies are removed only at the end. Deleting files right before a timed run would
bias 055: it makes 200 new files on both sides (our temporary files, git's rewritten
files), and where creating a file is slow, that dominates it and both sides slow down
alike, pulling the ratio towards 1. One such case is ext4 without a journal, where each
new inode skips every recently deleted one in its group (`recently_deleted` in the
kernel: for 1 to 6 minutes). `--scratch /dev/shm/bench` times the same work on tmpfs,
with no disk at all.

Run from the repository root:
  .venv/bin/python bench/bench_patch.py [--repeat N] [--scratch DIR] [--corpus DIR]
Cases are generated under bench/.work/ (git-ignored); the timed copies go to --scratch
(default bench/.work/run). The corpus is looked for where the tests look for it: --corpus, else
PATCH_CORPUS_DIR, else ../shared/patch_corpus beside the repository, else
/work/shared/patch_corpus. Where it is not found, rows 054 and 055 are skipped, and a warning
at the start and a line under the table say where it was looked for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORK = REPO / "bench" / ".work"
# Where tests/sandbox/test_patching_corpus.py looks for the corpus, after PATCH_CORPUS_DIR.
CORPUS_CANDIDATES = [REPO.parent / "shared" / "patch_corpus", Path("/work/shared/patch_corpus")]
CORPUS_CASES = (("054", "054_large_20k_lines_300_hunks"), ("055", "055_two_hundred_files"))
GIT_ENV = {**os.environ, "GIT_CEILING_DIRECTORIES": str(WORK)}  # for building the cases


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


def fresh_copy(before: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(before, target, symlinks=True)
    return target


def find_corpus(option: Path | None) -> tuple[Path | None, list[str]]:
    """The corpus folder (holding unified/054... and unified/055...), or None; and where it was looked for."""
    if option is not None:
        places = [(option, "--corpus")]
    elif os.environ.get("PATCH_CORPUS_DIR"):
        places = [(Path(os.environ["PATCH_CORPUS_DIR"]), "PATCH_CORPUS_DIR")]
    else:
        places = [(CORPUS_CANDIDATES[0], "../shared/patch_corpus beside the repository")]
        places += [(path, "default") for path in CORPUS_CANDIDATES[1:]]
    looked = []
    for path, how in places:
        if all((path / "unified" / folder).is_dir() for _name, folder in CORPUS_CASES):
            return path, looked
        looked.append(f"{path} ({how})")
    return None, looked


def corpus_warning(looked: list[str]) -> str:
    where = "\n".join(f"    {place}" for place in looked)
    return (
        "WARNING: patch corpus not found: cases 054 and 055 are skipped.\n"
        f"  Looked for unified/{CORPUS_CASES[0][1]} and unified/{CORPUS_CASES[1][1]} in:\n{where}\n"
        "  Point at the corpus with PATCH_CORPUS_DIR=/path/to/patch_corpus (or --corpus DIR)."
    )


def run_ours(root: Path, patch: Path) -> tuple[float, float]:
    """Milliseconds until the result, and then until the background closes are done."""
    from sandbox.patching import apply_patch  # imported by the warm-up run, before anything is timed
    from sandbox.patching.closer import closer

    start = time.perf_counter()
    text = patch.read_bytes().decode("utf-8")
    result = apply_patch(root, text)
    elapsed = time.perf_counter() - start
    closer.drain()  # the freeing never overlaps the next timed run
    freed = time.perf_counter() - start - elapsed
    if not result.ok:
        raise SystemExit(f"our apply failed on {patch}: {result.as_dict()['summary']}")
    return elapsed * 1000, freed * 1000


def run_git(root: Path, patch: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(["git", "apply", str(patch)], cwd=root, env=git_env(root), capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"git apply failed on {patch}: {proc.stderr.decode()}")
    return elapsed * 1000


def git_env(root: Path) -> dict:
    # git looks for a repository in the copy only, never above it (the product's own).
    return {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (median is reported)")
    parser.add_argument(
        "--scratch",
        type=Path,
        default=WORK / "run",
        help="where the timed copies go (default bench/.work/run; /dev/shm/... for tmpfs)",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        help="the patch corpus folder, for cases 054 and 055 (default: $PATCH_CORPUS_DIR, "
        "else ../shared/patch_corpus, else /work/shared/patch_corpus)",
    )
    args = parser.parse_args()  # before any work: --help and a bad option only print
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    corpus, looked = find_corpus(args.corpus)
    if corpus is None:
        print(corpus_warning(looked), file=sys.stderr, flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    args.scratch.mkdir(parents=True, exist_ok=True)
    # A directory of this run's own: only it is removed afterwards, never --scratch itself.
    scratch = Path(tempfile.mkdtemp(prefix="bench-patch-", dir=args.scratch))
    try:
        status = measure(cases_to_run(corpus), scratch, args.repeat)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if corpus is None:  # again under the table, where it is read
        print("\n" + corpus_warning(looked))
    return status


def cases_to_run(corpus: Path | None) -> list[tuple[str, Path, Path]]:
    cases: list[tuple[str, Path, Path]] = []
    if corpus is not None:
        for name, folder in CORPUS_CASES:
            case = corpus / "unified" / folder
            cases.append((name, case / "before", case / "patch.diff"))
    for lines, name in ((10_000, "10k"), (100_000, "100k"), (300_000, "300k")):
        cases.append((name, *synthetic_case(lines)))
    return cases


def measure(cases: list[tuple[str, Path, Path]], scratch: Path, repeat: int) -> int:
    # Ours and git alternate within each round, and rounds sweep all cases, so a busy
    # moment on the machine hits both sides and every case alike.
    ours = {name: [] for name, _, _ in cases}
    freed = {name: [] for name, _, _ in cases}
    git = {name: [] for name, _, _ in cases}
    for name, before, patch in cases:
        run_ours(fresh_copy(before, scratch / "warm-up" / name), patch)  # imports, page cache
    for round_no in range(repeat):
        copies = {
            (name, side): fresh_copy(before, scratch / f"{round_no}" / side / name)
            for name, before, _patch in cases
            for side in ("ours", "git")
        }
        os.sync()  # the copies' writeback happens now, not during the timed runs
        for name, _before, patch in cases:
            for side in ("ours", "git")[:: -1 if round_no % 2 else 1]:
                if side == "git":
                    git[name].append(run_git(copies[name, side], patch))
                    continue
                result_ms, freed_ms = run_ours(copies[name, side], patch)
                ours[name].append(result_ms)
                freed[name].append(freed_ms)
        print(f"round {round_no + 1}/{repeat} done", file=sys.stderr)

    med = {name: statistics.median(v) for name, v in ours.items()}
    print(
        f"{'case':<6} {'ours ms':>9} {'git ms':>9} {'ours/git':>9}  {'(min ours':>9} {'min git)':>9}  "
        f"{'freed ms':>9} {'all/git':>8}  target"
    )
    for name, _, _ in cases:
        git_med = statistics.median(git[name])
        ratio = med[name] / git_med
        freed_med = statistics.median(freed[name])
        target = "" if name == "10k" else ("PASS" if ratio <= 1.0 else "MISS") + " (<= 1.0)"
        print(
            f"{name:<6} {med[name]:9.2f} {git_med:9.2f} {ratio:9.2f}  "
            f"{min(ours[name]):9.2f} {min(git[name]):9.2f}  "
            f"{freed_med:9.2f} {(med[name] + freed_med) / git_med:8.2f}  {target}"
        )
    growth = med["100k"] / med["10k"]
    print(f"\nour growth 10k -> 100k lines: {growth:.2f}x  {'PASS' if growth <= 11 else 'MISS'} (<= 11x)")
    print(
        f"(medians of {repeat} runs; each run on a fresh copy of the tree in {scratch.parent}, "
        "copying not timed)\n"
        "(freed ms: after our result, until the background threads have closed the replaced files,\n"
        " which frees their blocks; all/git counts that too. git frees its files before it exits.)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
