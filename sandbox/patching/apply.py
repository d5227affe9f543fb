"""Apply a parsed patch to a workspace: every file in memory first, then all or nothing.

Operations run in patch order against an `Overlay`, so a later operation sees the
result of an earlier one. Any failure (a hunk that does not fit, a path outside the
workspace, a binary file, a stale `expected_sha256`) is collected, later operations on
the same file are skipped, and nothing at all is written. Only a patch with no failure
reaches `Overlay.commit`.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
from contextlib import contextmanager

from sandbox import manifest
from sandbox.patching.codex import is_codex, parse_codex
from sandbox.patching.hunks import Budget, apply_codex, apply_unified, failure
from sandbox.patching.model import (
    ADD,
    BINARY_UNSUPPORTED,
    CODEX,
    CONTEXT_MISMATCH,
    DELETE,
    FILE_EXISTS,
    FILE_NOT_FOUND,
    MALFORMED_PATCH,
    PATH_ESCAPE,
    UNIFIED,
    FileOp,
    PatchSyntaxError,
)
from sandbox.patching.result import PatchResult, failure_summary, success_summary, verification_plan
from sandbox.patching.unified import parse_unified
from sandbox.patching.workspace import NEW_FILE_MODE, Entry, OpFailure, Overlay

_SPECIAL_MODES = {"120000": "symbolic link", "160000": "submodule (gitlink)"}


_BEGIN_LINE = re.compile(r"^[ \t]*\*\*\* Begin Patch[ \t]*\r?$", re.M)
_UNIFIED_MARK = re.compile(r"^(?:diff --git |--- |\+\+\+ |@@ -\d)", re.M)
_DIGEST = re.compile(r"[0-9a-f]{64}")


def detect_format(text: str) -> str:
    """`codex` when the patch starts with `*** Begin Patch` (after blank lines or a
    heredoc opener), or has that line somewhere and nothing of a unified diff (a patch
    wrapped in prose or a code fence then gets the codex parser's precise error)."""
    if not isinstance(text, str):
        return UNIFIED
    if is_codex(text):
        return CODEX
    # The multi-line regex costs a pass of Python-level line starts over the whole text;
    # a plain substring search rules most patches out first.
    if "*** Begin Patch" in text and _BEGIN_LINE.search(text) and not _UNIFIED_MARK.search(text):
        return CODEX
    return UNIFIED


def parse_patch(text: str) -> list[FileOp]:
    """The file operations of a patch in either format; raises PatchSyntaxError."""
    return _parse(text, detect_format(text))


def _parse(text: str, fmt: str) -> list[FileOp]:
    return parse_codex(text) if fmt == CODEX else parse_unified(text)


def apply_patch(
    root: str | os.PathLike,
    patch_text: str,
    *,
    expected_sha256: dict | None = None,
    checks: dict | None = None,
    hash_cache: manifest.HashCache | None = None,
    dry_run: bool = False,
) -> PatchResult:
    with _gc_paused():
        return _apply(root, patch_text, expected_sha256, checks, hash_cache, dry_run)


@contextmanager
def _gc_paused():
    """Parsing and matching allocate small acyclic objects per patch line; the cyclic
    collector's passes over them made large patches cost more than linear time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _apply(root, patch_text, expected_sha256, checks, hash_cache, dry_run) -> PatchResult:
    if not isinstance(patch_text, str):
        return _refused(None, [failure(None, None, MALFORMED_PATCH, "The patch must be text.")], [])
    try:
        patch_text.encode("utf-8")
    except UnicodeEncodeError as err:
        message = f"The patch holds a character that is not valid Unicode text ({err.reason} at {err.start})."
        return _refused(None, [failure(None, None, MALFORMED_PATCH, message)], [])
    fmt = detect_format(patch_text)
    try:
        ops = _parse(patch_text, fmt)
    except PatchSyntaxError as err:
        message = (
            err.message if err.line is None or "line" in err.message else f"line {err.line}: {err.message}"
        )
        return _refused(fmt, [failure(err.path, None, MALFORMED_PATCH, message, line=err.line)], [])
    if not os.path.isdir(root):
        raise NotADirectoryError(f"workspace root {os.fspath(root)!r} is not a directory")

    with _Run(root) as run:
        run.check_expected(expected_sha256)
        for op in ops:
            run.apply(op)
        if run.failures:
            refused = _refused(fmt, run.failures, run.windows)
            if run.truncated:
                refused.summary += f" Checking stopped after {Budget.MAX} problems."
            return refused

        changes = run.overlay.changes()
        changed = run.changed_files(changes)
        keys = {} if dry_run else run.overlay.commit(changes)
        token = _token(root, changes, keys, hash_cache)
    touched = []
    for c in changed:
        touched.append(c["path"])
        if c.get("from_path"):
            touched.append(c["from_path"])
    return PatchResult(
        ok=True,
        format=fmt,
        changed_files=changed,
        hunks=run.reports,
        revision_token=token,
        verification_plan=verification_plan(checks, touched),
        summary=success_summary(changed, run.reports, dry_run),
        dry_run=dry_run,
    )


def _refused(fmt: str | None, failures: list[dict], windows: list[dict]) -> PatchResult:
    return PatchResult(
        ok=False, format=fmt, failures=failures, refresh_windows=windows, summary=failure_summary(failures)
    )


def _token(root, changes: dict, keys: dict, cache: manifest.HashCache | None) -> str:
    """The revision token of the workspace as the patch leaves it. Files the patch
    changed are described from memory, never read again: after a commit (`keys` holds
    their stat keys, which also go into the caller's cache) and for a dry run alike."""
    entries = {}
    for rel, entry in changes.items():
        if entry is None:
            entries[rel] = None
            continue
        digest = entry.sha256()
        entries[rel] = {"sha256": digest, "size": entry.size, "mode": manifest.file_mode(entry.mode)}
        if cache is not None and rel in keys:
            cache.remember(os.path.join(root, rel), keys[rel], digest)
    files = manifest.scan(root, cache, known=entries)
    for rel, entry in entries.items():
        if entry is None:
            files.pop(rel, None)
        else:
            files[rel] = entry
    return manifest.tree_hash(files)


def _with_mode(mode: int, git_mode: str | None) -> int:
    if git_mode == "100755":
        return mode | ((mode & 0o444) >> 2) | 0o100
    if git_mode == "100644":
        return mode & ~0o111
    return mode


def _count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class _Run:
    def __init__(self, root):
        self.overlay = Overlay(root)
        self.failures: list[dict] = []
        self.windows: list[dict] = []
        self.reports: list[dict] = []
        self.records: dict[str, dict] = {}
        self.poisoned: set[str] = set()
        self._checked: dict[str, str | OpFailure] = {}
        self.budget = Budget()
        self.truncated = False  # stopped checking after Budget.MAX failures

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *exc) -> None:
        self.overlay.release()

    def check(self, raw: str) -> str:
        hit = self._checked.get(raw)
        if hit is None:
            try:
                hit = self.overlay.check_path(raw)
            except OpFailure as err:
                hit = err
            self._checked[raw] = hit
        if isinstance(hit, OpFailure):
            raise hit
        return hit

    def check_expected(self, expected: dict | None) -> None:
        if expected is None:
            return
        if not isinstance(expected, dict):
            self.failures.append(
                failure(None, None, MALFORMED_PATCH, "expected_sha256 must map paths to sha256 hex digests.")
            )
            return
        for raw, want in expected.items():
            try:
                rel = self.check(raw)
                entry = self.overlay.get(rel)
            except OpFailure as err:
                self.failures.append(failure(err.path, None, err.code, err.message))
                continue
            if entry is None:
                self.failures.append(
                    failure(
                        rel, None, FILE_NOT_FOUND, f"expected_sha256 names `{rel}`, which does not exist."
                    )
                )
                continue
            current = hashlib.sha256(entry.data).hexdigest()
            wanted = want.strip().lower().removeprefix("sha256:") if isinstance(want, str) else None
            if wanted != current:
                self.poisoned.add(rel)
                code = CONTEXT_MISMATCH
                if wanted is not None and _DIGEST.fullmatch(wanted):
                    message = (
                        f"`{rel}` changed since it was read: expected sha256 {want!r}, but it is now "
                        f"{current}. Re-read the file and rebuild the patch against its current text."
                    )
                else:  # a value that no file could ever have: a malformed request, not a change
                    code = MALFORMED_PATCH
                    message = (
                        f"expected_sha256 gives {want!r} for `{rel}`, which is not a sha256 digest "
                        f"(64 hex digits). Pass the sha256 from your read of the file; it is now {current}."
                    )
                self.failures.append(failure(rel, None, code, message, current_sha256=current))

    def apply(self, op: FileOp) -> None:
        names = [op.path] + ([op.new_path] if op.new_path else [])
        if self.budget.exhausted:
            self.truncated = True
            return
        try:
            for name in names:
                if self.check(name) in self.poisoned:
                    return  # an earlier failure on this file already explains the refusal
            if op.format == CODEX:
                self._codex(op)
            else:
                self._unified(op)
        except OpFailure as err:
            self.failures.append(failure(err.path, None, err.code, err.message, **err.extra))
            self.budget.failures += 1
            self._poison(names)
        except OSError as err:
            self.failures.append(failure(op.path, None, FILE_NOT_FOUND, f"`{op.path}` cannot be read: {err}"))
            self._poison(names)

    def _poison(self, names: list[str]) -> None:
        for name in names:
            hit = self._checked.get(name)
            self.poisoned.add(hit if isinstance(hit, str) else name)

    def _hunk_failures(self, outcome, names) -> bool:
        self.truncated = self.truncated or outcome.truncated
        if not outcome.failures:
            return False
        self.failures.extend(outcome.failures)
        self.windows.extend(outcome.windows)
        self._poison(names)
        return True

    # -- unified --

    def _unified(self, op: FileOp) -> None:
        if op.binary:
            raise OpFailure(
                BINARY_UNSUPPORTED,
                f"`{op.path}`: binary diffs (`GIT binary patch`, `Binary files ... differ`) are not "
                "supported; only text files can be patched.",
                op.path,
            )
        for mode in (op.old_mode, op.new_mode):
            if mode in _SPECIAL_MODES:
                raise OpFailure(
                    PATH_ESCAPE,
                    f"`{op.target}`: a patch may not create or change a {_SPECIAL_MODES[mode]}.",
                    op.target,
                )
        src = self.check(op.path)
        dst = self.check(op.new_path) if op.new_path else src
        overlay = self.overlay
        if (op.kind == ADD or dst != src) and overlay.is_dir(dst):
            raise OpFailure(FILE_EXISTS, f"`{dst}` is a directory; a patch cannot turn it into a file.", dst)
        if op.kind == ADD:
            if overlay.exists(dst):
                existing = overlay.get(dst)
                planned = "".join(line for h in op.hunks for line in h.new_lines)
                same = existing is not None and existing.data == planned.encode("utf-8")
                raise OpFailure(
                    FILE_EXISTS,
                    f"`{dst}` already exists, but the patch creates it as a new file"
                    + (
                        " with exactly its current content: already applied."
                        if same
                        else "; write the change as a diff against its current content."
                    ),
                    dst,
                    already_applied=same,
                )
            data, mode = b"", _with_mode(NEW_FILE_MODE, op.new_mode or "100644")
        else:
            if dst != src and overlay.exists(dst):
                verb = "copy" if op.copy else "rename"
                raise OpFailure(
                    FILE_EXISTS, f"cannot {verb} `{src}` to `{dst}`: `{dst}` already exists.", dst
                )
            try:
                entry = self._require(src, deleting=op.kind == DELETE)
            except OpFailure as err:
                if err.code == FILE_NOT_FOUND:
                    err.message += self._prefix_hint(op)
                raise
            entry.check_text(src)
            data, mode = entry.data, _with_mode(entry.mode, op.new_mode)
        if op.hunks:
            outcome = apply_unified(data, op.hunks, src, self.budget)
            if self._hunk_failures(outcome, [src, dst]):
                return
            new = Entry(None, mode, pieces=outcome.pieces)
            self.reports.extend(outcome.reports)
        else:
            new = Entry(data, mode)
        adds, dels = op.counts()
        if op.kind == DELETE:
            if new.size:
                left = _count_lines(new.data)
                raise OpFailure(
                    CONTEXT_MISMATCH,
                    f"the patch deletes `{src}`, but the file holds more than the patch removes "
                    f"({left} line(s) would remain). Re-read the file; a deletion must list every line.",
                    src,
                )
            overlay.delete(src)
            self._record(src, adds=0, dels=dels)
            return
        overlay.put(dst, new)
        if dst != src and not op.copy:
            overlay.delete(src)
        self._record(dst, from_path=src if dst != src else None, copy=op.copy, adds=adds, dels=dels)

    def _prefix_hint(self, op: FileOp) -> str:
        """If the name as written (before git's -p1 strip) is a file, say so."""
        written = op.written_path
        if not written or written == op.path:
            return ""
        try:
            exists = self.overlay.exists(self.check(written))
        except OpFailure:
            return ""
        if not exists:
            return ""
        return (
            f" The patch names `{written}`; as with `git apply`, the first path component is "
            f"dropped (`a/`, `b/`). Write `--- a/{written}` and `+++ b/{written}`."
        )

    def _require(self, rel: str, *, deleting: bool = False) -> Entry:
        """The file to change or delete. A deletion is called already applied only when an
        earlier part of this patch removed the file; a file missing from the workspace may
        never have existed, and a directory is not a file at all."""
        try:
            return self.overlay.require(rel)
        except OpFailure as err:
            if deleting and err.code == FILE_NOT_FOUND:
                if self.overlay.is_dir(rel):
                    err.message += " A patch deletes files, not directories: delete each file in it."
                elif rel in self.overlay.state:
                    err.message += " It may already be deleted."
                    err.extra["already_applied"] = True
            raise

    # -- codex --

    def _codex(self, op: FileOp) -> None:
        overlay = self.overlay
        if op.kind == ADD:
            dst = self.check(op.path)
            if overlay.is_dir(dst):
                raise OpFailure(FILE_EXISTS, f"`{dst}` is a directory; Add File cannot replace it.", dst)
            existing = overlay.get(dst)  # upstream overwrites an existing file
            mode = existing.mode if existing is not None else NEW_FILE_MODE
            overlay.put(dst, Entry.from_text(op.content or "", mode))
            dels = _count_lines(existing.data) if existing is not None else 0
            self._record(dst, adds=(op.content or "").count("\n"), dels=dels)
            return
        src = self.check(op.path)
        if op.kind == DELETE:
            entry = self._require(src, deleting=True)
            overlay.delete(src)
            self._record(src, adds=0, dels=_count_lines(entry.data))
            return
        dst = self.check(op.new_path) if op.new_path else src
        entry = overlay.require(src)
        outcome = apply_codex(entry.text(src), op.hunks, src, self.budget)
        if self._hunk_failures(outcome, [src, dst]):
            return
        self.reports.extend(outcome.reports)
        if dst != src and overlay.is_dir(dst):
            raise OpFailure(FILE_EXISTS, f"`{dst}` is a directory; cannot move `{src}` onto it.", dst)
        overlay.put(dst, Entry.from_text(outcome.text, entry.mode))
        if dst != src:
            overlay.delete(src)
        adds, dels = op.counts()
        self._record(dst, from_path=src if dst != src else None, adds=adds, dels=dels)

    # -- reporting --

    def _record(
        self, path: str, *, adds: int, dels: int, from_path: str | None = None, copy: bool = False
    ) -> None:
        if from_path and not copy and from_path in self.records:
            earlier = self.records.pop(from_path)
            from_path = earlier["from_path"] or from_path
            adds += earlier["additions"]
            dels += earlier["deletions"]
        rec = self.records.get(path)
        if rec is None:
            self.records[path] = {"from_path": from_path, "copy": copy, "additions": adds, "deletions": dels}
        else:
            rec["additions"] += adds
            rec["deletions"] += dels
            if from_path:
                rec["from_path"], rec["copy"] = from_path, copy

    def changed_files(self, changes: dict) -> list[dict]:
        original, state = self.overlay.original, self.overlay.state
        out = []
        for path, rec in self.records.items():
            after = state.get(path)
            renamed = bool(rec["from_path"]) and not rec["copy"] and rec["from_path"] != path
            if renamed and after is not None:
                change = "renamed"
            elif after is None:
                if original.get(path) is None:
                    continue  # created and removed again within the patch
                change = "deleted"
            elif original.get(path) is None:
                change = "added"
            elif path in changes:
                change = "modified"
            else:
                continue
            out.append(
                {
                    "path": path,
                    "change": change,
                    "from_path": rec["from_path"] if change == "renamed" else None,
                    "additions": rec["additions"],
                    "deletions": rec["deletions"],
                }
            )
        return out
