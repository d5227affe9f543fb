"""Parser for unified diffs as `git diff`, `git format-patch` and `diff -ruN` write them.

Text outside file sections (mail headers, commit messages, diffstats, `Index:` lines)
is skipped, as git does. Hunk bodies are strict: the header's line counts must agree
with the body, and every body line starts with ` `, `-`, `+` or `\\`. Lines keep their
terminator (`\\n`, or none after a `\\ No newline at end of file` marker) and any `\\r`,
because the applier matches bytes exactly.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from itertools import compress

from sandbox.patching.model import (
    ADD,
    CONTEXT,
    DELETE,
    INSERT,
    REMOVE,
    UNIFIED,
    UPDATE,
    FileOp,
    Hunk,
    PatchSyntaxError,
)

_HUNK_RE = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NOT_BODY = re.compile(r"[^ +-]")
_ON_OLD_SIDE = bytes.maketrans(b" -+", b"\x01\x01\x00")
_ON_NEW_SIDE = bytes.maketrans(b" -+", b"\x01\x00\x01")
_BINARY_RE = re.compile(r"Binary files (.+) and (.+) differ$")
_TIMESTAMP_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.\d+)?(?: ?([+-])(\d\d)(\d\d))?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
DEV_NULL = "/dev/null"


def parse_unified(text: str) -> list[FileOp]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    ops: list[FileOp] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line.startswith("diff --git "):
            i = _parse_git_section(lines, i, ops)
        elif line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "):
            i = _parse_traditional_section(lines, i, ops)
        elif line.startswith("Binary files ") and _BINARY_RE.match(line.rstrip("\r")):
            # `diff -r` output for a binary file, outside any git header
            m = _BINARY_RE.match(line.rstrip("\r"))
            old, new = _strip_prefix(m[1]), _strip_prefix(m[2])
            ops.append(FileOp(UPDATE, new or old or m[2], binary=True, patch_line=i + 1))
            i += 1
        else:
            i += 1
    if not ops:
        raise PatchSyntaxError(
            "No diff found in the patch: expected `diff --git a/PATH b/PATH` or `--- a/PATH` / "
            "`+++ b/PATH` file headers followed by `@@ -start,count +start,count @@` hunks."
        )
    return ops


def _parse_git_section(lines: list[str], i: int, ops: list[FileOp]) -> int:
    start = i
    git_old, git_new = _git_header_names(lines[i][len("diff --git ") :].rstrip("\r"))
    op = FileOp(UPDATE, git_new or git_old or "", patch_line=i + 1)
    rename_from = rename_to = copy_from = copy_to = None
    minus = plus = None  # names from ---/+++ (None when absent, DEV_NULL when /dev/null)
    i += 1
    n = len(lines)
    while i < n:
        line = lines[i].rstrip("\r")
        if line.startswith("old mode "):
            op.old_mode = line[9:].strip()
        elif line.startswith("new mode "):
            op.new_mode = line[9:].strip()
        elif line.startswith("deleted file mode "):
            op.kind, op.old_mode = DELETE, line[18:].strip()
        elif line.startswith("new file mode "):
            op.kind, op.new_mode = ADD, line[14:].strip()
        elif line.startswith(("rename from ", "rename old ")):
            rename_from = _plain_name(line[12:])
        elif line.startswith(("rename to ", "rename new ")):
            rename_to = _plain_name(line[line.index(" ", 7) + 1 :])
        elif line.startswith("copy from "):
            copy_from = _plain_name(line[10:])
        elif line.startswith("copy to "):
            copy_to = _plain_name(line[8:])
        elif line.startswith(("similarity index ", "dissimilarity index ", "index ")):
            pass
        elif line == "GIT binary patch" or _BINARY_RE.match(line):
            op.binary = True
            # skip the literal/delta data: base85 lines never start with "diff --git "
            i += 1
            while i < n and not lines[i].startswith("diff --git "):
                i += 1
            break
        elif line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "):
            minus = _diff_name(lines[i][4:])[0]
            plus = _diff_name(lines[i + 1][4:])[0]
            i += 2
            break
        else:
            break
        i += 1

    if rename_from is not None or rename_to is not None:
        if not (rename_from and rename_to):
            raise PatchSyntaxError("`rename from` without `rename to` (or the reverse).", line=start + 1)
        op.path, op.new_path = rename_from, rename_to
    elif copy_from is not None or copy_to is not None:
        if not (copy_from and copy_to):
            raise PatchSyntaxError("`copy from` without `copy to` (or the reverse).", line=start + 1)
        op.path, op.new_path, op.copy = copy_from, copy_to, True
    elif minus is not None:
        if minus == DEV_NULL:
            op.kind = ADD
        if plus == DEV_NULL:
            op.kind = DELETE
        op.written_path = plus if plus != DEV_NULL else minus
        op.path = _strip_prefix(op.written_path)
    elif git_old is None:
        raise PatchSyntaxError(
            f"cannot read the file names in {lines[start].rstrip()!r}; expected `diff --git a/PATH b/PATH`.",
            line=start + 1,
        )
    if not op.binary:
        i = _parse_hunks(lines, i, op)
        if not op.hunks and minus is not None:
            raise PatchSyntaxError(f"`{op.path}` has ---/+++ headers but no `@@` hunk.", line=start + 1)
    _check_op(op)
    ops.append(op)
    return i


def _parse_traditional_section(lines: list[str], i: int, ops: list[FileOp]) -> int:
    old_name, old_stamp = _diff_name(lines[i][4:])
    new_name, new_stamp = _diff_name(lines[i + 1][4:])
    old_null = old_name == DEV_NULL or _is_epoch(old_stamp)
    new_null = new_name == DEV_NULL or _is_epoch(new_stamp)
    old_path, new_path = _strip_prefix(old_name), _strip_prefix(new_name)
    if old_null and new_null:
        raise PatchSyntaxError("both sides of the file header are /dev/null.", line=i + 1)
    if old_null:
        op = FileOp(ADD, new_path, patch_line=i + 1, written_path=new_name)
    elif new_null:
        op = FileOp(DELETE, old_path, patch_line=i + 1, written_path=old_name)
    else:
        # `diff -u file.orig file`: like GNU patch, the shorter name is the file meant.
        path, written = min(((old_path, old_name), (new_path, new_name)), key=lambda p: _name_rank(p[0]))
        op = FileOp(UPDATE, path, patch_line=i + 1, written_path=written)
    i = _parse_hunks(lines, i + 2, op)
    if not op.hunks:
        raise PatchSyntaxError(
            f"`{op.path}` has ---/+++ headers but no hunk; expected `@@ -start,count +start,count @@`.",
            line=i + 1,
        )
    _check_op(op)
    ops.append(op)
    return i


def _name_rank(name: str) -> tuple[int, int, int]:
    return (name.count("/"), len(name.rsplit("/", 1)[-1]), len(name))


def _parse_hunks(lines: list[str], i: int, op: FileOp) -> int:
    while i < len(lines) and lines[i].startswith("@@"):
        hunk, i = _parse_hunk(lines, i, len(op.hunks) + 1, op.path)
        op.hunks.append(hunk)
    return i


def _parse_hunk(lines: list[str], i: int, index: int, path: str) -> tuple[Hunk, int]:
    header = lines[i].rstrip("\r")
    m = _HUNK_RE.match(header)
    if not m:
        raise PatchSyntaxError(
            f"line {i + 1}: `{header}` is not a unified hunk header; write "
            "`@@ -OLD_START,OLD_COUNT +NEW_START,NEW_COUNT @@` with the real line numbers.",
            line=i + 1,
            path=path,
        )
    old_start, new_start = int(m[1]), int(m[3])
    old_count = 1 if m[2] is None else int(m[2])
    new_count = 1 if m[4] is None else int(m[4])
    hunk = Hunk(index, [], header=header, patch_line=i + 1, old_start=old_start, old_count=old_count)
    hunk.new_start, hunk.new_count = new_start, new_count
    if old_count == 0 and new_count == 0:
        raise PatchSyntaxError(f"line {i + 1}: hunk {index} of `{path}` is empty.", line=i + 1, path=path)
    fast = _fast_body(hunk, lines, i + 1)
    if fast is not None:
        return _check_end(hunk, lines, fast, path)
    body = hunk.body
    append = body.append
    old_left, new_left = old_count, new_count
    marked: list[int] = []  # body indexes followed by `\ No newline at end of file`
    i += 1
    n = len(lines)
    # The hot loop of the parser: one branch per line kind, rare cases out of line.
    while True:
        if not (old_left or new_left):
            if i < n and lines[i][:1] == "\\":
                _mark_no_newline(body, marked, lines, i, path)
                i += 1
                continue
            break
        if i >= n:
            raise _count_error(hunk, path, old_left, new_left, i, "the patch ends")
        line = lines[i]
        kind = line[:1]
        if kind == CONTEXT or not kind:  # git reads an empty line as an empty context line
            if not (old_left and new_left):
                raise _count_error(
                    hunk, path, old_left, new_left, i, f"line {i + 1} `{line[:60]}` does not fit"
                )
            old_left -= 1
            new_left -= 1
            kind = CONTEXT
        elif kind == REMOVE:
            if not old_left:
                raise _count_error(
                    hunk, path, old_left, new_left, i, f"line {i + 1} `{line[:60]}` does not fit"
                )
            old_left -= 1
        elif kind == INSERT:
            if not new_left:
                raise _count_error(
                    hunk, path, old_left, new_left, i, f"line {i + 1} `{line[:60]}` does not fit"
                )
            new_left -= 1
        elif kind == "\\":
            _mark_no_newline(body, marked, lines, i, path)
            i += 1
            continue
        else:
            raise _count_error(
                hunk, path, old_left, new_left, i, f"line {i + 1} `{line[:60]}` is not a hunk line"
            )
        append((kind, line[1:] + "\n"))
        i += 1
    if marked:
        _check_no_newline_markers(hunk, marked, path)
    hunk.finish()
    return _check_end(hunk, lines, i, path)


def _fast_body(hunk: Hunk, lines: list[str], j: int) -> int | None:
    """Parse a well-formed body without inner markers in bulk; the index after it, or None.

    A body can reach at most old + new lines and ends before the first line that is
    not ` `/`-`/`+` (the next `@@`, `diff`, end of patch). If the counts agree there,
    that is the body, and its old and new blocks are joined straight from the patch
    lines without a (kind, text) tuple per line. Otherwise the line-by-line parser,
    which reports errors precisely, takes over.
    """
    old_count, new_count = hunk.old_count, hunk.new_count
    chunk = lines[j : j + old_count + new_count]
    kinds = "".join([line[:1] or " " for line in chunk])
    stop = _NOT_BODY.search(kinds)
    length = stop.start() if stop else len(kinds)
    context = kinds.count(" ", 0, length)
    if (
        kinds.count("-", 0, length) != old_count - context
        or kinds.count("+", 0, length) != new_count - context
    ):
        return None
    kinds = kinds[:length]
    texts = [line[1:] for line in chunk[:length]]
    flags = kinds.encode("ascii")  # one byte per line: which side(s) it belongs to, for compress
    old_block = "\n".join(compress(texts, flags.translate(_ON_OLD_SIDE))) + "\n"
    new_block = "\n".join(compress(texts, flags.translate(_ON_NEW_SIDE))) + "\n"
    if old_block == "\n" and kinds.count(INSERT) == length:
        old_block = ""
    if new_block == "\n" and kinds.count(REMOVE) == length:
        new_block = ""
    i = j + length
    if i < len(lines) and lines[i][:1] == "\\":  # `\ No newline at end of file`
        last = kinds[-1:]
        if last != INSERT:
            old_block = old_block[:-1]
        if last != REMOVE:
            new_block = new_block[:-1]
        i += 1
    hunk.from_blocks(kinds, old_block, new_block)
    return i


def _check_end(hunk: Hunk, lines: list[str], i: int, path: str) -> tuple[Hunk, int]:
    if i < len(lines) and _looks_like_hunk_line(lines, i):
        # git would ignore it; a body longer than its header almost always means a
        # miscounted hunk, and silently dropping its tail would apply half an edit.
        raise _count_error(hunk, path, 0, 0, i, f"line {i + 1} `{lines[i][:60]}` follows the counted body")
    return hunk, i


def _mark_no_newline(body: list, marked: list[int], lines: list[str], i: int, path: str) -> None:
    if not body:
        raise PatchSyntaxError(f"line {i + 1}: `{lines[i]}` before any hunk line.", line=i + 1, path=path)
    kind, text = body[-1]
    if text.endswith("\n"):
        body[-1] = (kind, text[:-1])
    marked.append(len(body) - 1)


def _check_no_newline_markers(hunk: Hunk, marked: list[int], path: str) -> None:
    """A marked line must be the last line of its side(s) of the hunk."""
    body = hunk.lines
    for j in marked:
        kind = body[j][0]
        for later_kind, _ in body[j + 1 :]:
            if (kind != INSERT and later_kind != INSERT) or (kind != REMOVE and later_kind != REMOVE):
                raise PatchSyntaxError(
                    f"hunk {hunk.index} of `{path}` continues after `\\ No newline at end of file`; "
                    "the marker may only follow the last line of a side.",
                    line=hunk.patch_line,
                    path=path,
                )


def _looks_like_hunk_line(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line[:1] not in (CONTEXT, REMOVE, INSERT):
        return False
    if line.rstrip("\r") == "-- ":  # format-patch signature separator
        return False
    # `--- ` directly followed by `+++ ` is the next file's header
    return not (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "))


def _count_error(hunk: Hunk, path: str, old_left: int, new_left: int, i: int, why: str) -> PatchSyntaxError:
    old_seen = sum(1 for k, _ in hunk.lines if k != INSERT)
    new_seen = sum(1 for k, _ in hunk.lines if k != REMOVE)
    return PatchSyntaxError(
        f"hunk {hunk.index} of `{path}` (`{hunk.header}`) is corrupt: {why}. The header counts "
        f"{hunk.old_count} old and {hunk.new_count} new lines; the body so far has {old_seen} old "
        f"(context + `-`) and {new_seen} new (context + `+`) lines. Fix the counts or the body.",
        line=i + 1,
        path=path,
    )


def _check_op(op: FileOp) -> None:
    for hunk in op.hunks:
        if op.kind == ADD and hunk.old_count:
            raise PatchSyntaxError(
                f"`{op.path}` is a new file but hunk {hunk.index} removes or keeps old lines.",
                line=hunk.patch_line,
                path=op.path,
            )
        if op.kind == DELETE and hunk.new_count:
            raise PatchSyntaxError(
                f"`{op.path}` is deleted but hunk {hunk.index} leaves lines in it.",
                line=hunk.patch_line,
                path=op.path,
            )


# -- names -------------------------------------------------------------------------


def _diff_name(rest: str) -> tuple[str, str]:
    """Name and timestamp from the text after `--- ` / `+++ `."""
    rest = rest.rstrip("\r")
    if rest.startswith('"'):
        name, after = _c_unquote(rest)
        return name, after.lstrip("\t ")
    name, _, stamp = rest.partition("\t")
    return name, stamp


def _plain_name(text: str) -> str:
    text = text.rstrip("\r")
    return _c_unquote(text)[0] if text.startswith('"') else text


def _strip_prefix(name: str) -> str:
    """git's -p1: drop the first component (`a/`, `b/`, `old/` ...)."""
    if name == DEV_NULL:
        return name
    head, sep, tail = name.partition("/")
    return tail if sep else name


