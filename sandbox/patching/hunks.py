"""Applying one file's hunks to its text, in memory.

Each function returns the new text, a report per placed hunk and a failure per hunk
that did not fit (with refresh windows). Hunks are placed on the original lines and
the output is assembled once with a join, so the cost is linear in the file size.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from sandbox.patching.match import (
    EXACT,
    OFFSET,
    UNICODE,
    WHITESPACE,
    FuzzySearch,
    best_partial_match,
    describe_difference,
    first_difference,
    split_endings,
    split_keepends,
    window,
)
from sandbox.patching.model import AMBIGUOUS_CONTEXT, CONTEXT, CONTEXT_MISMATCH, INSERT, REMOVE, Hunk
from sandbox.patching.textsearch import Ambiguous, TextSearch

_RANK = {EXACT: 0, OFFSET: 0, WHITESPACE: 1, UNICODE: 2}
_REFRESH_HINT = "Re-read the current lines (see refresh_windows) and rebuild the hunk from them."
# Reads and refresh windows show lines without their `\r`, so a re-read cannot fix a hunk
# whose lines differ from the file's only in their endings: say what does.
_CRLF_FILE_HINT = (
    "The hunk matches except for its line endings: `{path}` ends these lines with CRLF "
    "(\\r\\n), which reads and refresh_windows do not show. End every line of the hunk "
    "(context, removed and added) with \\r\\n as the file does, or send the change in the "
    "`*** Begin Patch` format, which matches lines whatever their endings and keeps the file's."
)
_CRLF_HUNK_HINT = (
    "The hunk matches except for its line endings: its lines end with CRLF (\\r\\n) but "
    "`{path}` uses LF (\\n) there. Send the hunk with \\n line endings, or use the "
    "`*** Begin Patch` format, which matches lines whatever their endings."
)


class Budget:
    """Failure reporting limits for one patch. The first failed hunks get full
    diagnostics (closest match, already-applied search, refresh window), later ones a
    short message, and once a patch has clearly failed the rest is not searched: each
    diagnosis may scan the whole file."""

    DETAILED = 8
    MAX = 40

    def __init__(self):
        self.failures = 0

    @property
    def detailed(self) -> bool:
        return self.failures < self.DETAILED

    @property
    def exhausted(self) -> bool:
        return self.failures >= self.MAX


@dataclass
class HunkOutcome:
    text: str | None = None  # codex result; None when any chunk failed
    pieces: list[bytes] | None = None  # unified result, to be joined or written; None on failure
    truncated: bool = False  # stopped before the last hunk: the failure budget ran out
    reports: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    windows: list[dict] = field(default_factory=list)


def failure(path: str, hunk: int | None, code: str, message: str, **extra) -> dict:
    return {"path": path, "hunk": hunk, "code": code, "message": message, "already_applied": False, **extra}


# -- unified -----------------------------------------------------------------------


def apply_unified(data: bytes, hunks: list[Hunk], path: str, budget: Budget) -> HunkOutcome:
    """Place every hunk on the file's bytes (validated UTF-8) and build the new bytes.

    Working on bytes spares decoding and re-encoding the whole file; only the hunks'
    blocks are encoded, and the file is decoded only to explain a failure.
    """
    out = HunkOutcome()
    search = TextSearch(data)
    n = search.nlines
    # A file whose hunks carry no context at all was written with -U0: positions come
    # from the line numbers only, so hunks are not anchored to the file's ends.
    zero_context = not any(h.opens_with_context or h.closes_with_context for h in hunks)
    claimed: list[tuple[int, int]] = []
    placed: list[tuple[int, int, int, int, int, str]] = []
    lines: list[str] | None = None  # split only to explain a failure
    for order, hunk in enumerate(hunks):
        if budget.exhausted:
            out.truncated = True
            break
        block, k = hunk.old_block.encode("utf-8"), hunk.old_count  # the parser checked the count
        stated = hunk.old_start if hunk.old_count == 0 else hunk.old_start - 1
        if zero_context or k == 0:
            # Nothing to match: the line numbers alone say where (git --unidiff-zero).
            at_start, at_end = hunk.old_start == 0, False
        else:
            at_start = hunk.old_start == 0 or (hunk.old_start == 1 and not hunk.opens_with_context)
            at_end = not hunk.closes_with_context

        def free(c: int, k: int = k) -> bool:
            return _free(claimed, c, c + k)

        try:
            if at_start or at_end:
                c = 0 if at_start else n - k
                if (at_start and at_end and n != k) or not search.matches_at(c, block) or not free(c):
                    c = None
            elif k == 0:
                c = stated if 0 <= stated <= n and free(stated) else None
            else:
                c = search.nearest(block, k, stated, free)
        except Ambiguous as amb:
            lines = lines if lines is not None else split_keepends(data.decode("utf-8"))
            _ambiguous(out, path, hunk, lines, amb.positions, stated)
            budget.failures += 1
            continue
        if c is None:
            if budget.detailed:
                lines = lines if lines is not None else split_keepends(data.decode("utf-8"))
                _unified_mismatch(out, path, hunk, lines, search, stated, at_start, at_end, claimed)
            else:
                out.failures.append(_brief(path, hunk, f"its stated line {stated + 1}"))
            budget.failures += 1
            continue
        bisect.insort(claimed, (c, c + k))
        start = search.offset(c)
        placed.append((c, c + k, order, start, start + len(block), hunk.new_block.encode("utf-8")))
        out.reports.append(
            {
                "path": path,
                "hunk": hunk.index,
                "match": EXACT if c == stated else OFFSET,
                "offset": c - stated,
                "line": c + 1,
            }
        )
    if out.failures:
        return out
    pieces: list[bytes] = []
    prev = 0
    placed.sort()
    for _start, _end, order, start, end, new in placed:
        if start > prev:
            pieces.append(data[prev:start])
        if new:
            if pieces and not pieces[-1].endswith(b"\n"):
                return _no_newline_conflict(out, path, hunks[order])
            pieces.append(new)
        prev = end
    if prev < len(data):
        if pieces and not pieces[-1].endswith(b"\n"):
            return _no_newline_conflict(out, path, hunks[placed[-1][2]])
        pieces.append(data[prev:])
    out.pieces = pieces
    return out


def _free(claimed: list[tuple[int, int]], c: int, d: int) -> bool:
    """True if [c, d) overlaps no placed hunk; empty ranges are insertion points."""
    i = bisect.bisect_left(claimed, (c, -1))
    if i > 0 and claimed[i - 1][1] > c:
        return False
    while i < len(claimed) and claimed[i] == (c, c):
        i += 1  # an insertion exactly where this range starts goes before it
    return not (i < len(claimed) and claimed[i][0] < d)


def _unified_mismatch(out, path, hunk, lines, search, stated, at_start, at_end, claimed) -> None:
    old, new = hunk.old_lines, hunk.new_lines
    head = f"Hunk {hunk.index} of `{path}` (`{hunk.header}`) does not apply"
    found_at = search.nearest_any(hunk.old_block.encode("utf-8"), len(old), stated) if old else None
    best = found_at if found_at is not None else (best_partial_match(lines, old, stated) if old else None)
    at = best if best is not None else stated
    if found_at is not None and not _free(claimed, found_at, found_at + len(old)):
        why = (
            f": its lines match at line {found_at + 1}, but that range overlaps an earlier hunk of "
            "this patch. Hunks may not overlap; merge them into one hunk."
        )
    elif found_at is not None and at_start:
        why = (
            f": it has no leading context and starts at line {hunk.old_start}, so it must apply at the "
            f"start of the file, but its lines are at line {found_at + 1}. Add the lines above it as context."
        )
    elif found_at is not None and at_end:
        why = (
            f": it has no trailing context, so it must apply at the end of the file, but its lines "
            f"end at line {found_at + len(old)} of {len(lines)}. Add the lines below it as context."
        )
    elif not old and stated > len(lines):
        why = f": it inserts after line {stated}, but the file has only {len(lines)} lines."
    else:
        diff = first_difference(lines, old, at) if old else None
        if diff is not None:
            j, expected, actual = diff
            where = "near its stated line" if best is None else "at its closest match"
            why = f": {where}, line {at + j + 1} {describe_difference(expected, actual)}."
        elif at_start or at_end:
            why = f": the file has {len(lines)} lines, which does not fit the hunk's anchoring."
        else:
            why = "."
    applied = (
        bool(new)
        and new != old
        and search.nearest_any(hunk.new_block.encode("utf-8"), len(new), stated) is not None
    )
    hint = _REFRESH_HINT
    if found_at is None and old:
        hint = {"file": _CRLF_FILE_HINT, "hunk": _CRLF_HUNK_HINT}.get(_crlf_side(lines, old, at), hint)
    _report_mismatch(
        out,
        path,
        hunk,
        head + why,
        applied,
        lines,
        at,
        len(old),
        best,
        unit="hunk",
        seek="stated_line",
        hint=hint.format(path=path),
    )


def _crlf_side(lines: list[str], old: list[str], at: int) -> str | None:
    """Which side has the CRLF when the file's lines at `at` are the hunk's old lines but
    for some line endings: "file" (the file has \\r\\n, the hunk \\n), "hunk" (the
    reverse), or None for any other difference."""
    current = lines[at : at + len(old)] if at >= 0 else []
    if len(current) != len(old):
        return None
    sides = set()
    for have, want in zip(current, old, strict=True):
        if have == want:
            continue
        if have.endswith("\r\n") and want.endswith("\n") and have[:-2] == want[:-1]:
            sides.add("file")
        elif want.endswith("\r\n") and have.endswith("\n") and want[:-2] == have[:-1]:
            sides.add("hunk")
        else:
            return None
    return sides.pop() if len(sides) == 1 else None


def _ambiguous(out, path, hunk, lines, positions, stated) -> None:
    a, b = positions
    out.failures.append(
        failure(
            path,
            hunk.index,
            AMBIGUOUS_CONTEXT,
            f"Hunk {hunk.index} of `{path}` (`{hunk.header}`) matches at line {a + 1} and at line {b + 1}, "
            f"equally far from its stated line {stated + 1}; refusing to guess. Fix the line numbers or "
            "add context lines that exist at only one of the two places.",
            candidates=[a + 1, b + 1],
        )
    )
    for c in positions:
        out.windows.append(
            window(lines, c, len(hunk.old_lines), path=path, hunk=hunk.index, reason="candidate")
        )


def _brief(path: str, hunk: Hunk, where: str) -> dict:
    return failure(
        path,
        hunk.index,
        CONTEXT_MISMATCH,
        f"Hunk {hunk.index} of `{path}` does not match the file near {where} (not analysed further: "
        "fix the failures reported first and retry).",
    )


def _no_newline_conflict(out: HunkOutcome, path: str, hunk: Hunk) -> HunkOutcome:
    out.failures.append(
        failure(
            path,
            hunk.index,
            CONTEXT_MISMATCH,
            f"Hunk {hunk.index} of `{path}` leaves a line without a final newline where more lines follow; "
            "check its `\\ No newline at end of file` marker.",
        )
    )
    out.text = out.pieces = None
    return out


# -- codex -------------------------------------------------------------------------


def apply_codex(text: str, hunks: list[Hunk], path: str, budget: Budget) -> HunkOutcome:
    out = HunkOutcome()
    texts, endings = split_endings(text)
    n = len(texts)
    # New lines take the file's first line ending; SPEC §1.3 (newest upstream).
    eol = endings[0] if endings and endings[0] else "\n"
    raw = [t + e for t, e in zip(texts, endings, strict=True)]
    if raw and not endings[-1]:
        raw[-1] += eol  # an updated file always ends with a newline
    search = FuzzySearch(texts)
    cursor = 0
    placed: list[tuple[int, int, int, list[tuple[str, str]]]] = []
    claimed: list[tuple[int, int]] = []
    for order, hunk in enumerate(hunks):
        if budget.exhausted:
            out.truncated = True
            break
        how = EXACT
        if hunk.anchor is not None:
            found = search.seek([hunk.anchor], cursor, False)
            if found is None:
                _codex_mismatch(out, path, hunk, raw, texts, [hunk.anchor], cursor, budget, anchor=True)
                continue
            cursor, how = found[0] + 1, found[1]
        ops = hunk.lines
        old = [t for kind, t in ops if kind != INSERT]
        if not old:
            # Upstream appends a chunk without old lines at the end of the file.
            placed.append((n, n, order, ops))
            out.reports.append(
                {"path": path, "hunk": hunk.index, "match": how, "offset": None, "line": n + 1}
            )
            continue
        found = search.seek(old, cursor, hunk.eof)
        if found is None and old[-1] == "":
            ops = _drop_trailing_empty(ops)
            old = [t for kind, t in ops if kind != INSERT]
            found = search.seek(old, cursor, hunk.eof)
        if found is None:
            _codex_mismatch(out, path, hunk, raw, texts, old, cursor, budget)
            continue
        c, kind = found
        if not _free(claimed, c, c + len(old)):
            budget.failures += 1
            out.failures.append(
                failure(
                    path,
                    hunk.index,
                    CONTEXT_MISMATCH,
                    f"Chunk {hunk.index} of `{path}` matches at line {c + 1}, inside a range an earlier "
                    "chunk already changes; merge the two chunks.",
                )
            )
            out.windows.append(window(raw, c, len(old), path=path, hunk=hunk.index, reason="best_match"))
            continue
        bisect.insort(claimed, (c, c + len(old)))
        placed.append((c, c + len(old), order, ops))
        cursor = c + len(old)
        how = max(how, kind, key=_RANK.__getitem__)
        out.reports.append({"path": path, "hunk": hunk.index, "match": how, "offset": None, "line": c + 1})
    if out.failures:
        return out
    pieces: list[str] = []
    prev = 0
    placed.sort(key=lambda p: (p[0], p[1], p[2]))
    for start, end, _order, ops in placed:
        pieces.extend(raw[prev:start])
        j = start
        for kind, line in ops:
            if kind == CONTEXT:
                pieces.append(raw[j])  # context keeps the file's own bytes
                j += 1
            elif kind == REMOVE:
                j += 1
            else:
                pieces.append(line + eol)
        prev = end
    pieces.extend(raw[prev:])
    out.text = "".join(pieces)
    return out


def _drop_trailing_empty(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream's retry: drop a trailing empty old line (and a trailing empty new line)."""
    ops = list(ops)
    old_at = max(i for i, (kind, _) in enumerate(ops) if kind != INSERT)
    new_idx = [i for i, (kind, _) in enumerate(ops) if kind != REMOVE]
    new_at = new_idx[-1] if new_idx and ops[new_idx[-1]][1] == "" else None
    for i in sorted({old_at, new_at} - {None}, reverse=True):
        kind, line = ops[i]
        drop_old, drop_new = i == old_at, i == new_at
        if kind == CONTEXT and drop_old and not drop_new:
            ops[i] = (INSERT, line)
        elif kind == CONTEXT and drop_new and not drop_old:
            ops[i] = (REMOVE, line)
        else:
            del ops[i]
    return ops


