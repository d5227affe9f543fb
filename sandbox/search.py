"""Text search over a workspace, and context collection for a model's next edit.

Both read only text files within the size limit, in the index's order, and stop at a
result or byte budget with a `truncated` flag, so one tool call can never flood the
model's context or pin a worker.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import regex as regex_engine

from sandbox.files import INVALID_ARGUMENT, int_arg, json_size, render_lines, split_lines
from sandbox.index import files_under
from sandbox.manifest import sha256_bytes
from sandbox.paths import PolicyError, check_size, is_binary, read_text, resolve

DEFAULT_MAX_RESULTS = 50
HARD_MAX_RESULTS = 500
MAX_PATTERN_CHARS = 500
MAX_HIT_CHARS = 300
SEARCH_SECONDS = 10.0  # then the result so far, `truncated`
# A regex runs in the `regex` engine, which stops at a timeout and lets other threads run
# meanwhile (Python's `re` holds the interpreter lock for as long as it backtracks, so
# neither the tool's timeout nor the run's lease could act). One line taking this long
# means the pattern, not the workspace, is the problem.
LINE_SECONDS = 1.0

DEFAULT_CONTEXT_BYTES = 16_000
MIN_CONTEXT_BYTES = 200
MAX_CONTEXT_BYTES = 100_000
MAX_CONTEXT_PATHS = 20
CONTEXT_HITS = 40
CONTEXT_RADIUS = 5
HEAD_LINES = 40
MIN_WINDOW_BYTES = 120


def compile_pattern(
    pattern: object, *, regex: bool, case_sensitive: bool, field: str = "pattern"
) -> re.Pattern:
    if not isinstance(pattern, str) or pattern == "":
        raise PolicyError(INVALID_ARGUMENT, f"`{field}` must be non-empty text.", field)
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PolicyError(
            INVALID_ARGUMENT, f"`{field}` is longer than {MAX_PATTERN_CHARS} characters.", field
        )
    flags = 0 if case_sensitive else re.IGNORECASE
    if not regex:
        return re.compile(re.escape(pattern), flags)
    try:
        # Python's own syntax is the contract: `re` parses and judges it, `regex` runs it.
        parsed = re._parser.parse(pattern, flags)
    except re.error as exc:
        raise PolicyError(INVALID_ARGUMENT, f"`{field}` is not a valid regular expression: {exc}.", field)
    if _nested_repeat(parsed, inside=False):
        raise PolicyError(
            INVALID_ARGUMENT,
            f"`{field}` repeats a group that itself repeats (like `(a+)+`), which can take "
            "exponential time; simplify it or search for a literal string.",
            field,
        )
    return regex_engine.compile(pattern, regex_engine.IGNORECASE if not case_sensitive else 0)


def _nested_repeat(items, *, inside: bool) -> bool:
    """True when a repeated group contains an open-ended repetition: the shape of
    catastrophic backtracking (`(a+)+`, `(\\w*\\s?)*`, `(.*,){20}`)."""
    c = re._constants
    for op, av in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, sub = av
            wide = high == c.MAXREPEAT or high - low > 10
            if wide and inside:
                return True
            if _nested_repeat(sub, inside=inside or high > 1):
                return True
            continue
        if op == c.SUBPATTERN:
            children = [av[3]]
        elif op == c.BRANCH:
            children = av[1]
        elif op in (c.ASSERT, c.ASSERT_NOT):
            children = [av[1]]
        elif op == c.ATOMIC_GROUP:
            children = [av]
        else:
            continue
        if any(_nested_repeat(child, inside=inside) for child in children):
            return True
    return False


def text_files(walk: Iterator, skipped: dict) -> Iterator[tuple[str, bytes, str]]:
    """(rel, bytes, text) of each searchable file of a walk; counts what it skips and why."""
    for rel, abs_path, st in walk:
        try:
            check_size(st.st_size, rel=rel)
        except PolicyError:
            skipped["too_large"] += 1
            continue
        try:
            with open(abs_path, "rb") as fh:
                data = fh.read()
        except OSError:
            skipped["unreadable"] += 1
            continue
        if is_binary(data):
            skipped["binary"] += 1
            continue
        yield rel, data, data.decode("utf-8")


def search(
    root: str | os.PathLike,
    *,
    pattern: object,
    path_prefix: object = None,
    regex: object = False,
    max_results: object = DEFAULT_MAX_RESULTS,
    case_sensitive: object = True,
) -> dict:
    """Find lines matching `pattern` (literal text unless `regex`).

    Result: `{pattern, regex, path_prefix, hits: [{path, line, column, text}],
    files_searched, files_with_hits, skipped: {binary, too_large, unreadable},
    truncated}`. One hit per matching line; `line` and `column` are 1-based; `text`
    is the line, clipped to about 300 characters around the match. The search stops
    at `max_results` hits (at most 500) or after a few seconds, with `truncated` set.
    """
    regex = _flag(regex)
    compiled = compile_pattern(pattern, regex=regex, case_sensitive=_flag(case_sensitive))
    limit = int_arg(
        max_results, "max_results", default=DEFAULT_MAX_RESULTS, minimum=1, maximum=HARD_MAX_RESULTS
    )
    skipped = {"binary": 0, "too_large": 0, "unreadable": 0}
    hits: list[dict] = []
    searched, with_hits, truncated = 0, 0, False
    deadline = time.monotonic() + SEARCH_SECONDS
    prefix, walk = files_under(root, path_prefix)
    for rel, _, text in text_files(walk, skipped):
        searched += 1
        found = 0
        for number, line, match in _matches(text, compiled, regex=regex, deadline=deadline, rel=rel):
            if match is None:  # out of time within this file
                truncated = True
                break
            if len(hits) >= limit:
                truncated = True
                break
            hits.append(
                {"path": rel, "line": number, "column": match.start() + 1, "text": _clip(line, match)}
            )
            found += 1
        with_hits += found > 0
        if truncated or time.monotonic() > deadline:
            truncated = True
            break
    return {
        "pattern": pattern,
        "regex": regex,
        "path_prefix": prefix,
        "hits": hits,
        "files_searched": searched,
        "files_with_hits": with_hits,
        "skipped": skipped,
        "truncated": truncated,
    }


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _matches(
    text: str, compiled, *, regex: bool, deadline: float = float("inf"), rel: str = ""
) -> Iterator[tuple]:
    """(line number, line, match) per matching line; (…, None) when the search's time is up."""
    if not regex:
        # A cheap whole-file test first: most files have no hit at all. Literal text
        # cannot backtrack, so its time is linear.
        if compiled.search(text) is None:
            return
        for number, line in enumerate(split_lines(text), start=1):
            if match := compiled.search(line):
                yield number, line, match
        return
    for number, line in enumerate(split_lines(text), start=1):
        left = deadline - time.monotonic()
        if left <= 0:
            yield number, line, None
            return
        try:
            match = compiled.search(line, timeout=min(left, LINE_SECONDS), concurrent=True)
        except TimeoutError:
            if left <= LINE_SECONDS:
                yield number, line, None
                return
            raise PolicyError(
                INVALID_ARGUMENT,
                f"`pattern` takes too long to match `{rel}` line {number} ({len(line)} characters): "
                "it backtracks. Simplify it (fewer nested or overlapping repetitions) or search "
                "for a literal string.",
                "pattern",
            ) from None
        if match:
            yield number, line, match


