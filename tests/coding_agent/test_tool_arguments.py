"""Argument normalisation: what models send reaches the tools under canonical names, or
fails with TOOL_INPUT_VALIDATION_FAILED before anything runs.

No database: every test works on a temporary workspace (tool_workspace.py). Text that is
not valid Unicode and JSON-string arguments: test_tool_argument_text.py.
"""

from __future__ import annotations

import json

import pytest

from coding_agent.tools import execute
from coding_agent.tools.arguments import WRAPPER_KEYS
from coding_agent.tools.registry import TOOLS
from tests.coding_agent.tool_workspace import FILES, MINIMAL, PATCH, argument_context, sha, snapshot

INDEX_SHA = sha(FILES["index.html"])


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


@pytest.fixture
def ctx(ws):
    return argument_context(ws)


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
