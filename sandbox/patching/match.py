"""Finding where a hunk belongs, and describing why it does not fit.

Unified hunks are located by `textsearch.TextSearch` (byte-exact, nearest to the
stated line). `*** Begin Patch` chunks use SPEC §1.2's four passes from a cursor,
jumping between occurrences of the chunk's first line with `list.index` (C speed).
The rest is diagnostics: the best partial match and the refresh window.
"""

from __future__ import annotations

from collections.abc import Callable

EXACT, OFFSET, WHITESPACE, UNICODE = "exact", "offset", "whitespace", "unicode"
WINDOW_CONTEXT = 8
WINDOW_MAX_LINES = 60
_MAX_VOTES_PER_LINE = 200  # lines this common (`}`, blank) say nothing about position

_PUNCT = {
    **dict.fromkeys([0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212], "-"),
    **dict.fromkeys([0x2018, 0x2019, 0x201A, 0x201B], "'"),
    **dict.fromkeys([0x201C, 0x201D, 0x201E, 0x201F], '"'),
    **dict.fromkeys([0x00A0, *range(0x2002, 0x200B), 0x202F, 0x205F, 0x3000], " "),
}


def split_keepends(text: str) -> list[str]:
    """Lines with their `\\n` (only the last may lack it); `\\r` stays content."""
    if not text:
        return []
    # splitlines() also splits on \r, \v, \x1c, U+2028...; use it only when it is safe.
    lone_cr = "\r" in text and text.count("\r") != text.count("\r\n")
    if not lone_cr and not any(ch in text for ch in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        return text.splitlines(keepends=True)
    parts = text.split("\n")
    last = parts.pop()
    lines = [part + "\n" for part in parts]
    if last:
        lines.append(last)
    return lines


def split_endings(text: str) -> tuple[list[str], list[str]]:
    """(texts, endings) with endings `\\r\\n`, `\\n` or `` for an unterminated last line."""
    texts, endings = [], []
    if not text:
        return texts, endings
    parts = text.split("\n")
    last = parts.pop()
    for part in parts:
        if part.endswith("\r"):
            texts.append(part[:-1])
            endings.append("\r\n")
        else:
            texts.append(part)
            endings.append("\n")
    if last:
        texts.append(last)
        endings.append("")
    return texts, endings


# -- codex: SPEC §1.2 seek_sequence ------------------------------------------------


def _normalise(text: str) -> str:
    return text.strip().translate(_PUNCT)


_PASSES: list[tuple[str, Callable[[str], str] | None]] = [
    (EXACT, None),
    (WHITESPACE, str.rstrip),
    (WHITESPACE, str.strip),
    (UNICODE, _normalise),
]


class FuzzySearch:
    """Codex matching over bare line texts; normalised copies are built per pass on demand."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        self._forms: dict[int, list[str]] = {0: texts}

    def _form(self, pass_no: int) -> list[str]:
        form = self._forms.get(pass_no)
        if form is None:
            fn = _PASSES[pass_no][1]
            form = self._forms[pass_no] = [fn(t) for t in self.texts]
        return form

    def seek(self, pattern: list[str], start: int, eof: bool) -> tuple[int, str] | None:
        n, k = len(self.texts), len(pattern)
        if k == 0:
            return start, EXACT
        if k > n:
            return None
        # Upstream: an End-of-File chunk is tried only at the very end, whatever the cursor.
        begin = n - k if eof else start
        for pass_no, (kind, fn) in enumerate(_PASSES):
            form = self._form(pass_no)
            pat = pattern if fn is None else [fn(p) for p in pattern]
            c = begin
            while c <= n - k:
                try:
                    c = form.index(pat[0], c, n - k + 1)
                except ValueError:
                    break
                if form[c : c + k] == pat:
                    return c, kind
                c += 1
        return None


# -- diagnostics -------------------------------------------------------------------


def best_partial_match(lines: list[str], old: list[str], stated: int) -> int | None:
    """Where most of `old` lines up with the file (compared stripped), nearest on ties."""
    wanted: dict[str, list[int]] = {}
    for j, line in enumerate(old):
        key = line.strip()
        if key:
            wanted.setdefault(key, []).append(j)
    if not wanted:
        return None
    hits: dict[str, list[int]] = {key: [] for key in wanted}
    for i, line in enumerate(lines):
        found = hits.get(line.strip())
        if found is not None and len(found) <= _MAX_VOTES_PER_LINE:
            found.append(i)
    votes: dict[int, int] = {}
    for key, positions in hits.items():
        if len(positions) > _MAX_VOTES_PER_LINE:
            continue
        for j in wanted[key]:
            for i in positions:
                votes[i - j] = votes.get(i - j, 0) + 1
    if not votes:
        return None
    return max(votes, key=lambda c: (votes[c], -abs(c - stated)))


def first_difference(lines: list[str], old: list[str], at: int) -> tuple[int, str, str | None] | None:
    """(index into old, expected, actual or None past the end) of the first mismatch at `at`."""
    for j, expected in enumerate(old):
        i = at + j
        actual = lines[i] if 0 <= i < len(lines) else None
        if actual != expected:
            return j, expected, actual
    return None


def describe_difference(expected: str, actual: str | None) -> str:
    if actual is None:
        return f"expected {_show(expected)} but the file ends there"
    how = ""
    if expected.strip() == actual.strip():
        if expected.rstrip("\n").endswith("\r") != actual.rstrip("\n").endswith("\r"):
            how = " (only the line ending differs: CRLF vs LF)"
        elif expected.endswith("\n") != actual.endswith("\n"):
            how = " (only the final newline differs: check `\\ No newline at end of file`)"
        else:
            how = " (only whitespace differs; context must match exactly)"
    return f"expected {_show(expected)} but found {_show(actual)}{how}"


def _show(line: str) -> str:
    text = line[:-1] if line.endswith("\n") else line
    if len(text) > 120:
        text = text[:117] + "..."
    return repr(text)


def window(lines: list[str], center: int, span: int, *, path: str, hunk: int | None, reason: str) -> dict:
    """Numbered current lines around `center` (0-based), bounded in size."""
    start = max(0, min(center, len(lines)) - WINDOW_CONTEXT)
    end = min(len(lines), max(center, 0) + max(span, 1) + WINDOW_CONTEXT, start + WINDOW_MAX_LINES)
    numbered = [f"{i + 1:6}\t{_bare(lines[i])}" for i in range(start, end)]
    # The numbered text hides line endings, which strict matching does not: say them.
    crlf = sum(1 for i in range(start, end) if lines[i].endswith("\r\n"))
    lf = sum(1 for i in range(start, end) if lines[i].endswith("\n")) - crlf
    endings = "crlf" if crlf and not lf else "lf" if lf and not crlf else "mixed" if lf else "none"
    return {
        "path": path,
        "hunk": hunk,
        "reason": reason,
        "start_line": start + 1,
        "end_line": end,
        "total_lines": len(lines),
        "line_endings": endings,
        "text": "\n".join(numbered),
    }


def _bare(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith("\n") else line
