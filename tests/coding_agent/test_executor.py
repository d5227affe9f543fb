"""The agent loop through real runs: argument shapes, limits, time-outs, quiet models, compaction."""

import json

import pytest

from coding_agent import runs
from coding_agent.models import RunEvent, ToolCall
from published_apps import blobs
from tests.conftest import event_names, streamed_text, wait_for_run

pytestmark = pytest.mark.django_db(transaction=True)


def read_call(call_id, args):
    return {"id": call_id, "name": "coding_agent_read_file_range", "args": args}


def tool_events(run):
    rows = RunEvent.objects.filter(run=run, event__startswith="tool.").order_by("seq")
    return [(e.event, e.payload["tool_call_id"], e.payload) for e in rows]


def draft_text(app, path):
    app.refresh_from_db()
    return blobs.read(app.draft_revision.manifest[path]["sha256"]).decode()


# Every spelling models send for `path`, every wrapper, and JSON strings at each level.
ARGUMENT_SHAPES = {
    "canonical": {"path": "index.html"},
    "file_path": {"file_path": "index.html"},
    "filePath": {"filePath": "index.html"},
    "filepath": {"filepath": "index.html"},
    "file": {"file": "index.html"},
    "filename": {"filename": "index.html"},
    "fileName": {"fileName": "index.html"},
    "json_string": json.dumps({"path": "index.html"}),
    "input_wrapper": {"input": {"path": "index.html"}},
    "args_wrapper": {"args": {"file_path": "index.html"}},
    "arguments_wrapper_json": {"arguments": json.dumps({"path": "index.html"})},
    "parameters_wrapper": {"parameters": {"path": "index.html"}},
    "payload_wrapper": {"payload": {"filePath": "index.html"}},
    "value_wrapper": {"value": {"path": "index.html"}},
    "nested_wrappers": {"input": {"args": json.dumps({"path": "index.html"})}},
    "json_string_of_wrapper": json.dumps({"arguments": {"path": "index.html"}}),
}


def test_every_alias_wrapper_and_json_shape_reaches_the_tool(inprocess, app, user, agent_model):
    calls = [read_call(f"call_{name}", args) for name, args in ARGUMENT_SHAPES.items()]
    agent_model([{"text": "Reading in every dialect.", "tool_calls": calls}, {"text": "Read it."}])
    run = wait_for_run(runs.start_run(app=app, user=user, input="read"))
    assert run.status == "completed"
    completed = {call_id for event, call_id, _ in tool_events(run) if event == "tool.completed"}
    assert completed == {f"call_{name}" for name in ARGUMENT_SHAPES}
    for row in ToolCall.objects.filter(run=run):
        assert row.status == "completed" and row.result["args"]["path"] == "index.html", row.tool_call_id


MISSING_FIELDS = [
    ("coding_agent_read_file_range", {}, ["path"]),
    ("coding_agent_read_file_range", {"input": "not json"}, ["path"]),
    ("coding_agent_search", {"path_prefix": "."}, ["pattern"]),
    ("coding_agent_apply_patch", {"expected_sha256": {}}, ["patch"]),
    ("coding_agent_rename_file", {"from_path": "a.js"}, ["to_path"]),
    ("coding_agent_rename_file", {}, ["from_path", "to_path"]),
    ("coding_agent_delete_file", {"path": ""}, ["path"]),
    ("coding_agent_run_check", {}, ["check"]),
    ("coding_agent_collect_context", {}, ["query", "paths"]),
]


def test_each_missing_field_fails_the_call_not_the_run_and_nothing_runs(inprocess, app, user, agent_model):
    calls = [
        {"id": f"bad_{i}", "name": name, "args": args} for i, (name, args, _) in enumerate(MISSING_FIELDS)
    ]
    agent_model([{"text": "Sloppy calls.", "tool_calls": calls}, {"text": "I'll be more careful."}])
    before = app.draft_revision.manifest
    run = wait_for_run(runs.start_run(app=app, user=user, input="go"))
    assert run.status == "completed" and run.result_revision is None
    failures = {call_id: payload for event, call_id, payload in tool_events(run) if event == "tool.failed"}
    for i, (_, _, fields) in enumerate(MISSING_FIELDS):
        payload = failures[f"bad_{i}"]
        assert payload["code"] == "TOOL_INPUT_VALIDATION_FAILED", payload
        assert payload["fields"] == fields, (i, payload)
    app.refresh_from_db()
    assert app.draft_revision.manifest == before


def test_policy_failures_are_results_the_model_reads(inprocess, app, user, agent_model):
    calls = [
        read_call("escape", {"path": "../../etc/passwd"}),
        read_call("git", {"path": ".git/config"}),
        read_call("absent", {"path": "nope.html"}),
    ]
    agent_model([{"text": "Probing.", "tool_calls": calls}, {"text": "Those are off limits."}])
    run = wait_for_run(runs.start_run(app=app, user=user, input="go"))
    assert run.status == "completed"
    codes = {
        call_id: payload["code"] for event, call_id, payload in tool_events(run) if event == "tool.failed"
    }
    assert codes == {"escape": "PATH_OUTSIDE_WORKSPACE", "git": "PATH_FORBIDDEN", "absent": "FILE_NOT_FOUND"}


