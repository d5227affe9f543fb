"""Arguments as text: a lone UTF-16 surrogate is refused naming its field, and JSON-string
arguments may hold raw newlines; JSON errors read cleanly.

No database: every test works on a temporary workspace (tool_workspace.py).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from coding_agent.tools import execute
from coding_agent.tools.registry import TOOLS
from tests.coding_agent.tool_workspace import FILES, MINIMAL, PATCH, argument_context, sha, snapshot

INDEX_SHA = sha(FILES["index.html"])


@pytest.fixture
def ctx(ws):
    return argument_context(ws)


# -- text that is not valid Unicode ---------------------------------------------------


def surrogate_cases():
    """(tool, field, value) for every text-like parameter, holding a lone surrogate."""
    cases = []
    for name, tool in TOOLS.items():
        for param in tool.params:
            if param.kind in ("string", "text"):
                value = "x\ud83d"
            elif param.kind == "string_list":
                value = ["index.html", "\ud800.js"]
            elif param.kind == "sha_map":
                value = {"index\udc00.html": INDEX_SHA}
            else:
                continue
            cases.append(pytest.param(name, param.name, value, id=f"{tool.short_name}-{param.name}"))
    return cases


def assert_storable(outcome):
    """What an outcome carries reaches events, the database and the model as UTF-8 JSON."""
    json.dumps(dataclasses.asdict(outcome), ensure_ascii=False).encode("utf-8")
    outcome.content.encode("utf-8")


@pytest.mark.parametrize(("tool", "field", "value"), surrogate_cases())
def test_a_lone_surrogate_in_any_text_argument_fails_validation_before_anything_runs(
    ctx, ws, tool, field, value
):
    args = {**MINIMAL[tool], field: value}
    before = snapshot(ws)
    outcome = execute(tool, args, ctx)
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["fields"] == [field]
    assert f"`{field}`" in outcome.error["message"]
    assert "not valid Unicode" in outcome.error["message"]
    assert_storable(outcome)
    assert snapshot(ws) == before


@pytest.mark.parametrize(
    ("tool", "raw", "field"),
    [
        ("coding_agent_search", '{"pattern": "\\ud83d"}', "pattern"),
        ("coding_agent_collect_context", '{"query": "\\ud800"}', "query"),
        ("coding_agent_read_file_range", '{"path": "\\ud800.html"}', "path"),
        ("coding_agent_rename_file", '{"from_path": "old.css", "to_path": "\\udfff.css"}', "to_path"),
        ("coding_agent_workspace_index", '{"path_prefix": "src/\\ud800"}', "path_prefix"),
        ("coding_agent_collect_context", '{"paths": ["\\ud800"]}', "paths"),
    ],
)
def test_a_lone_surrogate_escape_in_json_arguments_is_refused_naming_the_field(ctx, tool, raw, field):
    outcome = execute(tool, raw, ctx)
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["field"] == field
    assert "not valid Unicode" in outcome.error["message"]
    assert "not caused by your arguments" not in outcome.error["message"]
    assert_storable(outcome)


def test_a_surrogate_in_an_unknown_argument_is_ignored_and_reported_storably(ctx):
    outcome = execute("coding_agent_read_file_range", {"path": "index.html", "n\ud800te": "\ud800"}, ctx)
    assert outcome.ok
    assert_storable(outcome)


def test_a_surrogate_pair_sent_as_two_code_units_is_joined_into_one_character(ctx, ws):
    (ws / "emoji.txt").write_text("smile \U0001f600\n")
    outcome = execute("coding_agent_search", {"pattern": "\ud83d\ude00"}, ctx)
    assert outcome.ok, outcome.error
    assert outcome.args["pattern"] == "\U0001f600"
    assert outcome.result["hits"] == 1


def test_an_unknown_tool_with_a_surrogate_in_its_name_or_arguments_is_reported_storably(ctx):
    outcome = execute("coding_agent_\ud800", {"path": "\ud800"}, ctx)
    assert outcome.error["code"] == "UNKNOWN_TOOL"
    assert_storable(outcome)


# -- JSON text ------------------------------------------------------------------------


def test_raw_newlines_inside_json_string_arguments_are_accepted(ctx, ws):
    raw = '{"patch": "' + PATCH.replace('"', '\\"') + '"}'  # literal newlines, not \n escapes
    assert "\n" in raw
    outcome = execute("coding_agent_apply_patch", raw, ctx)
    assert outcome.ok, outcome.error
    assert (ws / "index.html").read_text().startswith("<h1>hello, world</h1>\n")


def test_raw_newlines_inside_a_wrapped_json_string_are_accepted(ctx, ws):
    inner = '{"patch": "' + PATCH.replace('"', '\\"') + '"}'
    outcome = execute("coding_agent_apply_patch", {"arguments": inner}, ctx)
    assert outcome.ok, outcome.error


def test_a_json_error_names_its_position_once_and_shows_an_example_for_the_tool(ctx):
    outcome = execute("coding_agent_apply_patch", '{"patch": "--- a/x\n"  "+++ b/x"}', ctx)
    message = outcome.error["message"]
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert " at at " not in message and "at line 2 column 4" in message
    assert '"patch"' in message
    assert "start_line" not in message
    search = execute("coding_agent_search", '{"pattern": ', ctx).error["message"]
    assert '"pattern"' in search and "start_line" not in search


@pytest.mark.parametrize(
    "raw",
    ['{"path": "index.html}', '{"path": "index.html",\n "start_line": 1,}', '{"path": "a\\qb"}'],
    ids=["unterminated-string", "trailing-comma", "bad-escape"],
)
def test_json_error_messages_do_not_double_a_word(ctx, raw):
    message = execute("coding_agent_read_file_range", raw, ctx).error["message"]
    words = message.split()
    assert all(a != b for a, b in zip(words, words[1:], strict=False)), message
