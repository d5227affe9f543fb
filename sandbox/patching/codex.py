"""Parser for the `*** Begin Patch` format (openai/codex apply_patch), per SPEC §1.1.

Grammar quirks are kept on purpose because models are trained on them: header lines
are compared trimmed, `*** Move to:` only right after its Update header and untrimmed,
blank lines between chunks are skipped, an empty body line is an empty context line,
and only the first chunk of an Update may omit its `@@` line. Error texts follow the
upstream wording so a model recognises them.
"""

from __future__ import annotations

from sandbox.patching.model import (
    ADD,
    CODEX,
    CONTEXT,
    DELETE,
    INSERT,
    REMOVE,
    UPDATE,
    FileOp,
    Hunk,
    PatchSyntaxError,
)

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD_HEADER = "*** Add File: "
DELETE_HEADER = "*** Delete File: "
UPDATE_HEADER = "*** Update File: "
MOVE_HEADER = "*** Move to: "
EOF_MARKER = "*** End of File"
_HEREDOC_OPENERS = ("<<EOF", "<<'EOF'", '<<"EOF"')


def is_codex(text: str) -> bool:
    for line in text.split("\n", 64)[:64]:
        stripped = line.strip()
        if stripped == BEGIN:
            return True
        if stripped and stripped not in _HEREDOC_OPENERS:
            return False
    return False


def parse_codex(text: str) -> list[FileOp]:
    lines = _envelope(text)
    ops: list[FileOp] = []
    # `lines` excludes the Begin/End lines; line numbers count the Begin line as 1.
    i, n = 0, len(lines)
    while i < n:
        line = lines[i].strip()
        lineno = i + 2
        if line.startswith(ADD_HEADER):
            op = FileOp(ADD, line[len(ADD_HEADER) :], format=CODEX, patch_line=lineno)
            i += 1
            body = []
            while i < n and lines[i].startswith("+"):
                body.append(lines[i][1:] + "\n")
                i += 1
            op.content = "".join(body)
            ops.append(op)
        elif line.startswith(DELETE_HEADER):
            ops.append(FileOp(DELETE, line[len(DELETE_HEADER) :], format=CODEX, patch_line=lineno))
            i += 1
        elif line.startswith(UPDATE_HEADER):
            op = FileOp(UPDATE, line[len(UPDATE_HEADER) :], format=CODEX, patch_line=lineno)
            i += 1
            if i < n and lines[i].startswith(MOVE_HEADER):
                op.new_path = lines[i][len(MOVE_HEADER) :]
                i += 1
            i = _parse_chunks(lines, i, op)
            ops.append(op)
        elif not line:
            i += 1  # blank lines between file operations
        else:
            raise PatchSyntaxError(
                f"Invalid patch hunk on line {lineno}: '{line}' is not a valid hunk header. Valid hunk "
                "headers: '*** Add File: {path}', '*** Delete File: {path}', '*** Update File: {path}'",
                line=lineno,
            )
    if not ops:
        raise PatchSyntaxError("No files were modified: the patch holds no file operation.")
    return ops


def _envelope(text: str) -> list[str]:
    lines = [line[:-1] if line.endswith("\r") else line for line in text.strip().split("\n")]
    if _wrapped(lines):
        return lines[1:-1]
    # A heredoc the shell never expanded: `<<'EOF'` ... `EOF` around the patch.
    if len(lines) >= 4 and lines[0] in _HEREDOC_OPENERS and lines[-1].endswith("EOF"):
        inner = lines[1:-1]
        if _wrapped(inner):
            return inner[1:-1]
    if not lines or lines[0].strip() != BEGIN:
        raise PatchSyntaxError("Invalid patch: The first line of the patch must be '*** Begin Patch'", line=1)
    raise PatchSyntaxError(
        "Invalid patch: The last line of the patch must be '*** End Patch'", line=len(lines)
    )


def _wrapped(lines: list[str]) -> bool:
    return len(lines) >= 2 and lines[0].strip() == BEGIN and lines[-1].strip() == END


def _parse_chunks(lines: list[str], i: int, op: FileOp) -> int:
    n = len(lines)
    while i < n:
        raw = lines[i]
        if not raw.strip():
            i += 1  # blank lines between chunks
            continue
        if raw.startswith("*"):
            break  # next file operation
        lineno = i + 2
        anchor = None
        if raw == "@@" or raw.startswith("@@ "):
            anchor = raw[3:] if raw.startswith("@@ ") else None
            i += 1
        elif op.hunks:
            raise PatchSyntaxError(
                f"Invalid patch hunk on line {lineno}: Expected update hunk to start with a @@ "
                f"context marker, got: '{raw}'",
                line=lineno,
                path=op.path,
            )
        hunk = Hunk(len(op.hunks) + 1, [], header=raw if raw.startswith("@@") else "", anchor=anchor)
        hunk.patch_line = lineno
        i = _parse_body(lines, i, hunk, op.path)
        op.hunks.append(hunk.finish())
    if not op.hunks:
        raise PatchSyntaxError(
            f"Invalid patch hunk on line {op.patch_line}: Update file hunk for path '{op.path}' is empty",
            line=op.patch_line,
            path=op.path,
        )
    return i


def _parse_body(lines: list[str], i: int, hunk: Hunk, path: str) -> int:
    n = len(lines)
    first = i
    while i < n:
        line = lines[i]
        if line == EOF_MARKER:
            if i == first:
                break
            hunk.eof = True
            return i + 1
        kind = line[:1]
        if line == "":
            hunk.lines.append((CONTEXT, ""))
        elif kind in (CONTEXT, REMOVE, INSERT):
            hunk.lines.append((kind, line[1:]))
        elif i == first and line.startswith("*"):
            break  # `@@` followed directly by the next header: an empty chunk
        elif i == first:
            raise PatchSyntaxError(
                f"Invalid patch hunk on line {i + 2}: Unexpected line found in update hunk: '{line}'. "
                "Every line should start with ' ' (context line), '+' (added line), or '-' (removed line)",
                line=i + 2,
                path=path,
            )
        else:
            return i
        i += 1
    if not hunk.lines:
        raise PatchSyntaxError(
            f"Invalid patch hunk on line {hunk.patch_line}: Update hunk does not contain any lines",
            line=hunk.patch_line,
            path=path,
        )
    return i


__all__ = ["parse_codex", "is_codex", "CODEX"]
