"""Workspace manifests: path -> {sha256, size, mode}, and the tree hash over one.

Pure Python (no Django) so the patch command line can use it. The tree hash of a
workspace's manifest is its `revision_token`, and it is the same hash a Revision of
those files carries, so "is the workspace still at revision X" is one comparison.
"""

from __future__ import annotations

import hashlib
import os
import stat

from sandbox.paths import FORBIDDEN_COMPONENTS

FILE_MODE = "100644"
EXEC_MODE = "100755"


def file_mode(st_mode: int) -> str:
    return EXEC_MODE if st_mode & stat.S_IXUSR else FILE_MODE


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def walk_files(root: str | os.PathLike):
    """Yield (relative posix path, absolute path, stat) for regular files under root.

    Symbolic links and forbidden directories (`.git`) are skipped; the order is sorted
    so manifests and indexes are deterministic.
    """
    for rel, entry in walk_entries(root):
        yield rel, entry.path, entry.stat(follow_symlinks=False)


def walk_entries(root: str | os.PathLike):
    """`walk_files` without the stat: (relative posix path, `os.DirEntry`), so a caller
    that already knows a file pays no system call for it."""
    root = os.fspath(root)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        abs_dir = os.path.join(root, rel_dir) if rel_dir else root
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in FORBIDDEN_COMPONENTS:
                    subdirs.append(rel)
            elif entry.is_file(follow_symlinks=False):
                yield rel, entry
        stack.extend(reversed(subdirs))


class HashCache:
    """Remembers file hashes by (path, size, mtime_ns, inode) so an unchanged file is read once."""

    def __init__(self):
        self._entries: dict[str, tuple[tuple[int, int, int], str]] = {}

    def sha256(self, abs_path: str, st: os.stat_result) -> str:
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        hit = self._entries.get(abs_path)
        if hit and hit[0] == key:
            return hit[1]
        with open(abs_path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        self._entries[abs_path] = (key, digest)
        return digest

    def remember(self, abs_path: str, key: tuple[int, int, int], digest: str) -> None:
        """The digest of a file the caller wrote itself, under its stat key."""
        self._entries[abs_path] = (key, digest)

    def forget(self, abs_path: str) -> None:
        self._entries.pop(abs_path, None)


def scan(
    root: str | os.PathLike, cache: HashCache | None = None, known: dict[str, dict] | None = None
) -> dict[str, dict]:
    """The manifest of a directory tree. `known` gives the entries of files the caller
    has just written (relative path -> {sha256, size, mode}); they are taken as given."""
    manifest = {}
    for rel, entry in walk_entries(root):
        if known is not None and rel in known:
            manifest[rel] = known[rel]
            continue
        st = entry.stat(follow_symlinks=False)
        digest = cache.sha256(entry.path, st) if cache else _sha256_file(entry.path)
        manifest[rel] = {"sha256": digest, "size": st.st_size, "mode": file_mode(st.st_mode)}
    return manifest


def _sha256_file(abs_path: str) -> str:
    with open(abs_path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def tree_hash(manifest: dict[str, dict]) -> str:
    """Content address of a manifest: equal files, sizes and modes give equal hashes."""
    h = hashlib.sha256()
    for path in sorted(manifest):
        entry = manifest[path]
        h.update(f"{entry['mode']} {entry['sha256']} {path}\0".encode())
    return h.hexdigest()
