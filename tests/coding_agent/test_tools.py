"""The toolpack through `execute`: specs, names, reading, editing and policy refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from coding_agent.tools import available_tools, reading, tool_specs
from coding_agent.tools.rendering import CONTENT_CAP_BYTES
from sandbox.paths import PolicyError, resolve
from tests.coding_agent.tool_workspace import (
    APP_PATCH,
    FILES,
    VERIFY_CHECKS,
    context,
    run,
    sha,
    snapshot,
)

# -- specs ------------------------------------------------------------------------


def test_specs_offer_every_tool_but_write_file_by_default():
    names = [spec["function"]["name"] for spec in tool_specs(legacy_write_file=False)]
    assert names == [
        "coding_agent_workspace_index",
        "coding_agent_read_file_range",
        "coding_agent_search",
        "coding_agent_collect_context",
        "coding_agent_apply_patch",
        "coding_agent_rename_file",
        "coding_agent_delete_file",
        "coding_agent_run_check",
    ]


def test_specs_include_write_file_when_enabled():
    names = [spec["function"]["name"] for spec in tool_specs(legacy_write_file=True)]
    assert len(names) == 9 and "coding_agent_write_file" in names
    assert available_tools(legacy_write_file=True) == names


def test_specs_are_openai_function_schemas_with_required_fields():
    for spec in tool_specs(legacy_write_file=True):
        json.dumps(spec)
        assert spec["type"] == "function"
        function = spec["function"]
        assert function["description"]
        parameters = function["parameters"]
        assert parameters["type"] == "object"
        assert set(parameters["required"]) <= set(parameters["properties"])
    by_name = {s["function"]["name"]: s["function"] for s in tool_specs(legacy_write_file=True)}
    assert by_name["coding_agent_rename_file"]["parameters"]["required"] == ["from_path", "to_path"]
    assert by_name["coding_agent_read_file_range"]["parameters"]["required"] == ["path"]


def test_the_patch_description_explains_both_formats_and_stale_edit_protection():
    spec = next(
        s for s in tool_specs(legacy_write_file=False) if s["function"]["name"].endswith("apply_patch")
    )
    text = spec["function"]["description"]
    for phrase in ("--- a/", "+++ b/", "@@ ", "*** Begin Patch", "*** Update File:", "expected_sha256"):
        assert phrase in text
    assert "relative to the workspace root" in text


# -- names ------------------------------------------------------------------------


def test_an_unknown_tool_fails_with_the_list_of_available_tools(ctx):
    outcome, body = run(ctx, "coding_agent_format_disk", {"path": "x"})
    assert not outcome.ok
    assert outcome.error["code"] == "UNKNOWN_TOOL"
    assert "coding_agent_apply_patch" in outcome.error["message"]
    assert "coding_agent_write_file" not in outcome.error["message"]
    assert body["available_tools"] == available_tools(legacy_write_file=False)
    assert outcome.title == "Unknown tool coding_agent_format_disk"


@pytest.mark.parametrize(
    "name", ["read_file_range", "functions.coding_agent_read_file_range", "Coding-Agent-Read-File-Range"]
)
def test_common_spellings_of_a_tool_name_reach_the_tool(ctx, name):
    outcome, _ = run(ctx, name, {"path": "index.html"})
    assert outcome.ok
    assert outcome.tool == "coding_agent_read_file_range"


# -- reading ----------------------------------------------------------------------


def test_workspace_index_lists_files_with_symbols(ctx):
    outcome, body = run(ctx, "coding_agent_workspace_index")
    assert outcome.ok
    assert outcome.title == "Indexed 4 files"
    assert outcome.result == {
        "path_prefix": "",
        "files": 4,
        "total_files": 4,
        "offset": 0,
        "truncated": False,
        "next_offset": None,
    }
    app = next(f for f in body["files"] if f["path"] == "src/app.js")
    assert {"kind": "function", "name": "hello", "line": 1} in app["symbols"]
    assert app["sha256"] == sha(FILES["src/app.js"])
    assert outcome.changed_paths == []


def test_workspace_index_under_a_prefix(ctx):
    outcome, body = run(ctx, "coding_agent_workspace_index", {"path_prefix": "src", "max_files": 1})
    assert outcome.title == "Indexed 1 file in src of 2"
    assert [f["path"] for f in body["files"]] == ["src/app.js"]


def test_read_file_range_returns_numbered_lines_and_the_file_hash(ctx):
    outcome, body = run(
        ctx, "coding_agent_read_file_range", {"path": "index.html", "start_line": 2, "end_line": 3}
    )
    assert outcome.ok
    assert outcome.title == "Read index.html lines 2\u20133"
    assert body["content"] == "2| <p>one</p>\n3| <p>two</p>"
    assert body["sha256"] == sha(FILES["index.html"])
    assert outcome.result == {
        "path": "index.html",
        "start_line": 2,
        "end_line": 3,
        "total_lines": 4,
        "truncated": False,
        "sha256": sha(FILES["index.html"]),
    }


def test_read_titles_name_one_line_and_empty_files(ctx, ws):
    (ws / "empty.txt").write_text("")
    assert run(ctx, "coding_agent_read_file_range", {"path": "index.html", "end_line": 1})[0].title == (
        "Read index.html line 1"
    )
    assert (
        run(ctx, "coding_agent_read_file_range", {"path": "empty.txt"})[0].title == "Read empty.txt (empty)"
    )


def test_a_read_beyond_the_budget_is_truncated_with_where_to_continue(ctx, ws):
    (ws / "long.txt").write_text("".join(f"line number {i}\n" for i in range(1, 2001)))
    outcome, body = run(ctx, "coding_agent_read_file_range", {"path": "long.txt", "max_bytes": 100_000})
    assert outcome.args["max_bytes"] == reading.READ_BUDGET_BYTES
    assert body["truncated"] is True
    assert body["next_start_line"] == body["end_line"] + 1
    assert len(outcome.content.encode()) <= CONTENT_CAP_BYTES
    assert "content_truncated" not in body


def test_search_reports_hits_and_a_title_with_their_count(ctx):
    outcome, body = run(ctx, "coding_agent_search", {"pattern": "hello"})
    assert outcome.ok
    assert outcome.title == "Searched for \u201chello\u201d (3 hits)"
    assert outcome.result["hits"] == 3
    assert [(h["path"], h["line"]) for h in body["hits"]] == [
        ("index.html", 1),
        ("src/app.js", 1),
        ("src/util.js", 1),
    ]


def test_a_truncated_search_says_there_are_more_hits(ctx):
    outcome, _ = run(ctx, "coding_agent_search", {"pattern": "<p>", "max_results": 2})
    assert outcome.title == "Searched for \u201c<p>\u201d (2+ hits)"
    assert outcome.result["truncated"] is True


def test_collect_context_returns_windows_around_hits_and_paths(ctx):
    outcome, body = run(ctx, "coding_agent_collect_context", {"query": "return", "paths": ["old.css"]})
    assert outcome.ok
    assert outcome.title == "Collected context for \u201creturn\u201d (2 windows)"
    assert {w["path"] for w in body["windows"]} == {"old.css", "src/app.js"}
    assert outcome.result["windows"] == 2
    assert "content" not in json.dumps(outcome.result)


# -- editing ----------------------------------------------------------------------


def test_a_unified_diff_edits_a_file(ctx, ws):
    patch = "--- a/index.html\n+++ b/index.html\n@@ -1,2 +1,2 @@\n-<h1>hello</h1>\n+<h1>hello, world</h1>\n <p>one</p>\n"
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": patch})
    assert outcome.ok
    assert outcome.title == "Edited index.html (+1 \u22121)"
    assert outcome.changed_paths == ["index.html"]
    assert (ws / "index.html").read_text().startswith("<h1>hello, world</h1>\n")
    assert outcome.result["changed_files"] == [
        {"path": "index.html", "change": "modified", "additions": 1, "deletions": 1}
    ]
    assert len(outcome.result["revision_token"]) == 64
    assert body["hunks"][0]["match"] == "exact"


def test_a_patch_in_a_markdown_fence_applies(ctx, ws):
    outcome, _ = run(ctx, "coding_agent_apply_patch", {"patch": f"```\n{APP_PATCH}```\n"})
    assert outcome.ok
    assert "return 2" in (ws / "src/app.js").read_text()
    assert outcome.args["patch"] == APP_PATCH


def test_patch_titles_name_created_deleted_renamed_and_several_files(ctx, ws):
    create = "*** Begin Patch\n*** Add File: about.html\n+<h1>About</h1>\n+<p>us</p>\n*** End Patch\n"
    assert run(ctx, "coding_agent_apply_patch", {"patch": create})[0].title == "Created about.html (+2)"
    delete = "*** Begin Patch\n*** Delete File: about.html\n*** End Patch\n"
    assert run(ctx, "coding_agent_apply_patch", {"patch": delete})[0].title == "Deleted about.html"
    move = "*** Begin Patch\n*** Update File: old.css\n*** Move to: css/site.css\n@@\n-body { color: red; }\n+body { color: blue; }\n*** End Patch\n"
    outcome, _ = run(ctx, "coding_agent_apply_patch", {"patch": move})
    assert outcome.title == "Renamed old.css \u2192 css/site.css (+1 \u22121)"
    assert outcome.changed_paths == ["old.css", "css/site.css"]
    both = (
        "*** Begin Patch\n*** Update File: src/app.js\n-  return 1;\n+  return 2;\n"
        "*** Update File: src/util.js\n-export const hello = 2;\n+export const hello = 3;\n*** End Patch\n"
    )
    outcome, _ = run(ctx, "coding_agent_apply_patch", {"patch": both})
    assert outcome.title == "Edited 2 files (+2 \u22122)"
    assert outcome.changed_paths == ["src/app.js", "src/util.js"]


def test_a_patch_that_does_not_match_is_rejected_with_refresh_windows(ctx, ws):
    before = snapshot(ws)
    patch = (
        "--- a/index.html\n+++ b/index.html\n@@ -1,2 +1,2 @@\n-<h1>goodbye</h1>\n+<h1>hi</h1>\n <p>one</p>\n"
    )
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": patch})
    assert not outcome.ok
    assert outcome.error["code"] == "PATCH_REJECTED"
    assert outcome.error["field"] == "patch"
    assert "context_mismatch" in outcome.error["message"]
    assert outcome.diagnostics == {
        "patch_code": "context_mismatch",
        "patch_failure_count": 1,
        "recommended_refresh": ["index.html"],
    }
    assert outcome.title == "Couldn't edit index.html"
    assert outcome.changed_paths == []
    assert body["failures"][0]["path"] == "index.html" and body["failures"][0]["hunk"] == 1
    window = body["refresh_windows"][0]
    assert window["path"] == "index.html" and "<h1>hello</h1>" in window["text"]
    assert body["recommended_refresh"] == ["index.html"]
    assert outcome.result["failures"] == [{"path": "index.html", "hunk": 1, "code": "context_mismatch"}]
    assert snapshot(ws) == before


def test_a_stale_expected_sha256_rejects_the_patch_and_recommends_a_reread(ctx, ws):
    before = snapshot(ws)
    args = {"patch": APP_PATCH, "expected_sha256": {"src/app.js": sha("what I read earlier\n")}}
    outcome, body = run(ctx, "coding_agent_apply_patch", args)
    assert outcome.error["code"] == "PATCH_REJECTED"
    assert outcome.diagnostics["patch_code"] == "context_mismatch"
    assert outcome.diagnostics["recommended_refresh"] == ["src/app.js"]
    assert "changed since it was read" in body["failures"][0]["message"]
    assert snapshot(ws) == before


def test_a_current_expected_sha256_lets_the_patch_apply(ctx):
    args = {"patch": APP_PATCH, "expected_sha256": {"src/app.js": sha(FILES["src/app.js"])}}
    assert run(ctx, "coding_agent_apply_patch", args)[0].ok


def test_a_malformed_patch_is_rejected_without_files_to_refresh(ctx):
    outcome, _ = run(ctx, "coding_agent_apply_patch", {"patch": "please change the title"})
    assert outcome.error["code"] == "PATCH_REJECTED"
    assert outcome.diagnostics["patch_code"] == "malformed_patch"
    assert outcome.diagnostics["recommended_refresh"] == []
    assert outcome.title == "Couldn't apply patch"


def test_a_patch_reaching_outside_the_workspace_is_rejected(ctx, tmp_path):
    patch = "--- a/../secret.txt\n+++ b/../secret.txt\n@@ -0,0 +1 @@\n+x\n"
    outcome, _ = run(ctx, "coding_agent_apply_patch", {"patch": patch})
    assert outcome.error["code"] == "PATCH_REJECTED"
    assert outcome.diagnostics["patch_code"] == "path_escape"
    assert not (tmp_path / "secret.txt").exists()


def test_auto_verify_runs_the_verification_plan_after_a_patch(ws):
    ctx = context(ws, checks=VERIFY_CHECKS, auto_verify_patch=True)
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": APP_PATCH})
    assert outcome.ok
    assert outcome.result["verification_plan"] == [{"check": "js", "paths": ["src/app.js"]}]
    assert [(v["check"], v["status"]) for v in outcome.result["verification"]] == [("js", "passed")]
    assert body["verification"][0]["exit_code"] == 0
    assert outcome.title == "Edited src/app.js (+1 \u22121); check passed"


def test_a_verified_patch_says_it_is_slow_before_its_checks_start(ws, monkeypatch):
    from coding_agent.tools import checks, execute

    seen = []
    real_run_check = checks.run_check

    def run_check(*args, **kwargs):
        seen.append("check")
        return real_run_check(*args, **kwargs)

    monkeypatch.setattr(checks, "run_check", run_check)
    ctx = context(ws, checks=VERIFY_CHECKS, auto_verify_patch=True)
    outcome = execute(
        "coding_agent_apply_patch", {"patch": APP_PATCH}, ctx, on_slow=lambda: seen.append("slow")
    )
    assert outcome.ok
    assert seen == ["slow", "check"]


def test_auto_verify_reports_a_failing_check_on_a_successful_patch(ws):
    ctx = context(ws, checks=VERIFY_CHECKS, auto_verify_patch=True)
    patch = "*** Begin Patch\n*** Update File: src/app.js\n-  return 1;\n+  return 3;\n*** End Patch\n"
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": patch})
    assert outcome.ok
    assert outcome.changed_paths == ["src/app.js"]
    assert body["verification"][0]["status"] == "failed"
    assert outcome.title.endswith("; check js failed")


def test_auto_verify_runs_nothing_when_no_check_covers_the_change(ws):
    ctx = context(ws, checks=VERIFY_CHECKS, auto_verify_patch=True)
    patch = "*** Begin Patch\n*** Add File: notes.md\n+hello\n*** End Patch\n"
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": patch})
    assert outcome.ok
    assert outcome.result["verification_plan"] == []
    assert "verification" not in body
    assert outcome.title == "Created notes.md (+1)"


def test_without_auto_verify_the_plan_is_only_reported(ws):
    ctx = context(ws, checks=VERIFY_CHECKS)
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": APP_PATCH})
    assert outcome.result["verification_plan"] == [{"check": "js", "paths": ["src/app.js"]}]
    assert "verification" not in body and "verification" not in outcome.result


def test_rename_moves_a_file(ctx, ws):
    outcome, body = run(ctx, "coding_agent_rename_file", {"from_path": "old.css", "to_path": "css/site.css"})
    assert outcome.ok
    assert outcome.title == "Renamed old.css \u2192 css/site.css"
    assert outcome.changed_paths == ["old.css", "css/site.css"]
    assert outcome.result["change"] == "renamed"
    assert (ws / "css/site.css").exists() and not (ws / "old.css").exists()


def test_rename_onto_an_existing_file_is_a_structured_refusal(ctx, ws):
    outcome, _ = run(ctx, "coding_agent_rename_file", {"from_path": "old.css", "to_path": "index.html"})
    assert outcome.error["code"] == "FILE_EXISTS"
    assert outcome.error["field"] == "to_path"
    assert outcome.title == "Couldn't rename old.css"
    assert (ws / "old.css").exists()


def test_delete_removes_a_file(ctx, ws):
    outcome, _ = run(ctx, "coding_agent_delete_file", {"path": "old.css"})
    assert outcome.ok
    assert outcome.title == "Deleted old.css"
    assert outcome.changed_paths == ["old.css"]
    assert outcome.result["sha256"] == sha(FILES["old.css"])
    assert not (ws / "old.css").exists()


def test_write_file_is_unavailable_unless_enabled(ctx, ws):
    outcome, _ = run(ctx, "coding_agent_write_file", {"path": "new.html", "content": "<p>x</p>\n"})
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_UNAVAILABLE"
    assert "coding_agent_apply_patch" in outcome.error["message"]
    assert outcome.title == "Couldn't write new.html"
    assert not (ws / "new.html").exists()


def test_write_file_creates_and_replaces_files_when_enabled(ws):
    ctx = context(ws, legacy_write_file=True)
    outcome, _ = run(ctx, "coding_agent_write_file", {"path": "new.html", "content": "<p>x</p>\n<p>y</p>\n"})
    assert outcome.ok
    assert outcome.title == "Created new.html (2 lines)"
    assert outcome.changed_paths == ["new.html"]
    assert "content" not in outcome.result
    outcome, _ = run(ctx, "coding_agent_write_file", {"path": "new.html", "content": "<p>z</p>\n"})
    assert outcome.title == "Wrote new.html (1 line)"
    assert (ws / "new.html").read_text() == "<p>z</p>\n"


def test_large_argument_values_are_truncated_for_display(ws):
    ctx = context(ws, legacy_write_file=True)
    content = "x" * 5000 + "\n"
    outcome, _ = run(ctx, "coding_agent_write_file", {"path": "big.txt", "content": content})
    assert outcome.ok
    assert len(outcome.args["content"]) < 2100
    assert "[truncated, 3001 more chars]" in outcome.args["content"]
    assert (ws / "big.txt").read_text() == content


# -- policy -----------------------------------------------------------------------


def policy_error(root: Path, path: str) -> dict:
    """What the sandbox itself raises for this path, to compare with the outcome."""
    try:
        resolve(root, path, must_exist=True)
    except PolicyError as exc:
        return exc.as_dict()
    raise AssertionError(f"{path} was not refused")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("../outside.txt", "PATH_OUTSIDE_WORKSPACE"),
        ("/etc/passwd", "PATH_OUTSIDE_WORKSPACE"),
        (".git/config", "PATH_FORBIDDEN"),
        ("missing.html", "FILE_NOT_FOUND"),
    ],
)
def test_refused_paths_come_back_as_the_sandbox_s_structured_error(ctx, ws, path, code):
    outcome, body = run(ctx, "coding_agent_read_file_range", {"path": path})
    assert not outcome.ok
    assert outcome.error == policy_error(ws, path)
    assert outcome.error["code"] == code
    assert body == {"ok": False, "error": outcome.error}
    assert outcome.title == f"Couldn't read {path}"


def test_a_link_leaving_the_workspace_is_refused(ctx, ws, tmp_path):
    (tmp_path / "secret.txt").write_text("secret\n")
    os.symlink(tmp_path / "secret.txt", ws / "link.txt")
    outcome, _ = run(ctx, "coding_agent_read_file_range", {"path": "link.txt"})
    assert outcome.error["code"] == "PATH_OUTSIDE_WORKSPACE"
    assert "secret" not in outcome.content


def test_a_binary_file_is_refused(ctx, ws):
    (ws / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    outcome, _ = run(ctx, "coding_agent_read_file_range", {"path": "logo.png"})
    assert outcome.error == {
        "code": "FILE_BINARY",
        "message": "`logo.png` is a binary file; only text files can be read or edited.",
        "field": "path",
    }


def test_a_file_over_the_size_limit_is_refused(ctx, ws, settings):
    settings.SANDBOX_MAX_FILE_BYTES = 1000
    (ws / "huge.js").write_text("// x\n" * 500)
    outcome, _ = run(ctx, "coding_agent_read_file_range", {"path": "huge.js"})
    assert outcome.error["code"] == "FILE_TOO_LARGE"
    assert outcome.error["field"] == "path"


def test_an_argument_the_sandbox_refuses_names_its_field(ctx):
    outcome, _ = run(ctx, "coding_agent_read_file_range", {"path": "index.html", "start_line": 9})
    assert outcome.error["code"] == "LINE_OUT_OF_RANGE"
    assert outcome.error["field"] == "start_line"


def test_a_large_result_is_capped_and_stays_valid_json(ctx, ws):
    (ws / "data.txt").write_text("".join(f"{i} needle {'x' * 250}\n" for i in range(600)))
    outcome, body = run(ctx, "coding_agent_search", {"pattern": "needle", "max_results": 500})
    assert outcome.ok
    assert len(outcome.content.encode()) <= CONTENT_CAP_BYTES
    assert "narrow the request" in body["content_truncated"]
    assert outcome.result["hits"] == 500