def test_a_refused_patch_reports_diagnostics_and_the_model_can_retry(inprocess, app, user, agent_model):
    bad = (
        "*** Begin Patch\n*** Update File: index.html\n@@\n-<h1>Not there</h1>\n+<h1>x</h1>\n*** End Patch\n"
    )
    good = (
        "--- a/index.html\n+++ b/index.html\n@@ -14,1 +14,1 @@\n"
        '-    <h1 id="headline">Plan your week in minutes</h1>\n'
        '+    <h1 id="headline">Second try</h1>\n'
    )
    agent_model(
        [
            {
                "text": "Trying.",
                "tool_calls": [{"id": "p1", "name": "coding_agent_apply_patch", "args": {"patch": bad}}],
            },
            {
                "text": "Again.",
                "tool_calls": [{"id": "p2", "name": "coding_agent_apply_patch", "args": {"patch": good}}],
            },
            {"text": "Fixed."},
        ]
    )
    run = wait_for_run(runs.start_run(app=app, user=user, input="go"))
    assert run.status == "completed"
    failed = RunEvent.objects.get(run=run, event="tool.failed")
    assert failed.payload["code"] == "PATCH_REJECTED"
    assert failed.diagnostics["patch_code"] == "context_mismatch"
    assert failed.diagnostics["patch_failure_count"] == 1 and failed.diagnostics["recommended_refresh"] == [
        "index.html"
    ]
    assert '<h1 id="headline">Second try</h1>' in draft_text(app, "index.html")


def test_max_tool_iterations_fails_the_run_and_keeps_the_work(inprocess, settings, app, user, agent_model):
    settings.APPS_CODING_AGENT_MAX_TOOL_ITERATIONS = 2
    create = {"id": "new", "name": "coding_agent_apply_patch",
              "args": {"patch": "*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n"}}  # fmt: skip
    turns = [{"text": "Round 1.", "tool_calls": [create]}]
    turns += [
        {"text": f"Round {n}.", "tool_calls": [read_call(f"r{n}", {"path": "notes.txt"})]} for n in (2, 3)
    ]
    agent_model(turns)
    run = wait_for_run(runs.start_run(app=app, user=user, input="loop"))
    assert run.status == "failed" and run.error_code == "MAX_TOOL_ITERATIONS"
    assert ToolCall.objects.filter(run=run).count() == 2  # the third round never ran
    # The last turn's text is delivered although its tool call never started.
    assert streamed_text(run) == "Round 1.Round 2.Round 3."
    names = event_names(run)
    assert names[-1] == "run.failed" and names.count("run.failed") == 1
    assert run.result_revision.partial and "notes.txt" in run.result_revision.manifest
    app.refresh_from_db()
    assert app.draft_revision != run.result_revision  # partial work does not move the draft


def test_a_tool_past_the_time_limit_fails_the_run_with_tool_timeout(
    inprocess, settings, app, user, agent_model
):
    settings.APPS_CODING_AGENT_TOOL_TIMEOUT_S = 1
    app.checks = {"slow": {"argv": ["sleep", "30"], "paths": ["*"]}}
    app.save(update_fields=["checks"])
    agent_model(
        [
            {
                "text": "Checking.",
                "tool_calls": [{"id": "c", "name": "coding_agent_run_check", "args": {"check": "slow"}}],
            }
        ]
    )
    run = wait_for_run(runs.start_run(app=app, user=user, input="check"))
    assert run.status == "failed" and run.error_code == "TOOL_TIMEOUT"
    failed = RunEvent.objects.get(run=run, event="tool.failed")
    assert failed.payload["code"] == "TOOL_TIMEOUT"
    assert event_names(run)[-1] == "run.failed"


def test_a_quiet_model_is_asked_once_for_text_then_a_fallback_is_said(inprocess, app, user, agent_model):
    index = {"id": "i", "name": "coding_agent_workspace_index", "args": {}}
    # Turn 2 says nothing and calls nothing: the nudge turn (3) also says nothing.
    agent_model([{"tool_calls": [index]}, {"text": " "}, {"text": " "}])
    run = wait_for_run(runs.start_run(app=app, user=user, input="?"))
    assert run.status == "completed"
    deltas = RunEvent.objects.filter(run=run, event="assistant.delta").order_by("seq")
    assert deltas.last().payload["text"] == "I've finished working on your request."
    assert run.final_text == "I've finished working on your request."


def test_the_nudge_turn_gets_the_models_words(inprocess, app, user, agent_model):
    agent_model([{"tool_calls": [{"id": "i", "name": "coding_agent_workspace_index", "args": {}}]}, {"text": " "},
                 {"text": "Here is what I found."}])  # fmt: skip
    run = wait_for_run(runs.start_run(app=app, user=user, input="?"))
    assert run.final_text == "Here is what I found."


def test_prior_messages_over_budget_are_compacted_and_recorded(inprocess, settings, app, user, agent_model):
    settings.APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS = 1000
    agent_model([{"text": "OK."}])
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i}:" + "x" * 300} for i in range(6)
    ]
    run = wait_for_run(runs.start_run(app=app, user=user, input="latest " * 20, messages=history))
    assert run.status == "completed"
    assert run.compaction["omitted_messages"] == 4 and run.compaction["kept_messages"] == 2
    assert run.compaction["budget_chars"] == 1000


def test_text_before_slowly_streamed_tool_arguments_is_not_held_back(inprocess, app, user, agent_model):
    # The model says a few words, then streams a tool call's arguments slowly (as a real
    # model writing a long patch does): the words go out while the arguments stream.
    agent_model(
        [
            {
                "text": "Patching now.",
                "delay_ms": 100,
                "tool_calls": [read_call("r1", {"path": "index.html"})],
            },
            {"text": "Done."},
        ]
    )
    run = wait_for_run(runs.start_run(app=app, user=user, input="patch"))
    assert run.status == "completed" and streamed_text(run) == "Patching now.Done."
    events = list(RunEvent.objects.filter(run=run).order_by("seq"))
    started = next(e for e in events if e.event == "tool.started")
    last_words = [e for e in events if e.event == "assistant.delta" and e.seq < started.seq][-1]
    # Four scripted pauses of 100 ms separate the first argument chunk from the turn's end.
    assert (started.created_at - last_words.created_at).total_seconds() >= 0.3
