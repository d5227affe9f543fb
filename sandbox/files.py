"""File operations behind the toolpack: read a line range, write, rename, delete.

Each operation takes the workspace root first and keyword arguments, resolves every path
through `sandbox.paths`, returns a JSON-serialisable dict and raises `PolicyError` for a
refusal the model can act on (the toolpack renders `error.as_dict()`).
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path

from sandbox.manifest import sha256_bytes
from sandbox.paths import (
    FILE_EXISTS,
    NOT_A_FILE,
    PATH_INVALID,
    PolicyError,
    Resolved,
    check_size,
    read_text,
    require_file,
    resolve,
)

INVALID_ARGUMENT = "INVALID_ARGUMENT"
LINE_OUT_OF_RANGE = "LINE_OUT_OF_RANGE"

DEFAULT_READ_BYTES = 24_000
MIN_READ_BYTES = 200
MAX_READ_BYTES = 200_000
MAX_CONTEXT_LINES = 1_000
NEW_FILE_MODE = 0o644
# Renaming or deleting an oversized file must still work: only reads are size-limited.
_NO_SIZE_LIMIT = sys.maxsize


def int_arg(
    value: object,
    field: str,
    *,
    default: int | None,
    minimum: int,
    maximum: int | None = None,
) -> int | None:
    """A whole-number argument: ints and numeric strings (models send both), clamped above."""
    if value is None:
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    if number is None or number < minimum:
        raise PolicyError(
            INVALID_ARGUMENT, f"`{field}` must be a whole number >= {minimum}, got {value!r}.", field
        )
    if maximum is not None and number > maximum:
        return maximum
    return number


def split_lines(text: str) -> list[str]:
    """Lines as an editor counts them, without their line endings.

    Only `\\n` ends a line (`str.splitlines` would also split on U+2028 and form feeds,
    which the patch engine does not), and a final newline does not start an empty line.
    """
    if text == "":
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def line_endings(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n")
    if crlf == 0:
        return "lf"
    return "crlf" if crlf == lf else "mixed"


def number_line(number: int, text: str, width: int) -> str:
    return f"{number:>{width}}| {text}"


def compact_json(value: object) -> str:
    """`value` as the compact JSON a tool result carries to the model."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def json_size(value: object) -> int:
    """UTF-8 bytes of `value` as compact JSON, as a tool result carries it to the model.

    Budgets count these bytes, not the file's: `"` and `\\` are sent as two bytes,
    control characters as up to six, and a line break between numbered lines as two.
    """
    return len(compact_json(value).encode("utf-8"))


def render_lines(lines: list[str], first: int, last: int, budget: int) -> tuple[str, int, bool]:
    """Numbered lines `first..last` (1-based) whose JSON string fits `budget` bytes.

    Returns (content, last line rendered, truncated); `json_size(content) <= budget`
    (for a budget of at least the clip marker), so what a result says it shows is what
    it carries. At least one line is rendered: a single line longer than the budget is
    clipped with a visible marker rather than returning nothing, so a minified file
    still shows its start.
    """
    width = len(str(last))
    out: list[str] = []
    used = 2  # the string's quotes
    for number in range(first, last + 1):
        row = number_line(number, lines[number - 1], width)
        cost = json_size(row) - 2 + (2 if out else 0)  # `\n` before every row but the first
        if used + cost > budget:
            if not out:
                return _clip_row(row, budget), number, True
            return "\n".join(out), number - 1, True
        out.append(row)
        used += cost
    return "\n".join(out), last, False


def _clip_row(row: str, budget: int) -> str:
    """The longest start of `row` that, with the marker, fits `budget` as a JSON string."""
    marker = " … [line clipped]"
    # Every character costs at least a byte, and cost grows with the prefix: bisect.
    low, high = 0, min(len(row), budget)
    while low < high:
        mid = (low + high + 1) // 2
        if json_size(row[:mid] + marker) <= budget:
            low = mid
        else:
            high = mid - 1
    return row[:low] + marker


