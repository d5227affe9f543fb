"""Exact, nearest-first hunk search over a file kept as one bytes object.

Splitting a large file into a list of lines costs more than everything else a patch
does (one object per line), and decoding it costs a copy, so unified hunks are
matched on the raw bytes without either: a hunk's old
lines are joined once into a block, a line number becomes a character offset by
counting newlines in C (`bytes.count`, `bytes.find`), and a candidate is one
`bytes.startswith`. Searching outward from the stated line uses `find`/`rfind` for
the whole block inside a window that grows geometrically.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable


class Ambiguous(Exception):
    def __init__(self, positions: tuple[int, int]):
        super().__init__(positions)
        self.positions = positions  # two 0-based line numbers


class TextSearch:
    def __init__(self, text: bytes):
        self.text = text
        self.size = len(text)
        newlines = text.count(b"\n")
        self.nlines = newlines + (1 if text and not text.endswith(b"\n") else 0)
        self._avg = self.size / self.nlines if self.nlines else 1.0
        # Known (line, offset) pairs; hunks arrive roughly in order, so the nearest
        # checkpoint below a line is usually the previous hunk's.
        self._lines = [0]
        self._offsets = [0]

    # -- line numbers <-> offsets --

    def offset(self, line: int) -> int | None:
        """Character offset where 0-based `line` starts; `nlines` gives the end of text."""
        if line < 0 or line > self.nlines:
            return None
        if line == self.nlines:
            return self.size
        i = bisect.bisect_right(self._lines, line) - 1
        base_line, base = self._lines[i], self._offsets[i]
        if line == base_line:
            return base
        off = self._skip(base, line - base_line)
        bisect.insort(self._lines, line)
        self._offsets.insert(bisect.bisect_left(self._lines, line), off)
        return off

    def _skip(self, off: int, count: int) -> int:
        """Offset after `count` more newlines from `off` (the line exists: checked above)."""
        text, find = self.text, self.text.find
        guess = self._avg
        while count > 8:
            # Aim a little short, count the newlines there in C, then close the gap.
            end = min(self.size, off + int(count * guess * 0.9))
            seen = text.count(b"\n", off, end)
            if seen >= count:
                guess *= 0.5
                continue
            if seen:
                off = text.rfind(b"\n", off, end) + 1
                count -= seen
            else:
                guess *= 2
        for _ in range(count):
            off = find(b"\n", off) + 1
        return off

    def line_of(self, off: int, near_line: int, near_off: int) -> int:
        if off >= near_off:
            return near_line + self.text.count(b"\n", near_off, off)
        return near_line - self.text.count(b"\n", off, near_off)

    # -- matching --

    def matches_at(self, line: int, block: bytes) -> bool:
        off = self.offset(line)
        return off is not None and self._fits(off, block)

    def _fits(self, off: int, block: bytes) -> bool:
        if not self.text.startswith(block, off):
            return False
        # A block whose last line has no newline must end the file.
        return not block or block.endswith(b"\n") or off + len(block) == self.size

    def _at_line_start(self, off: int) -> bool:
        return off == 0 or self.text[off - 1] == 10  # b"\n"

    def nearest(self, block: bytes, k: int, stated: int, ok: Callable[[int], bool]) -> int | None:
        """0-based line nearest to `stated` where the k-line `block` matches; Ambiguous on a tie."""
        hi_line = self.nlines - k
        if hi_line < 0:
            return None
        if self.matches_at(stated, block) and ok(stated):
            return stated
        anchor = min(max(stated, 0), hi_line)
        anchor_off = self.offset(anchor)
        radius = 32
        while True:
            lo, hi = max(stated - radius, 0), min(stated + radius, hi_line)
            fwd = self._forward(block, max(stated, 0), hi, anchor, anchor_off, ok)
            reach = fwd - stated if fwd is not None else radius
            back = self._backward(
                block, max(stated - reach, 0), min(stated - 1, hi_line), anchor, anchor_off, ok
            )
            if fwd is not None and back is not None and stated - back == fwd - stated:
                raise Ambiguous((back, fwd))
            if back is not None:
                return back
            if fwd is not None:
                return fwd
            if lo == 0 and hi == hi_line:
                return None
            radius *= 4

    def _forward(self, block, lo, hi, anchor, anchor_off, ok) -> int | None:
        if lo > hi:
            return None
        start, last = self.offset(lo), self.offset(hi)
        while True:
            p = self.text.find(block, start, last + len(block))
            if p < 0:
                return None
            if self._at_line_start(p) and self._fits(p, block):
                line = self.line_of(p, anchor, anchor_off)
                if ok(line):
                    return line
            start = p + 1

    def _backward(self, block, lo, hi, anchor, anchor_off, ok) -> int | None:
        if lo > hi:
            return None
        first, end = self.offset(lo), self.offset(hi) + len(block)
        while True:
            p = self.text.rfind(block, first, end)
            if p < 0:
                return None
            if self._at_line_start(p) and self._fits(p, block):
                line = self.line_of(p, anchor, anchor_off)
                if ok(line):
                    return line
            end = p + len(block) - 1

    def nearest_any(self, block: bytes, k: int, stated: int) -> int | None:
        """Like `nearest` with no exclusions, taking the earlier of two tied positions."""
        try:
            return self.nearest(block, k, stated, lambda c: True)
        except Ambiguous as amb:
            return amb.positions[0]
