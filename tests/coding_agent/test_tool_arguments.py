"""Argument normalisation: what models send reaches the tools under canonical names, or
fails with TOOL_INPUT_VALIDATION_FAILED before anything runs.

No database: every test works on a temporary workspace.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from coding_agent.tools import ToolContext, execute
from coding_agent.tools.arguments import WRAPPER_KEYS
from coding_agent.tools.registry import TOOLS
from sandbox.index import OutlineCache
from sandbox.manifest import HashCache

FILES = {
    "index.html": "<h1>hello</h1>\n<p>one</p>\n<p>two</p>\n<p>three</p>\n",
    "old.css": "body { color: red; }\n",
    "src/app.js": "function hello() {\n  return 1;\n}\n",
    "src/util.js": "export const hello = 2;\n",
}
PATCH = "--- a/index.html\n+++ b/index.html\n@@ -1,2 +1,2 @@\n-<h1>hello</h1>\n+<h1>hello, world</h1>\n <p>one</p>\n"
INDEX_SHA = hashlib.sha256(FILES["index.html"].encode()).hexdigest()
# `touch` leaves a trace, so "nothing ran" is visible in the workspace.
CHECKS = {"mark": {"argv": ["touch", "ran.txt"]}}

# A valid value for each parameter of each tool.
VALUES = {
    "coding_agent_workspace_index": {
        "path_prefix": "src",
        "include_symbols": False,
        "max_files": 1,
        "offset": 1,
    },
    "coding_agent_read_file_range": {
        "path": "index.html",
        "start_line": 2,
        "end_line": 3,
        "context_lines": 1,
        "max_bytes": 500,
    },
    "coding_agent_search": {
        "pattern": "hello",
        "path_prefix": "src",
        "regex": True,
        "max_results": 1,
        "case_sensitive": False,
    },
    "coding_agent_collect_context": {"query": "hello", "paths": ["index.html"], "max_bytes": 1000},
    "coding_agent_apply_patch": {"patch": PATCH, "expected_sha256": {"index.html": INDEX_SHA}},
    "coding_agent_rename_file": {"from_path": "old.css", "to_path": "new.css"},
    "coding_agent_delete_file": {"path": "old.css"},
    "coding_agent_run_check": {"check": "mark"},
    "coding_agent_write_file": {"path": "new.txt", "content": "hi\n"},
}
# The smallest valid call of each tool.
MINIMAL = {
    "coding_agent_workspace_index": {},
    "coding_agent_read_file_range": {"path": "index.html"},
    "coding_agent_search": {"pattern": "hello"},
    "coding_agent_collect_context": {"query": "hello"},
    "coding_agent_apply_patch": {"patch": PATCH},
    "coding_agent_rename_file": {"from_path": "old.css", "to_path": "new.css"},
    "coding_agent_delete_file": {"path": "old.css"},
    "coding_agent_run_check": {"check": "mark"},
    "coding_agent_write_file": {"path": "new.txt", "content": "hi\n"},
}
# The aliases the contract promises, per tool and canonical name.
DOCUMENTED_ALIASES = {
    "path": ["file_path", "filePath", "filepath", "file", "filename", "fileName"],
    "from_path": ["fromPath", "from", "source", "src", "old_path", "oldPath"],
    "to_path": ["toPath", "to", "destination", "dest", "new_path", "newPath"],
    "path_prefix": ["pathPrefix", "prefix", "dir", "directory"],
    "start_line": ["startLine", "start"],
    "end_line": ["endLine", "end"],
    "context_lines": ["contextLines"],
    "max_bytes": ["maxBytes"],
    "max_results": ["maxResults"],
    "include_symbols": ["includeSymbols"],
    "patch": ["diff", "patch_text", "patchText"],
    "expected_sha256": ["expectedSha256", "expected_sha"],
    "check": ["check_name", "name"],
    "content": ["text", "contents"],
}


def make_ws(root: Path) -> Path:
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def ws(tmp_path):
    return make_ws(tmp_path / "ws")


@pytest.fixture
def ctx(ws):
    return ToolContext(
        root=ws,
        checks=CHECKS,
        hash_cache=HashCache(),
        outline_cache=OutlineCache(),
        timeout_s=30,
        cancel=lambda: False,
        legacy_write_file=True,
    )


def alias_cases():
    return [
        pytest.param(name, param.name, alias, id=f"{tool.short_name}-{alias}")
        for name, tool in TOOLS.items()
        for param in tool.params
        for alias in param.aliases
    ]


def test_every_documented_alias_is_declared_on_each_tool_that_takes_the_argument():
    for name, tool in TOOLS.items():
        for param in tool.params:
            for alias in DOCUMENTED_ALIASES.get(param.name, []):
                assert alias in param.aliases, f"{name}: {alias} -> {param.name}"
    search = TOOLS["coding_agent_search"].param("pattern")
    assert "query" in search.aliases
    assert "pattern" in TOOLS["coding_agent_collect_context"].param("query").aliases


@pytest.mark.parametrize(("tool", "canonical", "alias"), alias_cases())
def test_each_alias_reaches_the_tool_under_its_canonical_name(ctx, tool, canonical, alias):
    args = {k: v for k, v in MINIMAL[tool].items() if k != canonical}
    args[alias] = VALUES[tool][canonical]
    outcome = execute(tool, args, ctx)
    assert outcome.ok, outcome.error
    assert outcome.args[canonical] == VALUES[tool][canonical]
    assert alias not in outcome.args
    assert "ignored_args" not in outcome.result


def test_aliased_paths_act_on_the_named_file(ctx, ws):
    outcome = execute("coding_agent_rename_file", {"fromPath": "old.css", "toPath": "css/site.css"}, ctx)
    assert outcome.ok
    assert (ws / "css/site.css").exists() and not (ws / "old.css").exists()


@pytest.mark.parametrize("wrapper", WRAPPER_KEYS)
def test_a_wrapper_object_is_unwrapped(ctx, wrapper):
    outcome = execute("coding_agent_read_file_range", {wrapper: {"path": "index.html", "end_line": 1}}, ctx)
    assert outcome.ok
    assert outcome.args["path"] == "index.html"
    assert outcome.result["end_line"] == 1


@pytest.mark.parametrize("wrapper", WRAPPER_KEYS)
def test_a_wrapper_holding_a_json_string_is_unwrapped(ctx, wrapper):
    outcome = execute("coding_agent_read_file_range", {wrapper: json.dumps({"filePath": "index.html"})}, ctx)
    assert outcome.ok
    assert outcome.result["path"] == "index.html"


def test_nested_wrappers_are_unwrapped(ctx):
    inner = json.dumps({"payload": {"value": {"file_path": "index.html"}}})
    outcome = execute("coding_agent_read_file_range", {"input": {"arguments": inner}}, ctx)
    assert outcome.ok
    assert outcome.args == {"path": "index.html", "max_bytes": 20000}


def test_keys_beside_a_wrapper_are_reported_as_ignored(ctx):
    raw = {"tool": "read", "arguments": {"path": "index.html"}}
    outcome = execute("coding_agent_read_file_range", raw, ctx)
    assert outcome.ok
    assert outcome.result["ignored_args"] == ["tool"]


def test_a_wrapper_is_not_unwrapped_beside_a_known_argument(ctx):
    raw = {"path": "index.html", "args": {"path": "old.css"}}
    outcome = execute("coding_agent_read_file_range", raw, ctx)
    assert outcome.result["path"] == "index.html"
    assert outcome.result["ignored_args"] == ["args"]


def test_a_wrapper_holding_plain_text_stays_and_validation_names_the_missing_field(ctx):
    outcome = execute("coding_agent_read_file_range", {"input": "index.html"}, ctx)
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["fields"] == ["path"]
    assert "input" in outcome.error["message"]


def test_top_level_json_string_arguments_are_parsed(ctx):
    outcome = execute("coding_agent_read_file_range", '{"path": "index.html", "start_line": "2"}', ctx)
    assert outcome.ok
    assert outcome.args["start_line"] == 2


def test_double_encoded_json_arguments_are_parsed(ctx):
    raw = json.dumps(json.dumps({"path": "index.html"}))
    assert execute("coding_agent_read_file_range", raw, ctx).ok


@pytest.mark.parametrize("raw", [None, "", "  ", {}])
def test_no_arguments_mean_an_empty_object(ctx, raw):
    assert execute("coding_agent_workspace_index", raw, ctx).ok
    outcome = execute("coding_agent_read_file_range", raw, ctx)
    assert outcome.error["fields"] == ["path"]


def test_unparsable_json_is_refused_with_the_error_position(ctx, ws):
    before = snapshot(ws)
    outcome = execute("coding_agent_delete_file", '{"path": "old.css",', ctx)
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert "line 1 column 20" in outcome.error["message"]
    assert snapshot(ws) == before


@pytest.mark.parametrize("raw", [["index.html"], 42, "[1, 2]", '"index.html"', True])
def test_arguments_that_are_not_an_object_are_refused(ctx, raw):
    outcome = execute("coding_agent_read_file_range", raw, ctx)
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert "JSON object" in outcome.error["message"] or "not valid JSON" in outcome.error["message"]


def test_an_alias_and_the_canonical_name_with_different_values_are_refused(ctx, ws):
    before = snapshot(ws)
    outcome = execute("coding_agent_delete_file", {"path": "old.css", "file_path": "index.html"}, ctx)
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["fields"] == ["path", "file_path"]
    assert "`path`" in outcome.error["message"] and "`file_path`" in outcome.error["message"]
    assert snapshot(ws) == before


def test_two_aliases_with_different_values_are_refused(ctx):
    outcome = execute("coding_agent_rename_file", {"from": "old.css", "src": "x.css", "to": "y.css"}, ctx)
    assert outcome.error["fields"] == ["from", "src"]


def test_an_alias_and_the_canonical_name_with_the_same_value_are_accepted(ctx):
    outcome = execute("coding_agent_read_file_range", {"path": "index.html", "filePath": "index.html"}, ctx)
    assert outcome.ok


def test_a_null_alias_beside_the_canonical_name_is_no_conflict(ctx):
    outcome = execute("coding_agent_read_file_range", {"path": "index.html", "file_path": None}, ctx)
    assert outcome.ok


def test_unknown_extra_arguments_are_ignored_and_reported(ctx):
    outcome = execute("coding_agent_read_file_range", {"path": "index.html", "encoding": "utf-8"}, ctx)
    assert outcome.ok
    assert outcome.result["ignored_args"] == ["encoding"]
    assert json.loads(outcome.content)["ignored_args"] == ["encoding"]
    assert "encoding" not in outcome.args


def required_cases():
    """(tool, field, how it is absent); an empty file content is a valid value, not absent."""
    return [
        pytest.param(name, param.name, absent, id=f"{tool.short_name}-{param.name}-{absent}")
        for name, tool in TOOLS.items()
        for param in tool.params
        if param.required
        for absent in ("missing", "empty", "blank", "null")
        if not (param.allow_empty and absent in ("empty", "blank"))
    ]


@pytest.mark.parametrize(("tool", "field", "absent"), required_cases())
def test_a_missing_required_field_fails_validation_and_nothing_runs(ctx, ws, tool, field, absent):
    args = dict(MINIMAL[tool])
    if absent == "missing":
        del args[field]
    else:
        args[field] = {"empty": "", "blank": "  ", "null": None}[absent]
    before = snapshot(ws)
    outcome = execute(tool, args, ctx)
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["fields"] == [field]
    assert outcome.error["field"] == field
    assert f"`{field}`" in outcome.error["message"]
    assert TOOLS[tool].signature() in outcome.error["message"]
    assert outcome.changed_paths == []
    assert snapshot(ws) == before


@pytest.mark.parametrize("tool", [name for name, t in TOOLS.items() if any(p.required for p in t.params)])
def test_all_missing_required_fields_are_named_together(ctx, ws, tool):
    before = snapshot(ws)
    outcome = execute(tool, {}, ctx)
    required = [p.name for p in TOOLS[tool].params if p.required]
    assert outcome.error["fields"] == required
    assert ("field" in outcome.error) == (len(required) == 1)
    assert snapshot(ws) == before


def test_collect_context_needs_a_query_or_paths(ctx):
    outcome = execute("coding_agent_collect_context", {"max_bytes": 500}, ctx)
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["fields"] == ["query", "paths"]
    assert "`query` or `paths`" in outcome.error["message"]


def test_write_file_accepts_empty_content(ctx, ws):
    outcome = execute("coding_agent_write_file", {"path": "empty.txt", "content": ""}, ctx)
    assert outcome.ok
    assert (ws / "empty.txt").read_bytes() == b""


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("coding_agent_read_file_range", {"path": "index.html", "start_line": "abc"}, "start_line"),
        ("coding_agent_read_file_range", {"path": "index.html", "start_line": 0}, "start_line"),
        ("coding_agent_read_file_range", {"path": "index.html", "end_line": 2.5}, "end_line"),
        ("coding_agent_read_file_range", {"path": ["index.html"]}, "path"),
        ("coding_agent_workspace_index", {"include_symbols": "maybe"}, "include_symbols"),
        ("coding_agent_search", {"pattern": "x", "max_results": True}, "max_results"),
        ("coding_agent_collect_context", {"paths": 5}, "paths"),
        ("coding_agent_apply_patch", {"patch": 5}, "patch"),
        ("coding_agent_apply_patch", {"patch": PATCH, "expected_sha256": 5}, "expected_sha256"),
        ("coding_agent_run_check", {"check": {"name": "mark"}}, "check"),
    ],
)
def test_a_value_of_the_wrong_type_fails_validation_naming_the_field(ctx, ws, tool, args, field):
    before = snapshot(ws)
    outcome = execute(tool, args, ctx)
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["fields"] == [field]
    assert outcome.error["field"] == field
    assert snapshot(ws) == before


def test_a_missing_field_and_a_bad_type_are_reported_together(ctx):
    outcome = execute("coding_agent_read_file_range", {"start_line": "abc"}, ctx)
    assert outcome.error["fields"] == ["path", "start_line"]
    assert "field" not in outcome.error


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"start_line": "2", "end_line": 3.0}, {"start_line": 2, "end_line": 3}),
        ({"startLine": " 2 ", "endLine": "+3"}, {"start_line": 2, "end_line": 3}),
    ],
)
def test_numbers_sent_as_text_or_floats_become_integers(ctx, args, expected):
    outcome = execute("coding_agent_read_file_range", {"path": "index.html", **args}, ctx)
    assert outcome.ok
    assert {k: outcome.args[k] for k in expected} == expected


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("no", False), (0, False), ("TRUE", True)])
def test_booleans_sent_as_text_or_numbers_are_understood(ctx, value, expected):
    outcome = execute("coding_agent_workspace_index", {"include_symbols": value}, ctx)
    assert outcome.args["include_symbols"] is expected
    files = json.loads(outcome.content)["files"]
    assert all(("symbols" in f) is expected for f in files)


@pytest.mark.parametrize(
    ("value", "expected"), [("index.html", ["index.html"]), ('["a.js", "b.js"]', ["a.js", "b.js"])]
)
def test_paths_sent_as_one_path_or_a_json_list_become_a_list(ctx, value, expected):
    outcome = execute("coding_agent_collect_context", {"paths": value}, ctx)
    assert outcome.args["paths"] == expected


def test_empty_optional_text_counts_as_absent(ctx):
    outcome = execute("coding_agent_search", {"pattern": "hello", "path_prefix": ""}, ctx)
    assert outcome.ok
    assert "path_prefix" not in outcome.args
    assert outcome.result["hits"] == 3


def test_expected_sha256_as_a_json_string_is_parsed(ctx, ws):
    raw = {"patch": PATCH, "expected_sha256": json.dumps({"index.html": INDEX_SHA})}
    outcome = execute("coding_agent_apply_patch", raw, ctx)
    assert outcome.ok
    assert outcome.args["expected_sha256"] == {"index.html": INDEX_SHA}


def test_expected_sha256_as_a_list_of_path_and_digest_is_accepted(ctx):
    raw = {"patch": PATCH, "expected_sha256": [{"path": "index.html", "sha256": INDEX_SHA}]}
    outcome = execute("coding_agent_apply_patch", raw, ctx)
    assert outcome.ok


def test_a_bare_digest_applies_to_the_patch_s_only_file(ctx, ws):
    outcome = execute("coding_agent_apply_patch", {"patch": PATCH, "expected_sha256": INDEX_SHA}, ctx)
    assert outcome.ok
    assert outcome.args["expected_sha256"] == {"index.html": INDEX_SHA}
    stale = execute("coding_agent_apply_patch", {"patch": PATCH, "expected_sha256": INDEX_SHA}, ctx)
    assert stale.error["code"] == "PATCH_REJECTED"


def test_a_bare_digest_for_a_patch_of_several_files_is_refused(ctx, ws):
    patch = (
        PATCH + "--- a/old.css\n+++ b/old.css\n@@ -1 +1 @@\n-body { color: red; }\n+body { color: blue; }\n"
    )
    before = snapshot(ws)
    outcome = execute("coding_agent_apply_patch", {"patch": patch, "expected_sha256": INDEX_SHA}, ctx)
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["field"] == "expected_sha256"
    assert snapshot(ws) == before


def test_invalid_arguments_are_shown_as_sent_in_the_outcome(ctx):
    outcome = execute("coding_agent_read_file_range", {"file_path": "index.html", "start_line": "abc"}, ctx)
    assert outcome.args == {"path": "index.html", "start_line": "abc"}
    json.dumps(outcome.args)


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
    import dataclasses

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


# -- expected_sha256 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["not a sha", {"index.html": "abc"}, {"index.html": ""}, json.dumps({"index.html": "abc"}), "abc"],
    ids=["bare-text", "short-digest", "empty-digest", "json-map", "bare-short"],
)
def test_an_expected_sha256_that_is_not_a_digest_fails_validation(ctx, ws, value):
    before = snapshot(ws)
    outcome = execute("coding_agent_apply_patch", {"patch": PATCH, "expected_sha256": value}, ctx)
    assert outcome.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert outcome.error["fields"] == ["expected_sha256"]
    assert "64 hex" in outcome.error["message"]
    assert "changed since it was read" not in outcome.error["message"]
    assert snapshot(ws) == before


def test_an_expected_sha256_in_capitals_or_with_a_prefix_is_a_digest(ctx, ws):
    upper = execute("coding_agent_apply_patch", {"patch": PATCH, "expected_sha256": INDEX_SHA.upper()}, ctx)
    assert upper.ok, upper.error
    ws.joinpath("index.html").write_text(FILES["index.html"])
    prefixed = {"index.html": f"sha256:{INDEX_SHA}"}
    assert execute("coding_agent_apply_patch", {"patch": PATCH, "expected_sha256": prefixed}, ctx).ok


# -- collect_context -------------------------------------------------------------------


@pytest.mark.parametrize("paths", [[], "[]"], ids=["list", "json-text"])
def test_collect_context_with_an_empty_paths_list_fails_like_no_paths(ctx, paths):
    empty = execute("coding_agent_collect_context", {"paths": paths}, ctx)
    absent = execute("coding_agent_collect_context", {}, ctx)
    assert empty.error["code"] == absent.error["code"] == "TOOL_INPUT_VALIDATION_FAILED"
    assert empty.error["fields"] == absent.error["fields"] == ["query", "paths"]
    assert execute("coding_agent_collect_context", {"paths": paths, "query": "hello"}, ctx).ok