def _clip(line: str, match) -> str:
    if len(line) <= MAX_HIT_CHARS:
        return line
    start = max(0, min(match.start() - MAX_HIT_CHARS // 3, len(line) - MAX_HIT_CHARS))
    end = start + MAX_HIT_CHARS
    return ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")


def collect_context(
    root: str | os.PathLike,
    *,
    query: object = None,
    paths: object = None,
    max_bytes: object = DEFAULT_CONTEXT_BYTES,
) -> dict:
    """Numbered windows of the files a model is about to change, within a byte budget.

    `paths` contributes the first 40 lines of each file, `query` (literal,
    case-insensitive) a window of 5 lines either side of each of its first 40 hits;
    windows of one file that overlap or touch are merged. Result: `{query, paths,
    windows: [{path, start_line, end_line, total_lines, sha256, reasons, match_lines,
    content}], truncated, errors: [{path, code, message, field}]}`; `content` is
    numbered like `read_file_range`. `max_bytes` bounds `windows` as a tool result
    sends it (`json_size`: every field, with escapes), so each window's `end_line` is
    the last line its content holds; only the first window may pass a budget too small
    for its own fields. A path that cannot be read is reported in `errors` and the
    others are still returned.
    """
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise PolicyError(INVALID_ARGUMENT, "`query` must be non-empty text.", "query")
    wanted = _paths_arg(paths)
    if query is None and not wanted:
        raise PolicyError(INVALID_ARGUMENT, "Give a `query`, `paths`, or both.", "query")
    budget = int_arg(max_bytes, "max_bytes", default=DEFAULT_CONTEXT_BYTES, minimum=MIN_CONTEXT_BYTES)
    budget = min(budget, MAX_CONTEXT_BYTES)

    files: dict[str, tuple[bytes, list[str]]] = {}
    ranges: dict[str, list[tuple[int, int, str, int | None]]] = {}
    errors = []
    for path in wanted:
        try:
            resolved = resolve(root, path, field="paths", must_exist=True)
            data, text = read_text(resolved, field="paths")
        except PolicyError as exc:
            errors.append({"path": path, **exc.as_dict()})
            continue
        lines = split_lines(text)
        files[resolved.rel] = (data, lines)
        if lines:
            ranges.setdefault(resolved.rel, []).append((1, min(HEAD_LINES, len(lines)), "path", None))
    # Hits past the cap exist but get no window: that is a truncation too.
    truncated = query is not None and _add_hit_windows(root, query, files, ranges)
    windows, used = [], 2  # the list's brackets
    for rel, spans in ranges.items():
        data, lines = files[rel]
        digest = sha256_bytes(data)
        for start, end, reasons, hit_lines in _merge(spans):
            window = {
                "path": rel,
                "start_line": start,
                "end_line": end,
                "total_lines": len(lines),
                "sha256": digest,
                "reasons": reasons,
                "match_lines": hit_lines,
                "content": "",
            }
            comma = 1 if windows else 0
            # What the window's other fields cost at most: cutting it only shortens them.
            room = budget - used - comma - (json_size(window) - 2)
            if room < MIN_WINDOW_BYTES:
                if windows:
                    truncated = True
                    break
                room = MIN_WINDOW_BYTES  # a budget too small for one window still shows one
            content, shown, cut = render_lines(lines, start, end, room)
            window.update(end_line=shown, match_lines=[n for n in hit_lines if n <= shown], content=content)
            windows.append(window)
            used += comma + json_size(window)
            if cut:
                truncated = True
                break
        if truncated:
            break
    return {"query": query, "paths": wanted, "windows": windows, "truncated": truncated, "errors": errors}


def _paths_arg(paths: object) -> list[str]:
    if paths is None:
        return []
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
        raise PolicyError(INVALID_ARGUMENT, "`paths` must be a list of file paths.", "paths")
    if len(paths) > MAX_CONTEXT_PATHS:
        raise PolicyError(INVALID_ARGUMENT, f"`paths` may name at most {MAX_CONTEXT_PATHS} files.", "paths")
    return list(dict.fromkeys(paths))


def _add_hit_windows(root, query: str, files: dict, ranges: dict) -> bool:
    """Add a window around each of the first hits; True if there were more."""
    compiled = compile_pattern(query.strip(), regex=False, case_sensitive=False, field="query")
    skipped = {"binary": 0, "too_large": 0, "unreadable": 0}
    hits = 0
    for rel, data, text in text_files(files_under(root, None)[1], skipped):
        lines = None
        for number, _, _ in _matches(text, compiled, regex=False):
            if lines is None:
                lines = split_lines(text)
                files.setdefault(rel, (data, lines))
            if hits == CONTEXT_HITS:
                return True
            start, end = max(1, number - CONTEXT_RADIUS), min(len(lines), number + CONTEXT_RADIUS)
            ranges.setdefault(rel, []).append((start, end, "match", number))
            hits += 1
    return False


_REASON_ORDER = ["path", "match"]


def _merge(spans: list[tuple[int, int, str, int | None]]) -> list[tuple[int, int, list[str], list[int]]]:
    """Merge overlapping or touching line ranges, keeping why each was asked for."""
    merged: list[tuple[int, int, list[str], list[int]]] = []
    for start, end, reason, hit in sorted(spans, key=lambda s: (s[0], s[1])):
        if merged and start <= merged[-1][1] + 1:
            last = merged[-1]
            reasons = sorted({*last[2], reason}, key=_REASON_ORDER.index)
            hits = [*last[3], hit] if hit else last[3]
            merged[-1] = (last[0], max(last[1], end), reasons, hits)
        else:
            merged.append((start, end, [reason], [hit] if hit else []))
    return merged
