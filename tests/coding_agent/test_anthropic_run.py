"""Whole runs on an `anthropic` model: the real ChatAnthropic client against a local Messages API server.

The twin of test_openai_run.py. The server (tests/fakes/anthropic_server.py) streams the
API's content blocks, splits tool input over `input_json_delta`s, reports usage in
`message_delta`, answers errors in Anthropic's shape, and refuses requests the real API
refuses, so these runs go through the same wire format as a run on Claude.
"""

from __future__ import annotations

import json
import threading

import pytest
from langchain_core.messages import HumanMessage

from coding_agent import runs
from coding_agent.engines.native import NUDGE
from coding_agent.models import RunEvent, ToolCall
from coding_agent.models_catalog import MAX_RETRIES, build_chat_model
from published_apps import blobs
from tests.coding_agent.conftest import ANTHROPIC_KEY_ENV as KEY_ENV
from tests.coding_agent.conftest import first_delta, start_worker
from tests.conftest import event_names, streamed_text, wait_for_run
from tests.fakes.anthropic_server import blocks, message_text

pytestmark = pytest.mark.django_db(transaction=True)

PATCH = (
    "*** Begin Patch\n*** Update File: index.html\n@@\n"
    '-    <h1 id="headline">Plan your week in minutes</h1>\n'
    '+    <h1 id="headline">Plan your week over coffee</h1>\n*** End Patch\n'
)
SCRIPT = [
    {
        "text": "Let me look at the page and its missing stylesheet before editing.",
        "tool_calls": [
            {"id": "toolu_read", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}},
            {"id": "toolu_missing", "name": "coding_agent_read_file_range", "args": {"path": "nowhere.css"}},
        ],
    },
    {
        "text": "Now the edit.",
        "tool_calls": [{"id": "toolu_patch", "name": "coding_agent_apply_patch", "args": {"patch": PATCH}}],
    },
    {"text": "The headline now says “Plan your week over coffee”."},
]
RETRY_AFTER_S = 0.01  # the fake's retry-after header, so the client's retries do not back off for seconds


def run_on(model, app, user, text="Coffee headline"):
    return wait_for_run(runs.start_run(app=app, user=user, input=text, model_id=model.id))


def test_a_text_answer_streams_in_deltas_and_completes(inprocess, app, user, anthropic_server, claude):
    answer = "Your page is a landing page with a headline, three features and a sign-up form."
    anthropic_server.script = [{"text": answer, "delay_ms": 5}]
    run = run_on(claude, app, user, "What is on my page?")

    assert run.status == "completed", (run.error_code, run.error_message)
    assert run.resolved_model_id == "fake-claude"
    assert run.final_text == answer
    deltas = RunEvent.objects.filter(run=run, event="assistant.delta")
    assert deltas.count() >= 2  # streamed as it came, not one block at the end
    assert streamed_text(run) == answer
    assert event_names(run)[-1] == "run.completed"

    (request,) = anthropic_server.message_requests
    assert request.body["stream"] is True
    assert request.body["model"] == anthropic_server.model
    assert "coding agent of a web-app builder" in request.body["system"]
    assert request.body["messages"] == [{"role": "user", "content": "What is on my page?"}]


def test_tool_calls_split_over_input_json_deltas_run_and_their_results_go_back_as_tool_result_blocks(
    inprocess, app, user, anthropic_server, claude, anthropic_key
):
    anthropic_server.script = SCRIPT
    base = app.draft_revision
    run = run_on(claude, app, user)

    assert run.status == "completed", (run.error_code, run.error_message)
    assert run.final_text == SCRIPT[2]["text"]
    text = streamed_text(run)
    assert text.startswith("Let me look at the page") and "Now the edit." in text
    assert text.endswith("“Plan your week over coffee”.")

    # Both calls of the first turn ran with the arguments the deltas added up to.
    started = RunEvent.objects.filter(run=run, event="tool.started").order_by("seq")
    assert [(e.payload["tool_call_id"], e.payload["args"]) for e in started] == [
        ("toolu_read", {"path": "index.html"}),
        ("toolu_missing", {"path": "nowhere.css"}),
        ("toolu_patch", {"patch": PATCH}),
    ]
    assert ToolCall.objects.filter(run=run).count() == 3

    requests = anthropic_server.message_requests
    assert len(requests) == 3
    assert all(r.api_key == anthropic_key for r in requests)
    assert {t["name"] for t in requests[0].body["tools"]} >= {
        "coding_agent_apply_patch",
        "coding_agent_read_file_range",
    }
    assert all("input_schema" in t for t in requests[0].body["tools"])

    # The second request replays the model's turn as tool_use blocks, answered in the next message.
    *_, assistant, results = requests[1].body["messages"]
    assert assistant["role"] == "assistant"
    assert [(b["id"], b["input"]) for b in blocks(assistant, "tool_use")] == [
        ("toolu_read", {"path": "index.html"}),
        ("toolu_missing", {"path": "nowhere.css"}),
    ]
    assert results["role"] == "user"
    read, missing = blocks(results, "tool_result")
    assert read["tool_use_id"] == "toolu_read" and read["is_error"] is False
    assert "Plan your week in minutes" in json.dumps(read["content"])
    assert missing["tool_use_id"] == "toolu_missing" and missing["is_error"] is True

    # The third carries the patch's call and its result after everything before it.
    *_, patch_call, patch_result = requests[2].body["messages"]
    assert blocks(patch_call, "tool_use")[0]["input"] == {"patch": PATCH}
    assert [b["tool_use_id"] for b in blocks(patch_result, "tool_result")] == ["toolu_patch"]
    assert blocks(patch_result, "tool_result")[0]["is_error"] is False

    app.refresh_from_db()
    assert run.result_revision == app.draft_revision and run.result_revision.parent == base
    html = blobs.read(run.result_revision.manifest["index.html"]["sha256"]).decode()
    assert '<h1 id="headline">Plan your week over coffee</h1>' in html
    names = event_names(run)
    assert names.index("revision.created") < names.index("run.completed")
    assert anthropic_key not in str(list(RunEvent.objects.filter(run=run).values_list("payload", flat=True)))


