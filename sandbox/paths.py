"""Workspace path policy.

Every operation on a workspace file resolves its path here first. A refusal is a
`PolicyError` carrying a stable `code`, a message a model can act on and the argument
`field` at fault; callers turn it into a structured result, never a crash.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEFAULT_MAX_FILE_BYTES = 1024 * 1024
MAX_PATH_BYTES = 1024
MAX_COMPONENT_BYTES = 255
MAX_DEPTH = 32
# Directories the agent never reads or writes, wherever they sit in the tree.
FORBIDDEN_COMPONENTS = frozenset({".git"})
# Slash look-alikes that NFKC leaves alone; a name like `..\u2044etc` reads as a path to a
# human (or model) reviewing a change while being one component to the file system.
SLASH_LOOKALIKES = frozenset("\u2044\u2215\u29f8\u29f5\u29f9\u2216\u2571\u2572")
# Components that `normalize` drops, refuses or rewrites.
_NOT_CANONICAL = frozenset({"", ".", ".."}) | FORBIDDEN_COMPONENTS

PATH_INVALID = "PATH_INVALID"
PATH_OUTSIDE_WORKSPACE = "PATH_OUTSIDE_WORKSPACE"
PATH_FORBIDDEN = "PATH_FORBIDDEN"
FILE_NOT_FOUND = "FILE_NOT_FOUND"
FILE_EXISTS = "FILE_EXISTS"
NOT_A_FILE = "NOT_A_FILE"
FILE_TOO_LARGE = "FILE_TOO_LARGE"
FILE_BINARY = "FILE_BINARY"


class PolicyError(Exception):
    def __init__(self, code: str, message: str, field: str = "path"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "field": self.field}


def _max_file_bytes() -> int:
    try:
        from django.conf import settings

        return int(getattr(settings, "SANDBOX_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES))
    except Exception:  # Django not configured: the patch CLI runs standalone.
        return DEFAULT_MAX_FILE_BYTES


def normalize(path: object, *, field: str = "path") -> str:
    """Check a workspace-relative path as text and return its canonical form.

    Pure string rules, no file system: refuses empty, NUL/control characters,
    backslashes, absolute paths, `..`, `.git/`, compatibility look-alikes (fullwidth
    dots, fraction slashes...) and over-long names. `./a//b/` becomes `a/b`.
    """
    if _is_canonical_ascii(path):
        return path
    return _normalize(path, field)


def _is_canonical_ascii(path: object) -> bool:
    """The usual case, checked in a few string operations: printable ASCII that is
    already canonical, so that every rule of `_normalize` holds without rewriting it."""
    if not (isinstance(path, str) and path.isascii() and path.isprintable() and path.strip()):
        return False
    if "\\" in path or path[0] in "/~" or len(path) > MAX_PATH_BYTES:
        return False
    parts = path.split("/")
    return (
        _NOT_CANONICAL.isdisjoint(parts)
        and len(parts) <= MAX_DEPTH
        and max(map(len, parts)) <= MAX_COMPONENT_BYTES
    )


def _normalize(path: object, field: str) -> str:
    if not isinstance(path, str):
        raise PolicyError(
            PATH_INVALID, f"`{field}` must be a string path relative to the workspace root.", field
        )
    if path.strip() == "":
        raise PolicyError(
            PATH_INVALID, f"`{field}` is empty; give a path relative to the workspace root.", field
        )
    # Printable ASCII has no control, invisible, compatibility or look-alike characters:
    # the per-character Unicode checks below are for everything else.
    plain = path.isascii() and path.isprintable()
    for ch in () if plain else path:
        if ch == "\x00" or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise PolicyError(
                PATH_INVALID, f"`{field}` contains a control or invisible character ({ch!r}).", field
            )
    if "\\" in path:
        raise PolicyError(PATH_INVALID, f"`{field}` contains a backslash; use forward slashes.", field)
    if not plain and unicodedata.normalize("NFKC", path) != path:
        raise PolicyError(
            PATH_INVALID,
            f"`{field}` contains look-alike or compatibility characters; "
            f"use the plain form {unicodedata.normalize('NFKC', path)!r} if that is what you mean.",
            field,
        )
    if not plain and any(ch in SLASH_LOOKALIKES for ch in path):
        raise PolicyError(
            PATH_INVALID, f"`{field}` contains a character that looks like a slash; use `/`.", field
        )
    if path.startswith("/"):
        raise PolicyError(
            PATH_OUTSIDE_WORKSPACE, f"`{field}` is absolute; paths are relative to the workspace root.", field
        )
    if path.startswith("~"):
        raise PolicyError(
            PATH_OUTSIDE_WORKSPACE, f"`{field}` starts with `~`; home directories are out of reach.", field
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        raise PolicyError(PATH_INVALID, f"`{field}` names the workspace root, not a file.", field)
    if ".." in parts:
        raise PolicyError(
            PATH_OUTSIDE_WORKSPACE, f"`{field}` contains `..`; it may not leave the workspace.", field
        )
    for part in parts:
        if part in FORBIDDEN_COMPONENTS:
            raise PolicyError(PATH_FORBIDDEN, f"`{field}` is inside `{part}/`, which is off limits.", field)
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
            raise PolicyError(
                PATH_INVALID, f"`{field}` has a name longer than {MAX_COMPONENT_BYTES} bytes.", field
            )
    if len(parts) > MAX_DEPTH:
        raise PolicyError(PATH_INVALID, f"`{field}` is nested deeper than {MAX_DEPTH} directories.", field)
    canonical = "/".join(parts)
    if len(canonical.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise PolicyError(PATH_INVALID, f"`{field}` is longer than {MAX_PATH_BYTES} bytes.", field)
    return canonical


def normalize_prefix(prefix: object, *, field: str = "path_prefix") -> str:
    """Like `normalize`, but empty or `.` means the whole workspace (returns "")."""
    if prefix is None or (isinstance(prefix, str) and prefix.strip() in ("", ".", "./")):
        return ""
    return normalize(prefix, field=field)


@dataclass(frozen=True)
class Resolved:
    rel: str  # canonical relative path
    path: Path  # absolute path under the root (not symlink-resolved)


def resolve(
    root: str | os.PathLike, path: object, *, field: str = "path", must_exist: bool = False
) -> Resolved:
    """Resolve a workspace path, refusing anything that leaves the root.

    Every existing component is checked: a symlink anywhere on the way is followed and
    must stay inside the root; a dangling or escaping link is refused. Missing trailing
    components are allowed unless `must_exist`.
    """
    rel = normalize(path, field=field)
    root_path = Path(root)
    real_root = Path(os.path.realpath(root_path))
    current = root_path
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            if must_exist:
                raise PolicyError(FILE_NOT_FOUND, f"`{rel}` does not exist in the workspace.", field)
            break
        except NotADirectoryError:
            raise PolicyError(PATH_INVALID, f"`{rel}` goes through a file as if it were a directory.", field)
        if stat.S_ISLNK(st.st_mode):
            target = Path(os.path.realpath(current))
            if not _is_within(target, real_root):
                raise PolicyError(
                    PATH_OUTSIDE_WORKSPACE,
                    f"`{rel}` goes through a symbolic link that leaves the workspace.",
                    field,
                )
            if not target.exists():
                raise PolicyError(
                    PATH_OUTSIDE_WORKSPACE, f"`{rel}` goes through a dangling symbolic link.", field
                )
            if any(p in FORBIDDEN_COMPONENTS for p in target.relative_to(real_root).parts):
                raise PolicyError(
                    PATH_FORBIDDEN, f"`{rel}` links into a directory that is off limits.", field
                )
        elif i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            raise PolicyError(PATH_INVALID, f"`{rel}` goes through a file as if it were a directory.", field)
    return Resolved(rel=rel, path=root_path / rel)


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def require_file(resolved: Resolved, *, field: str = "path", max_bytes: int | None = None) -> os.stat_result:
    """The path must be an existing regular file within the size limit."""
    try:
        st = os.stat(resolved.path)
    except FileNotFoundError:
        raise PolicyError(FILE_NOT_FOUND, f"`{resolved.rel}` does not exist in the workspace.", field)
    if not stat.S_ISREG(st.st_mode):
        raise PolicyError(
            NOT_A_FILE, f"`{resolved.rel}` is a directory or special file, not a regular file.", field
        )
    limit = _max_file_bytes() if max_bytes is None else max_bytes
    if st.st_size > limit:
        raise PolicyError(
            FILE_TOO_LARGE, f"`{resolved.rel}` is {st.st_size} bytes, over the {limit}-byte limit.", field
        )
    return st


def check_size(size: int, *, rel: str, field: str = "content") -> None:
    limit = _max_file_bytes()
    if size > limit:
        raise PolicyError(
            FILE_TOO_LARGE, f"`{rel}` would be {size} bytes, over the {limit}-byte limit.", field
        )


def is_binary(data: bytes) -> bool:
    """Binary = a NUL byte in the first 8 KiB, or bytes that are not UTF-8 text."""
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def read_text(resolved: Resolved, *, field: str = "path") -> tuple[bytes, str]:
    """Read a workspace text file: (raw bytes, decoded text), or a structured refusal."""
    require_file(resolved, field=field)
    data = resolved.path.read_bytes()
    if is_binary(data):
        raise PolicyError(
            FILE_BINARY, f"`{resolved.rel}` is a binary file; only text files can be read or edited.", field
        )
    return data, data.decode("utf-8")