def read_file_range(
    root: str | os.PathLike,
    *,
    path: object,
    start_line: object = None,
    end_line: object = None,
    context_lines: object = 0,
    max_bytes: object = DEFAULT_READ_BYTES,
) -> dict:
    """Read numbered lines of a text file.

    Result: `{path, start_line, end_line, total_lines, sha256, size, line_endings,
    content, truncated, next_start_line}`. `content` is one text block, one line per
    file line, each written `<number>| <text>` with numbers right-aligned; the file's
    text starts after the single space that follows `|`, and line endings are not
    shown (`line_endings` says lf, crlf or mixed). `start_line`/`end_line` are the lines
    actually returned (1-based, inclusive; both 0 for an empty file), widened by
    `context_lines` on each side. `end_line` past the end is clamped. `max_bytes` bounds
    `content` as a tool result sends it (`json_size`: escapes count), so content and
    `end_line` always agree. When the budget cuts the range short, `truncated` is true
    and `next_start_line` says where to continue; `sha256` is of the whole file, for
    `expected_sha256`.
    """
    resolved = resolve(root, path, must_exist=True)
    data, text = read_text(resolved)
    lines = split_lines(text)
    total = len(lines)
    start = int_arg(start_line, "start_line", default=1, minimum=1)
    end = int_arg(end_line, "end_line", default=None, minimum=1)
    context = int_arg(context_lines, "context_lines", default=0, minimum=0, maximum=MAX_CONTEXT_LINES)
    budget = int_arg(max_bytes, "max_bytes", default=DEFAULT_READ_BYTES, minimum=MIN_READ_BYTES)
    budget = min(budget, MAX_READ_BYTES)
    if end is not None and end < start:
        raise PolicyError(
            INVALID_ARGUMENT, f"`end_line` ({end}) is before `start_line` ({start}).", "end_line"
        )
    result = {
        "path": resolved.rel,
        "total_lines": total,
        "sha256": sha256_bytes(data),
        "size": len(data),
        "line_endings": line_endings(text),
    }
    if total == 0:
        if start > 1:
            raise PolicyError(
                LINE_OUT_OF_RANGE, f"`{resolved.rel}` is empty; there is no line {start}.", "start_line"
            )
        return {
            **result,
            "start_line": 0,
            "end_line": 0,
            "content": "",
            "truncated": False,
            "next_start_line": None,
        }
    if start > total:
        raise PolicyError(
            LINE_OUT_OF_RANGE,
            f"`start_line` {start} is past the end of `{resolved.rel}`, which has {total} lines.",
            "start_line",
        )
    end = total if end is None else min(end, total)
    first, last = max(1, start - context), min(total, end + context)
    content, shown, truncated = render_lines(lines, first, last, budget)
    return {
        **result,
        "start_line": first,
        "end_line": shown,
        "content": content,
        "truncated": truncated,
        "next_start_line": shown + 1 if truncated and shown < last else None,
    }


def write_file(root: str | os.PathLike, *, path: object, content: object) -> dict:
    """Create or replace a whole file (legacy tool).

    Result: `{path, change: added|modified, size, sha256, lines}`. The write is atomic
    (a temporary file in the same directory, then `os.replace`), so a reader never sees
    half a file; an existing file keeps its permission bits.
    """
    resolved = resolve(root, path)
    if not isinstance(content, str):
        raise PolicyError(INVALID_ARGUMENT, "`content` must be the file's full text.", "content")
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates would make the file unreadable as text
        raise PolicyError(
            INVALID_ARGUMENT, "`content` contains characters that are not valid text.", "content"
        )
    check_size(len(data), rel=resolved.rel)
    existing = _lstat(resolved.path)
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise PolicyError(NOT_A_FILE, f"`{resolved.rel}` exists and is not a regular file.", "path")
    _make_parents(resolved, "path")
    mode = stat.S_IMODE(existing.st_mode) if existing else NEW_FILE_MODE
    atomic_write(resolved.path, data, mode=mode)
    return {
        "path": resolved.rel,
        "change": "modified" if existing else "added",
        "size": len(data),
        "sha256": sha256_bytes(data),
        "lines": len(split_lines(content)),
    }


