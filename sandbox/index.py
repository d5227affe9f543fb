"""The workspace index: every file with its size, hash, language and symbol outline.

Indexing a warm workspace costs a directory walk and nothing else: file hashes come
from `manifest.HashCache` (keyed by size, mtime and inode) and outlines from an
`OutlineCache` keyed by content hash, so an unchanged file is neither read, hashed nor
parsed again, and a file whose content moved or was copied reuses its outline.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.files import int_arg, json_size
from sandbox.manifest import HashCache, sha256_bytes, walk_files
from sandbox.outline import MAX_SYMBOLS, OUTLINED_LANGUAGES, outline
from sandbox.paths import FILE_NOT_FOUND, PolicyError, is_binary, normalize_prefix, resolve

DEFAULT_MAX_FILES = 500
HARD_MAX_FILES = 20_000
DEFAULT_OUTLINE_ENTRIES = 20_000
# Outlining a file this large would dominate the index for little use to a model.
MAX_OUTLINE_BYTES = 1024 * 1024

LANGUAGES = {
    ".html": "html",
    ".htm": "html",
    ".css": "css",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".py": "python",
    ".json": "json",
    ".webmanifest": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".svg": "svg",
    ".xml": "xml",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".csv": "csv",
    ".sh": "shell",
}


def language_of(path: str) -> str:
    """Language by extension; files without a known one are plain `text`."""
    _, ext = os.path.splitext(path.lower())
    return LANGUAGES.get(ext, "text")


@dataclass
class _Entry:
    binary: bool
    symbols: tuple | None  # None: not outlined yet (an index without symbols saw it)


class OutlineCache:
    """Outlines by (sha256, language), bounded LRU, shared across indexes of any workspace.

    `parses` counts files handed to tree-sitter, `reads` counts files read from disk
    to learn their outline or whether they are binary. `hashes` is the `HashCache`
    the index hashes with; pass the workspace's own to share it.
    """

    def __init__(self, max_entries: int = DEFAULT_OUTLINE_ENTRIES, hashes: HashCache | None = None):
        self.max_entries = max_entries
        self.hashes = hashes if hashes is not None else HashCache()
        self.parses = 0
        self.reads = 0
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, sha256: str, language: str, abs_path: str, *, with_symbols: bool) -> _Entry:
        key = (sha256, language)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None and (entry.symbols is not None or not with_symbols):
            return entry
        entry, read_sha256 = self._compute(abs_path, language, with_symbols=with_symbols)
        if read_sha256 != sha256:
            return entry  # the file changed since it was hashed: never cache under a wrong key
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return entry

    def _compute(self, abs_path: str, language: str, *, with_symbols: bool) -> tuple[_Entry, str]:
        with open(abs_path, "rb") as fh:
            data = fh.read()
        digest = sha256_bytes(data)
        with self._lock:
            self.reads += 1
        if is_binary(data):
            return _Entry(binary=True, symbols=()), digest
        if not with_symbols:
            return _Entry(binary=False, symbols=None), digest
        if language not in OUTLINED_LANGUAGES or len(data) > MAX_OUTLINE_BYTES:
            return _Entry(binary=False, symbols=()), digest
        # One more than the cap, so the index can say an outline was cut.
        symbols = tuple(outline(language, data, limit=MAX_SYMBOLS + 1))
        with self._lock:
            self.parses += 1
        return _Entry(binary=False, symbols=symbols), digest


_default_cache = OutlineCache()


def files_under(root: str | os.PathLike, path_prefix: object) -> tuple[str, Iterator]:
    """(canonical prefix, iterator of (rel, abs, stat)) for the regular files under a
    directory or at a file path; links and `.git` are skipped as in manifests."""
    prefix = normalize_prefix(path_prefix)
    if not prefix:
        return "", walk_files(root)
    resolved = resolve(root, prefix, field="path_prefix", must_exist=True)
    if resolved.path.is_dir():
        walk = walk_files(resolved.path)
        return prefix, ((f"{prefix}/{rel}", abs_path, st) for rel, abs_path, st in walk)
    if resolved.path.is_file() and not resolved.path.is_symlink():
        return prefix, iter([(prefix, os.fspath(resolved.path), resolved.path.stat())])
    raise PolicyError(FILE_NOT_FOUND, f"`{prefix}` is not a file or directory.", "path_prefix")


def workspace_index(
    root: str | os.PathLike,
    *,
    path_prefix: object = None,
    include_symbols: object = True,
    cache: OutlineCache | None = None,
    max_files: object = DEFAULT_MAX_FILES,
    offset: object = 0,
    max_bytes: object = None,
) -> dict:
    """List the workspace's files, optionally with their symbol outlines, a page at a time.

    Result: `{path_prefix, files: [{path, size, sha256, language, symbols?,
    symbols_truncated?}], offset, listed_files, total_files, truncated, next_offset,
    languages: {language: count of listed files}}`. `symbols` (when `include_symbols`)
    is a list of `{kind, name, line}` (CSS selectors may add `context`), at most 200
    per file with `symbols_truncated` set when more exist. Binary files have language
    `binary` and no symbols. `path_prefix` is a directory or a file.

    Files come in a fixed order (sorted, directory by directory); the page starts at
    the `offset`-th (0-based) and holds at most `max_files` files and, when
    `max_bytes` is given, only whole file entries whose `files` list fits that many
    bytes as a tool result sends it (`json_size`). A first entry whose outline alone
    would pass the budget keeps the symbols that fit, with `symbols_truncated`. Every
    file is counted in `total_files`; `truncated` is true when files after the page
    were left out, and `next_offset` is then the `offset` that lists them (else None).
    """
    cache = cache if cache is not None else _default_cache
    with_symbols = include_symbols is not False and str(include_symbols).lower() not in ("false", "0", "no")
    limit = int_arg(max_files, "max_files", default=DEFAULT_MAX_FILES, minimum=1, maximum=HARD_MAX_FILES)
    first = int_arg(offset, "offset", default=0, minimum=0)
    budget = int_arg(max_bytes, "max_bytes", default=None, minimum=1)
    prefix, walk = files_under(root, path_prefix)
    files: list[dict] = []
    languages: dict[str, int] = {}
    total, used, full = 0, 2, False  # `used`: the list's brackets
    for rel, abs_path, st in walk:
        total += 1
        if total <= first or full:
            continue  # keep counting: the model should know how much it is not seeing
        item = _describe(cache, rel, abs_path, st, with_symbols)
        if budget is not None:  # measured only when asked: a dump per file is most of a warm index
            cost = json_size(item) + (1 if files else 0)
            if used + cost > budget:
                if files:
                    full = True
                    continue
                item = _fit_symbols(item, budget - used)
                cost = json_size(item)
            used += cost
        files.append(item)
        languages[item["language"]] = languages.get(item["language"], 0) + 1
        full = len(files) >= limit
    end = min(first, total) + len(files)
    return {
        "path_prefix": prefix,
        "files": files,
        "offset": first,
        "listed_files": len(files),
        "total_files": total,
        "truncated": end < total,
        "next_offset": end if end < total else None,
        "languages": languages,
    }


def _fit_symbols(item: dict, budget: int) -> dict:
    """`item` with as many of its symbols as fit `budget` bytes (as sent); at least none."""
    symbols = item.get("symbols") or []
    trimmed = {**item, "symbols": [], "symbols_truncated": True} if symbols else item
    low, high = 0, len(symbols)  # the size grows with the symbols kept: bisect
    while low < high:
        mid = (low + high + 1) // 2
        if json_size({**trimmed, "symbols": symbols[:mid]}) <= budget:
            low = mid
        else:
            high = mid - 1
    return {**trimmed, "symbols": symbols[:low]} if symbols else item


def _describe(cache: OutlineCache, rel: str, abs_path: str, st: os.stat_result, with_symbols: bool) -> dict:
    sha256 = cache.hashes.sha256(abs_path, st)
    language = language_of(rel)
    entry = cache.lookup(sha256, language, abs_path, with_symbols=with_symbols)
    item = {
        "path": rel,
        "size": st.st_size,
        "sha256": sha256,
        "language": "binary" if entry.binary else language,
    }
    if with_symbols:
        symbols = entry.symbols or ()
        item["symbols"] = [dict(s) for s in symbols[:MAX_SYMBOLS]]
        if len(symbols) > MAX_SYMBOLS:
            item["symbols_truncated"] = True
    return item