def _codex_mismatch(out, path, hunk, raw, texts, old, cursor, budget, anchor=False) -> None:
    detailed = budget.detailed
    budget.failures += 1
    if not detailed:
        out.failures.append(_brief(path, hunk, f"line {cursor + 1} or later"))
        return
    best = best_partial_match(texts, old, cursor)
    at = best if best is not None else cursor
    if anchor:
        message = f"Failed to find context '{hunk.anchor}' in {path} (chunk {hunk.index}, `@@` line)."
    else:
        shown = "\n".join(old[:20]) + ("\n..." if len(old) > 20 else "")
        message = f"Failed to find expected lines in {path} (chunk {hunk.index}):\n{shown}\n"
        if hunk.eof:
            message += "The chunk is marked `*** End of File`, so these lines must be the file's last lines. "
        if best is not None:
            diff = first_difference(texts, old, best)
            if diff is not None:
                j, expected, actual = diff
                message += f"Closest match: line {best + j + 1} {describe_difference(expected, actual)}. "
        if cursor:
            message += f"Chunks apply in file order; this one was searched from line {cursor + 1}. "
    new = hunk.new_lines
    applied = bool(new) and new != hunk.old_lines and FuzzySearch(texts).seek(new, 0, False) is not None
    _report_mismatch(out, path, hunk, message, applied, raw, at, len(old), best, unit="chunk", seek="cursor")


def _report_mismatch(
    out,
    path,
    hunk,
    message,
    applied,
    lines,
    at,
    length,
    best,
    *,
    unit: str,
    seek: str,
    hint: str = _REFRESH_HINT,
) -> None:
    """A context mismatch: the failure (saying whether it looks already applied) and the
    current text around where the hunk was expected, for the model to patch again."""
    if applied:
        message += f" Its new lines are already in the file: this {unit} looks already applied; drop it."
    else:
        message += " " + hint
    out.failures.append(failure(path, hunk.index, CONTEXT_MISMATCH, message, already_applied=applied))
    reason = "best_match" if best is not None else seek
    out.windows.append(window(lines, at, length, path=path, hunk=hunk.index, reason=reason))
