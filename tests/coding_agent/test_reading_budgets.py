"""What a reading tool's result claims (lines, files, truncation, title) is what it holds.

Budgets count bytes as the model receives them: JSON-escaped `"`, `\\` and control
characters cost more than they weigh on disk, and a result that passed the content cap
would be clipped behind its own claims.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coding_agent.tools.rendering import CONTENT_CAP_BYTES, bounded_json
from sandbox.files import split_lines
from tests.coding_agent.tool_workspace import context, run

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each costs more as JSON than as UTF-8 text, or more as UTF-8 than as a character.
AWKWARD = st.sampled_from(['"', "\\", "\t", "\x01", "\x1f", "\x7f", "é", "☃", "𝄞", "\u2028", "a", " ", "\r"])
LINE = st.text(alphabet=AWKWARD, min_size=10, max_size=120)
RANGE_TITLE = re.compile(r"^Read (?P<path>\S+) lines? (?P<first>\d+)(?:\u2013(?P<last>\d+))?$")


def quote_heavy_json(lines: int = 2000) -> str:
    return "".join(f'  {{"id": "{i}", "name": "n{i}", "tag": "t"}},\n' for i in range(lines))


def numbered(content: str) -> list[tuple[int, str]]:
    rows = []
    for row in content.split("\n"):
        number, text = row.split("| ", 1)
        rows.append((int(number), text))
    return rows


def assert_shows_what_it_claims(outcome, body: dict, lines: list[str]) -> None:
    assert len(outcome.content.encode()) <= CONTENT_CAP_BYTES
    assert "content_truncated" not in body
    rows = numbered(body["content"])
    assert [n for n, _ in rows] == list(range(body["start_line"], body["end_line"] + 1))
    for number, text in rows:
        if text != lines[number - 1]:  # only a lone over-long line is clipped, visibly
            assert rows == [(number, text)] and text.endswith(" … [line clipped]")
    if body["truncated"] and body["next_start_line"] is not None:
        assert body["next_start_line"] == body["end_line"] + 1
    match = RANGE_TITLE.match(outcome.title)
    assert match, outcome.title
    assert int(match["first"]) == body["start_line"]
    assert int(match["last"] or match["first"]) == body["end_line"]
    assert outcome.result["end_line"] == body["end_line"]


# -- read_file_range ------------------------------------------------------------------


def test_a_quote_heavy_read_shows_every_line_it_claims_and_continues_where_it_stopped(ctx, ws):
    text = quote_heavy_json()
    (ws / "data.json").write_text(text)
    lines = split_lines(text)
    seen = []
    start = 1
    while start is not None:
        outcome, body = run(ctx, "coding_agent_read_file_range", {"path": "data.json", "start_line": start})
        assert_shows_what_it_claims(outcome, body, lines)
        seen += [n for n, _ in numbered(body["content"])]
        start = body["next_start_line"]
    assert seen == list(range(1, 2001))


@SETTINGS
@given(
    lines=st.lists(LINE, min_size=1, max_size=20),
    repeat=st.integers(1, 300),
    start=st.integers(1, 400),
    max_bytes=st.one_of(st.none(), st.integers(200, 30_000)),
)
def test_any_read_shows_exactly_the_lines_it_claims(lines, repeat, start, max_bytes):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text = "\n".join(lines * repeat) + "\n"  # repeated: files long enough to cut
        (root / "f.txt").write_bytes(text.encode())
        wanted = split_lines(text)
        args = {"path": "f.txt", "start_line": min(start, len(wanted))}
        if max_bytes is not None:
            args["max_bytes"] = max_bytes
        outcome, body = run(context(root), "coding_agent_read_file_range", args)
        assert outcome.ok, body
        assert_shows_what_it_claims(outcome, body, wanted)


def test_unknown_arguments_never_cut_into_the_lines_a_read_claims(ctx, ws):
    (ws / "data.json").write_text(quote_heavy_json())
    junk = {f"unknown_argument_{n}": n for n in range(2000)}
    outcome, body = run(ctx, "coding_agent_read_file_range", {"path": "data.json", **junk})
    assert len(outcome.content.encode()) <= CONTENT_CAP_BYTES
    assert "[truncated" not in body["content"]
    assert numbered(body["content"])[-1][0] == body["end_line"]


def test_the_cap_shrinks_other_fields_before_the_content_of_a_line_range():
    body = {"content": "1| " + '"' * 11_000, "start_line": 1, "end_line": 1, "noise": ["x" * 50] * 300}
    shown = json.loads(bounded_json(body))
    assert shown["content"] == body["content"]
    assert shown["content_truncated"]


# -- collect_context ------------------------------------------------------------------


def test_quote_heavy_context_windows_show_every_line_they_claim(ctx, ws):
    text = quote_heavy_json(200)
    lines = split_lines(text)
    for n in range(12):  # 12 heads of 40 lines: more than the budget holds
        (ws / f"data{n}.json").write_text(text)
    paths = [f"data{n}.json" for n in range(12)]
    outcome, body = run(ctx, "coding_agent_collect_context", {"paths": paths, "max_bytes": 20_000})
    assert len(outcome.content.encode()) <= CONTENT_CAP_BYTES
    assert "content_truncated" not in body
    assert body["truncated"] is True
    assert body["windows"]
    for window in body["windows"]:
        rows = numbered(window["content"])
        assert [n for n, _ in rows] == list(range(window["start_line"], window["end_line"] + 1))
        assert all(text == lines[n - 1] for n, text in rows)
    assert outcome.title == f"Collected context from 12 files ({len(body['windows'])} windows)"
    assert outcome.result["windows"] == len(body["windows"])


# -- workspace_index ------------------------------------------------------------------


def flat_js_workspace(root: Path, count: int = 310) -> list[str]:
    for n in range(count):
        (root / f"mod{n:03}.js").write_text(f"export function fn{n}() {{ return {n}; }}\n")
    return [f"mod{n:03}.js" for n in range(count)]


def test_an_index_that_leaves_files_out_says_so_and_pages_to_the_rest(tmp_path):
    expected = flat_js_workspace(tmp_path)
    ctx = context(tmp_path)
    listed, offset, pages = [], 0, 0
    while offset is not None:
        outcome, body = run(ctx, "coding_agent_workspace_index", {"offset": offset} if offset else {})
        pages += 1
        assert len(outcome.content.encode()) <= CONTENT_CAP_BYTES
        assert "content_truncated" not in body
        count = len(body["files"])
        assert body["listed_files"] == count and body["total_files"] == 310
        assert body["offset"] == offset
        assert body["truncated"] is (offset + count < 310)
        assert body["next_offset"] == (offset + count if body["truncated"] else None)
        assert outcome.result["files"] == count and outcome.result["truncated"] is body["truncated"]
        if offset == 0:
            assert outcome.title == f"Indexed {count} files of 310"
        else:
            assert outcome.title == f"Indexed files {offset + 1}\u2013{offset + count} of 310"
        listed += [f["path"] for f in body["files"]]
        offset = body["next_offset"]
    assert pages > 1
    assert listed == expected


def test_max_files_leaves_files_out_with_a_next_offset(tmp_path):
    flat_js_workspace(tmp_path, 12)
    ctx = context(tmp_path)
    _, body = run(ctx, "coding_agent_workspace_index", {"max_files": 5, "include_symbols": False})
    assert (body["listed_files"], body["total_files"]) == (5, 12)
    assert (body["truncated"], body["next_offset"]) == (True, 5)
    outcome, body = run(ctx, "coding_agent_workspace_index", {"max_files": 5, "offset": 10})
    assert [f["path"] for f in body["files"]] == ["mod010.js", "mod011.js"]
    assert (body["truncated"], body["next_offset"]) == (False, None)
    assert outcome.title == "Indexed files 11\u201312 of 12"


def test_the_index_description_tells_the_model_how_to_page():
    from coding_agent.tools import tool_specs

    spec = next(s for s in tool_specs(legacy_write_file=False) if s["function"]["name"].endswith("index"))
    assert "offset" in spec["function"]["parameters"]["properties"]
    assert "next_offset" in spec["function"]["description"]
    assert "path_prefix" in spec["function"]["parameters"]["properties"]
    assert "include_symbols" in spec["function"]["parameters"]["properties"]


def test_a_running_index_call_names_the_page_it_asked_for():
    from coding_agent.tools import running_title

    assert running_title("coding_agent_workspace_index", {"offset": "100"}) == (
        "Indexing the workspace from file 101…"
    )
    assert running_title("workspace_index", {"path_prefix": "src"}) == "Indexing src…"
