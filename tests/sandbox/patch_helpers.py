"""Trees, patches and the in-process apply for the patch engine's tests."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from sandbox.patching import apply_patch

REPO = Path(__file__).resolve().parents[2]


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def snapshot(root: Path) -> dict:
    """Every entry under root: bytes and mode of files, link targets, directory modes."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            rel = os.path.relpath(full, root)
            if stat.S_ISLNK(st.st_mode):
                snap[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                snap[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                snap[rel] = ("file", Path(full).read_bytes(), stat.S_IMODE(st.st_mode))
    return snap


def apply(root: Path, patch: str, **kwargs) -> dict:
    result = apply_patch(root, patch, **kwargs)
    data = result.as_dict()
    assert data["ok"] is result.ok
    json.dumps(data)  # every result must be JSON-serialisable
    return data


NUMBERS = "".join(f"line {i}\n" for i in range(1, 21))


def unified(path: str, header: str, body: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n{header}\n{body}"
