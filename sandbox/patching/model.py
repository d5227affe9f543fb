"""The file-operation model both patch formats parse into.

A unified diff and a `*** Begin Patch` patch become the same list of `FileOp`s, so one
applier serves both. The differences that matter for matching stay explicit: unified
hunk lines keep their line terminator (strict byte matching, `\\ No newline` markers),
codex chunk lines are bare text (matched per SPEC §1.2, endings taken from the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

UNIFIED = "unified"
CODEX = "codex"

ADD = "add"
DELETE = "delete"
UPDATE = "update"

# Failure codes of the patch contract (DESIGN §4).
CONTEXT_MISMATCH = "context_mismatch"
AMBIGUOUS_CONTEXT = "ambiguous_context"
FILE_EXISTS = "file_exists"
FILE_NOT_FOUND = "file_not_found"
PATH_ESCAPE = "path_escape"
BINARY_UNSUPPORTED = "binary_unsupported"
MALFORMED_PATCH = "malformed_patch"

CONTEXT, REMOVE, INSERT = " ", "-", "+"


class PatchSyntaxError(Exception):
    """A patch text that cannot be parsed; `line` is 1-based in the patch text."""

    def __init__(self, message: str, *, line: int | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path


@dataclass
class Hunk:
    """One hunk (unified) or chunk (codex).

    `body` lists its lines as (CONTEXT | REMOVE | INSERT, text). The matcher only reads
    the derived blocks, so the unified parser may fill those directly from the patch
    text (`from_blocks`) and leave `body` to be rebuilt on demand.
    """

    index: int  # 1-based within its file operation
    body: list[tuple[str, str]] | None = field(default_factory=list)
    header: str = ""  # the hunk header as written, for messages
    patch_line: int = 0
    # unified: the header's numbers (old_start 0 means "before the first line")
    old_start: int = 0
    old_count: int = 0
    new_start: int = 0
    new_count: int = 0
    # codex: `@@ anchor` text and the `*** End of File` marker
    anchor: str | None = None
    eof: bool = False

    # Derived, filled by `finish()` / `from_blocks()` once the body is parsed.
    old_block: str = field(default="", init=False)  # old lines joined (unified: with terminators)
    new_block: str = field(default="", init=False)
    kinds: str = field(default="", init=False)  # one CONTEXT/REMOVE/INSERT char per line
    _old_lines: list[str] | None = field(default=None, init=False, repr=False)
    _new_lines: list[str] | None = field(default=None, init=False, repr=False)

    def finish(self) -> Hunk:
        body = self.body
        self._old_lines = [text for kind, text in body if kind != INSERT]
        self._new_lines = [text for kind, text in body if kind != REMOVE]
        self.old_block = "".join(self._old_lines)
        self.new_block = "".join(self._new_lines)
        self.kinds = "".join([kind for kind, _ in body])
        return self

    def from_blocks(self, kinds: str, old_block: str, new_block: str) -> Hunk:
        self.body = None
        self.kinds, self.old_block, self.new_block = kinds, old_block, new_block
        return self

    @property
    def lines(self) -> list[tuple[str, str]]:
        if self.body is None:
            old, new = iter(self.old_lines), iter(self.new_lines)
            body = []
            for kind in self.kinds:
                if kind == CONTEXT:
                    body.append((kind, next(old)))
                    next(new)
                else:
                    body.append((kind, next(old if kind == REMOVE else new)))
            self.body = body
        return self.body

    @property
    def old_lines(self) -> list[str]:
        if self._old_lines is None:
            self._old_lines = _keepends(self.old_block)
        return self._old_lines

    @property
    def new_lines(self) -> list[str]:
        if self._new_lines is None:
            self._new_lines = _keepends(self.new_block)
        return self._new_lines

    @property
    def opens_with_context(self) -> bool:
        return self.kinds[:1] == CONTEXT

    @property
    def closes_with_context(self) -> bool:
        return self.kinds[-1:] == CONTEXT


def _keepends(block: str) -> list[str]:
    parts = block.split("\n")
    last = parts.pop()
    out = [part + "\n" for part in parts]
    if last:
        out.append(last)
    return out


@dataclass
class FileOp:
    """One file's change. `path` is the file read (and, without `new_path`, written)."""

    kind: str  # ADD | DELETE | UPDATE
    path: str  # as named by the patch (prefix stripped), not yet policy-checked
    format: str = UNIFIED
    new_path: str | None = None  # rename / copy / codex "Move to" destination
    copy: bool = False  # unified "copy from/to": the source stays
    hunks: list[Hunk] = field(default_factory=list)
    content: str | None = None  # codex Add File: the whole new text
    old_mode: str | None = None
    new_mode: str | None = None
    binary: bool = False  # `GIT binary patch` / `Binary files ... differ`
    patch_line: int = 0
    written_path: str | None = None  # unified: the name before its first component was stripped

    def counts(self) -> tuple[int, int]:
        """Lines added and removed by the hunks."""
        kinds = "".join([hunk.kinds for hunk in self.hunks])
        return kinds.count(INSERT), kinds.count(REMOVE)

    @property
    def target(self) -> str:
        return self.new_path or self.path

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "path": self.path,
            "new_path": self.new_path,
            "copy": self.copy,
            "format": self.format,
            "hunks": len(self.hunks),
            "old_mode": self.old_mode,
            "new_mode": self.new_mode,
            "binary": self.binary,
        }