def _git_header_names(rest: str) -> tuple[str | None, str | None]:
    """The two names of `diff --git A B`, prefixes stripped; (None, None) if unreadable."""
    try:
        if rest.startswith('"'):
            first, after = _c_unquote(rest)
            after = after.lstrip(" ")
            second = _c_unquote(after)[0] if after.startswith('"') else after
            return _strip_prefix(first), _strip_prefix(second)
        if ' "' in rest:
            first, _, quoted = rest.partition(' "')
            return _strip_prefix(first), _strip_prefix(_c_unquote('"' + quoted)[0])
    except PatchSyntaxError:
        return None, None
    # Unquoted names may hold spaces: the split is where both halves name the same file.
    pos = rest.find(" ")
    while pos != -1:
        a, b = _strip_prefix(rest[:pos]), _strip_prefix(rest[pos + 1 :])
        if a == b:
            return a, b
        pos = rest.find(" ", pos + 1)
    return None, None


def _c_unquote(text: str) -> tuple[str, str]:
    """Decode a C-quoted name (`"a/donn\\303\\251es"`); returns (name, text after it)."""
    out = bytearray()
    i, n = 1, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            try:
                return out.decode("utf-8"), text[i + 1 :]
            except UnicodeDecodeError:
                raise PatchSyntaxError(f"the quoted name {text[: i + 1]} is not UTF-8.")
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in "0123" and i + 3 < n and text[i + 1 : i + 4].isdigit():
                out.append(int(text[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
            if nxt in _C_ESCAPES:
                out.append(_C_ESCAPES[nxt])
                i += 2
                continue
            raise PatchSyntaxError(f"unknown escape `\\{nxt}` in the quoted name {text}.")
        out += ch.encode("utf-8")
        i += 1
    raise PatchSyntaxError(f"the quoted name {text} has no closing quote.")


def _is_epoch(stamp: str) -> bool:
    """`diff -N` dates a missing side at the epoch (in the writer's time zone)."""
    stamp = stamp.strip()
    if not stamp:
        return False
    m = _TIMESTAMP_RE.match(stamp)
    if m:
        try:
            when = datetime(*(int(m[k]) for k in range(1, 7)), tzinfo=UTC)
        except ValueError:
            return False
        if m[7]:
            offset = (int(m[8]) * 60 + int(m[9])) * 60
            when = when.timestamp() - (offset if m[7] == "+" else -offset)
            return when == 0
        return when == _EPOCH
    return stamp.endswith("Jan  1 00:00:00 1970")


__all__ = ["parse_unified", "UNIFIED"]