def test_the_usage_the_api_reports_is_summed_on_the_run(inprocess, app, user, anthropic_server, claude):
    anthropic_server.script = [
        {
            "text": "Reading first.",
            "tool_calls": [{"name": "coding_agent_read_file_range", "args": {"path": "index.html"}}],
            "usage": {"input_tokens": 1200, "cache_read_input_tokens": 300, "output_tokens": 40},
        },
        {"text": "It is a landing page.", "usage": {"input_tokens": 1500, "output_tokens": 12}},
    ]
    run = run_on(claude, app, user, "What is this page?")

    assert run.status == "completed", (run.error_code, run.error_message)
    # Anthropic counts cached input apart; the run's input is all the model read.
    assert run.usage["input_tokens"] == 1200 + 300 + 1500
    assert run.usage["output_tokens"] == 40 + 12
    assert run.usage["total_tokens"] == 1200 + 300 + 1500 + 40 + 12
    assert run.usage["model_calls"] == 2


def test_an_empty_answer_after_tools_gets_its_plain_language_reply(
    inprocess, app, user, anthropic_server, claude
):
    # Claude may end a turn with no content at all after a tool result; the engine then asks
    # for a plain-language reply, a request that still carries the tool_use and tool_result blocks.
    anthropic_server.script = [
        {
            "tool_calls": [
                {"id": "toolu_read", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
            ]
        },
        {},
        {"text": "I read index.html; nothing needed changing."},
    ]
    run = run_on(claude, app, user, "Check the page")

    assert run.status == "completed", (run.error_code, run.error_message)
    assert run.final_text == "I read index.html; nothing needed changing."
    reply = anthropic_server.message_requests[-1].body
    assert NUDGE in message_text(reply["messages"][-1])
    # The API refuses tool blocks without tools: they are defined, and none may be called.
    assert reply["tools"] and reply["tool_choice"] == {"type": "none"}


def test_a_tool_input_cut_off_at_max_tokens_goes_back_as_a_failed_tool_result(
    inprocess, app, user, anthropic_server, claude
):
    anthropic_server.script = [
        {
            "text": "Reading the page.",
            "tool_calls": [
                {"id": "toolu_cut", "name": "coding_agent_read_file_range", "args": '{"path": "index.ht'}
            ],
            "stop_reason": "max_tokens",
        },
        {"text": "My last call was cut off; nothing was changed."},
    ]
    run = run_on(claude, app, user, "Read the page")

    assert run.status == "completed", (run.error_code, run.error_message)
    assert run.final_text == "My last call was cut off; nothing was changed."
    assert RunEvent.objects.get(run=run, event="tool.failed").payload["tool_call_id"] == "toolu_cut"
    *_, call, result = anthropic_server.message_requests[-1].body["messages"]
    assert [b["id"] for b in blocks(call, "tool_use")] == ["toolu_cut"]
    (answer,) = blocks(result, "tool_result")
    assert answer["tool_use_id"] == "toolu_cut" and answer["is_error"] is True


def test_a_rejected_key_fails_the_run_without_leaking_the_key(
    inprocess, app, user, anthropic_server, claude, anthropic_key
):
    anthropic_server.script = [{"http_status": 401, "error": f"invalid x-api-key: {anthropic_key}"}]
    run = run_on(claude, app, user, "x")

    assert run.status == "failed" and run.error_code == "MODEL_ERROR"
    assert "authentication_error" in run.error_message
    assert anthropic_key not in run.error_message and "***" in run.error_message
    assert anthropic_key not in streamed_text(run)
    assert RunEvent.objects.filter(run=run).last().event == "run.failed"
    assert len(anthropic_server.message_requests) == 1  # a refused key is not retried


def test_a_key_the_server_does_not_know_is_refused_there(
    inprocess, app, user, anthropic_server, claude, anthropic_key
):
    anthropic_server.api_key = "sk-ant-the-right-one"
    anthropic_server.script = [{"text": "Never sent."}]
    run = run_on(claude, app, user, "x")

    assert run.status == "failed" and run.error_code == "MODEL_ERROR"
    assert "authentication_error" in run.error_message and "invalid x-api-key" in run.error_message
    assert streamed_text(run).startswith("I couldn't finish this request")
    assert anthropic_server.message_requests[0].api_key == anthropic_key


def test_a_rate_limit_that_passes_is_retried_and_the_run_completes(
    inprocess, app, user, anthropic_server, claude
):
    anthropic_server.script = [
        {
            "http_status": 429,
            "error": "Number of request tokens has exceeded your per-minute rate limit",
            "retry_after": RETRY_AFTER_S,
            "times": 1,
            "text": "Fine after all.",
        }
    ]
    run = run_on(claude, app, user, "x")

    assert run.status == "completed", (run.error_code, run.error_message)
    assert run.final_text == "Fine after all."
    refused, accepted = anthropic_server.message_requests
    assert refused.body == accepted.body
    assert (refused.headers["x-stainless-retry-count"], accepted.headers["x-stainless-retry-count"]) == (
        "0",
        "1",
    )


@pytest.mark.parametrize(
    "status,kind",
    [(429, "rate_limit_error"), (500, "api_error"), (529, "overloaded_error")],
)
def test_an_error_that_persists_through_the_retries_fails_the_run_naming_it(
    inprocess, app, user, anthropic_server, claude, status, kind
):
    anthropic_server.script = [
        {"http_status": status, "error": "Try again later.", "retry_after": RETRY_AFTER_S}
    ]
    run = run_on(claude, app, user, "x")

    assert run.status == "failed" and run.error_code == "MODEL_ERROR"
    assert kind in run.error_message and str(status) in run.error_message
    assert len(anthropic_server.message_requests) == 1 + MAX_RETRIES
    assert RunEvent.objects.filter(run=run).last().event == "run.failed"


def test_an_overload_in_the_middle_of_a_stream_fails_the_run_after_the_text_already_shown(
    inprocess, app, user, anthropic_server, claude
):
    anthropic_server.script = [
        {"text": "Looking at your page right now.", "stream_error": "overloaded_error", "error_after": 2}
    ]
    run = run_on(claude, app, user, "x")

    assert run.status == "failed" and run.error_code == "MODEL_ERROR"
    assert "overloaded_error" in run.error_message
    assert streamed_text(run) == "Looking at"  # the two deltas sent before the error reached the watchers
    assert event_names(run)[-1] == "run.failed"


def test_a_missing_key_fails_the_run_naming_the_variable(
    inprocess, monkeypatch, app, user, anthropic_server, claude
):
    monkeypatch.delenv(KEY_ENV)
    anthropic_server.script = [{"text": "Never sent."}]
    run = run_on(claude, app, user, "x")

    assert run.status == "failed" and run.error_code == "MODEL_UNAVAILABLE"
    assert KEY_ENV in run.error_message
    assert anthropic_server.requests == []


def test_a_cancel_stops_the_worker_while_claude_is_silent(app, user, anthropic_server, claude, monkeypatch):
    gate = threading.Event()  # opened only after the test: the model stays silent
    anthropic_server.script = [{"text": "First words, then a long pause.", "gate": gate, "gate_after": 1}]
    run, worker = start_worker(monkeypatch, app, user, claude)
    try:
        event = first_delta(run)
        assert event is not None and event.payload["text"] == "First"
        runs.cancel_run(run=run)
        worker.join(20)  # a safety net: the model would stay silent for a minute
        assert not worker.is_alive(), "the worker kept waiting on the silent model after the cancel"
        run.refresh_from_db()
        assert run.status == "cancelled"
        assert event_names(run)[-1] == "run.cancelled"
    finally:
        gate.set()


def test_a_non_streaming_build_gets_the_turn_as_one_message(anthropic_server, claude):
    anthropic_server.script = SCRIPT
    answer = build_chat_model(claude, streaming=False).invoke([HumanMessage("Go.")])

    assert [c["args"] for c in answer.tool_calls] == [{"path": "index.html"}, {"path": "nowhere.css"}]
    assert answer.usage_metadata["total_tokens"] > 0
    assert "stream" not in anthropic_server.message_requests[-1].body
