"""Rendering tool results: bounded compact JSON for the model, truncated args for events.

A tool result is the model's only view of the workspace, but it is also re-sent with
every later model call, so it is capped. A result over the cap is shrunk structurally
(long lists lose their tail, long strings their end, each with a visible marker) rather
than cut mid-JSON, so the model can still parse it and knows what it is missing.
"""

from __future__ import annotations

from typing import Any

from sandbox.files import compact_json as compact  # what the reading budgets measure, too

CONTENT_CAP_BYTES = 24_000
ARG_DISPLAY_CHARS = 2_000
TRUNCATION_NOTE = (
    "This result was cut to fit {cap} bytes; narrow the request (a smaller line range, "
    "a path_prefix, fewer results) to see the rest."
)


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def bounded_json(obj: dict, cap: int = CONTENT_CAP_BYTES) -> str:
    """`obj` as compact JSON of at most `cap` UTF-8 bytes.

    Shrinks in rounds: strings above a length limit are clipped and lists above an item
    limit lose their tail, both limits halving each round; the object then carries
    `content_truncated` with a note. The reading tools size their line ranges to fit
    the cap, and a range cut here would claim lines it does not hold, so the rounds
    first spare them (the `content` of a dict with `end_line`, and the lists such
    ranges sit in) and shrink everything else; only if that cannot fit do they shrink
    ranges too. Falls back to a plain cut only if keys alone overflow, which no tool
    produces.
    """
    text = compact(obj)
    if size(text) <= cap:
        return text
    note = TRUNCATION_NOTE.format(cap=cap)
    for spare_ranges in (True, False):
        string_limit, list_limit = max(cap // 2, 64), 200
        while string_limit >= 16:
            shrunk = _shrink(obj, string_limit, list_limit, spare_ranges)
            if isinstance(shrunk, dict):
                shrunk = {**shrunk, "content_truncated": note}
            text = compact(shrunk)
            if size(text) <= cap:
                return text
            string_limit //= 2
            list_limit = max(list_limit // 2, 1)
    clipped = text.encode("utf-8")[: cap - 200].decode("utf-8", "ignore")
    return compact({"content_truncated": note, "partial": clipped})


def _is_range(value: Any) -> bool:
    """Numbered lines that claim a range (a read, a context window)."""
    return isinstance(value, dict) and isinstance(value.get("content"), str) and "end_line" in value


def _shrink(value: Any, string_limit: int, list_limit: int, spare_ranges: bool = False) -> Any:
    if isinstance(value, str):
        return clip(value, string_limit)
    if isinstance(value, dict):
        spared = "content" if spare_ranges and _is_range(value) else None
        return {
            k: v if k == spared else _shrink(v, string_limit, list_limit, spare_ranges)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        if spare_ranges and any(_is_range(v) for v in value):
            list_limit = len(value)
        items = [_shrink(v, string_limit, list_limit, spare_ranges) for v in value[:list_limit]]
        if len(value) > list_limit:
            items.append(f"… {len(value) - list_limit} more item(s) omitted")
        return items
    return value


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [truncated, {len(text) - limit} more chars]"


def display_args(args: Any, limit: int = ARG_DISPLAY_CHARS) -> Any:
    """Arguments for events and the UI, as the model sent them: long strings clipped with a marker."""
    return _shrink_strings(args, limit)


def _shrink_strings(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, dict):
        return {str(k): _shrink_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shrink_strings(v, limit) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return clip(repr(value), limit)  # anything else a model could send is shown, not stored raw