def rename_file(root: str | os.PathLike, *, from_path: object, to_path: object) -> dict:
    """Move one regular file; the destination must not exist. Parent directories are
    created as needed and directories left empty behind are removed.

    Result: `{path (the new path), from_path, to_path, change: "renamed", size, sha256,
    removed_dirs}`.
    """
    src = resolve(root, from_path, field="from_path", must_exist=True)
    st = _require_regular(src, "from_path")
    dst = resolve(root, to_path, field="to_path")
    if dst.rel == src.rel:
        raise PolicyError(INVALID_ARGUMENT, f"`to_path` is the same as `from_path` ({src.rel}).", "to_path")
    if os.path.lexists(dst.path):
        raise PolicyError(
            FILE_EXISTS, f"`{dst.rel}` already exists; delete it first or pick another name.", "to_path"
        )
    _make_parents(dst, "to_path")
    digest = sha256_bytes(src.path.read_bytes())
    try:
        # link + unlink never overwrites a file that appeared since the check above.
        os.link(src.path, dst.path)
    except FileExistsError:
        raise PolicyError(FILE_EXISTS, f"`{dst.rel}` already exists.", "to_path")
    except OSError:
        os.rename(src.path, dst.path)  # file systems without hard links
    else:
        os.unlink(src.path)
    return {
        "path": dst.rel,
        "from_path": src.rel,
        "to_path": dst.rel,
        "change": "renamed",
        "size": st.st_size,
        "sha256": digest,
        "removed_dirs": _prune_empty_dirs(root, src.rel),
    }


def delete_file(root: str | os.PathLike, *, path: object) -> dict:
    """Delete one regular file and the directories it leaves empty.

    Result: `{path, change: "deleted", size, sha256 (of the deleted content),
    removed_dirs}`.
    """
    resolved = resolve(root, path, must_exist=True)
    st = _require_regular(resolved, "path")
    digest = sha256_bytes(resolved.path.read_bytes())
    os.unlink(resolved.path)
    return {
        "path": resolved.rel,
        "change": "deleted",
        "size": st.st_size,
        "sha256": digest,
        "removed_dirs": _prune_empty_dirs(root, resolved.rel),
    }


def atomic_write(target: Path, data: bytes, *, mode: int = NEW_FILE_MODE) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _require_regular(resolved: Resolved, field: str) -> os.stat_result:
    """A regular file, not a directory and not a link (moving a relative link could make
    it point somewhere new, possibly outside the workspace)."""
    require_file(resolved, field=field, max_bytes=_NO_SIZE_LIMIT)
    st = os.lstat(resolved.path)
    if not stat.S_ISREG(st.st_mode):
        raise PolicyError(
            NOT_A_FILE, f"`{resolved.rel}` is a symbolic link; only regular files can be changed.", field
        )
    return st


def _make_parents(resolved: Resolved, field: str) -> None:
    try:
        resolved.path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise PolicyError(
            PATH_INVALID, f"`{resolved.rel}` goes through a file as if it were a directory.", field
        )


def _prune_empty_dirs(root: str | os.PathLike, rel: str) -> list[str]:
    """Remove the now-empty directories above `rel`, deepest first, never the root.

    Revisions hold files, not directories, so an empty directory would only linger in
    this workspace and disappear from the next one materialised from the revision.
    """
    removed = []
    parts = rel.split("/")[:-1]
    while parts:
        try:
            os.rmdir(os.path.join(root, *parts))
        except OSError:  # not empty, or a link: stop there
            break
        removed.append("/".join(parts))
        parts.pop()
    return removed
