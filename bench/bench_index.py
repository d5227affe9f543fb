"""Benchmark of `sandbox.index.workspace_index` on a generated 5,000-file web app tree.

What it measures (median of several runs, milliseconds, one process):

- scan: `sandbox.manifest.scan` without a hash cache, i.e. walk + read + SHA-256 of every
  file. This is the baseline: the least work any index must do on a tree it has never seen.
- index cold: `workspace_index` with a new `OutlineCache` (and so a new `HashCache`) each
  run: walk, hash, read and tree-sitter outline of every file.
- index warm: `workspace_index` again with the same cache on the unchanged tree: the walk
  and stat calls only; nothing is hashed, read or parsed (the script checks this).

It prints the three medians, warm/cold (how much the caches save) and cold/scan (what
outlining costs on top of hashing). Files stay in the OS page cache throughout, so the
figures are CPU cost, not disk. Scratch files live in bench/.work/ (git-ignored).

Run from the repository root: `.venv/bin/python bench/bench_index.py [--files N] [--runs N]`
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORK = REPO / "bench" / ".work"


def page(n: int) -> str:
    items = "\n".join(f'      <li id="item-{n}-{k}" class="item">Item {k}</li>' for k in range(8))
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Page {n}</title>
  <link rel="stylesheet" href="style{n}.css">
</head>
<body>
  <header id="header-{n}"><h1>Page {n}</h1></header>
  <main id="main-{n}">
    <ul id="list-{n}">
{items}
    </ul>
  </main>
  <script>
    function boot{n}() {{ document.getElementById('list-{n}').hidden = false; }}
  </script>
</body>
</html>
"""


def stylesheet(n: int) -> str:
    rules = "\n".join(
        f".block-{n}-{k} > .item:hover {{ color: #{k:03x}; padding: {k}px; }}" for k in range(12)
    )
    return f"""body {{ margin: 0; font-family: system-ui, sans-serif; }}
{rules}
@media (max-width: 600px) {{
  .block-{n}-0 {{ display: none; }}
  #main-{n} {{ padding: 4px; }}
}}
"""


def script(n: int) -> str:
    methods = "\n".join(f"  step{k}(x) {{ return this.value * {k} + x; }}" for k in range(6))
    return f"""import {{ helper }} from './helper.js';

export function render{n}(items) {{
  return items.map((item) => `<li>${{item}}</li>`).join('');
}}

const debounce{n} = (fn, ms) => {{
  let timer;
  return (...args) => {{ clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); }};
}};

class Widget{n} {{
  constructor(value) {{ this.value = value; }}
{methods}
}}

window.addEventListener('load', () => render{n}([]));
"""


def generate(root: Path, count: int) -> None:
    if root.exists():
        shutil.rmtree(root)
    makers = (page, stylesheet, script)
    extensions = ("html", "css", "js")
    for n in range(count):
        folder = root / f"section{n % 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = n % 3
        (folder / f"file{n}.{extensions[kind]}").write_text(makers[kind](n))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=5000, help="files in the generated tree (default 5000)")
    parser.add_argument(
        "--runs", type=int, default=5, help="runs per measurement, median reported (default 5)"
    )
    args = parser.parse_args()  # before any work: --help and a bad option only print
    if args.files < 1 or args.runs < 1:
        parser.error("--files and --runs must be at least 1")

    from sandbox.index import OutlineCache, workspace_index
    from sandbox.manifest import scan

    tree = WORK / "index-tree"
    generate(tree, args.files)
    total_bytes = sum(st.st_size for st in (p.stat() for p in tree.rglob("*") if p.is_file()))
    print(f"tree: {args.files} files, {total_bytes / 1e6:.1f} MB in {tree.relative_to(REPO)}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.runs} runs each, median ms\n")

    scan(tree)  # warm the OS page cache before anything is timed
    scan_ms = [timed(lambda: scan(tree)) for _ in range(args.runs)]

    def cold():
        cache = OutlineCache()
        result = workspace_index(tree, cache=cache, max_files=args.files)
        assert len(result["files"]) == args.files and cache.parses == args.files

    cold_ms = [timed(cold) for _ in range(args.runs)]

    cache = OutlineCache()
    workspace_index(tree, cache=cache, max_files=args.files)
    parses, reads = cache.parses, cache.reads
    warm_ms = [
        timed(lambda: workspace_index(tree, cache=cache, max_files=args.files)) for _ in range(args.runs)
    ]
    assert (cache.parses, cache.reads) == (parses, reads), "a warm index must not read or parse"

    scan_med, cold_med, warm_med = (statistics.median(x) for x in (scan_ms, cold_ms, warm_ms))
    rows = [
        ("scan (manifest.scan, hash only; baseline)", scan_med, scan_ms),
        ("index cold (new caches)", cold_med, cold_ms),
        ("index warm (same caches, unchanged tree)", warm_med, warm_ms),
    ]
    for label, median, runs in rows:
        spread = ", ".join(f"{ms:.0f}" for ms in runs)
        print(f"{label:44s} {median:8.1f} ms   [{spread}]")
    print()
    print(f"warm / cold        = {warm_med / cold_med:.3f}  ({cold_med / warm_med:.1f}x faster warm)")
    print(f"index cold / scan  = {cold_med / scan_med:.2f}")
    print(
        f"per file: scan {scan_med * 1000 / args.files:.0f} us, cold {cold_med * 1000 / args.files:.0f} us, "
        f"warm {warm_med * 1000 / args.files:.0f} us"
    )


if __name__ == "__main__":
    main()
