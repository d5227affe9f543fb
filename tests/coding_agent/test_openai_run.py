"""A whole run against a local OpenAI-compatible server through the real ChatOpenAI client."""

import threading

import pytest

from coding_agent import runs
from coding_agent.engines.native import NUDGE
from coding_agent.models import RunEvent
from published_apps import blobs
from tests.coding_agent.conftest import first_delta, start_worker
from tests.conftest import wait_for_run

pytestmark = pytest.mark.django_db(transaction=True)

PATCH = (
    "*** Begin Patch\n*** Update File: index.html\n@@\n"
    '-    <h1 id="headline">Plan your week in minutes</h1>\n'
    '+    <h1 id="headline">Plan your week over coffee</h1>\n*** End Patch\n'
)
SCRIPT = [
    {
        "text": "Let me look at the page before editing it.",
        "tool_calls": [
            {"id": "call_r", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
        ],
    },
    {
        "text": "Now the edit.",
        "tool_calls": [{"id": "call_p", "name": "coding_agent_apply_patch", "args": {"patch": PATCH}}],
    },
    {"text": "The headline now says “Plan your week over coffee”."},
]


def test_a_run_through_an_openai_compatible_server(
    inprocess, app, user, openai_server, openai_chat_model, openai_key
):
    openai_server.script = SCRIPT
    openai_server.is_nudge = lambda message: message.get("content") == NUDGE
    run = wait_for_run(
        runs.start_run(app=app, user=user, input="Coffee headline", model_id=openai_chat_model.id)
    )
    assert run.status == "completed", run.error_message
    assert run.resolved_model_id == "fake-openai"

    deltas = RunEvent.objects.filter(run=run, event="assistant.delta").order_by("seq")
    assert deltas.count() >= 3  # streamed, not one block per turn
    text = "".join(d.payload["text"] for d in deltas)
    assert text.startswith("Let me look at the page") and text.endswith("“Plan your week over coffee”.")
    assert run.final_text == "The headline now says “Plan your week over coffee”."
    assert run.usage["model_calls"] == 3 and run.usage["total_tokens"] > 0

    app.refresh_from_db()
    html = blobs.read(app.draft_revision.manifest["index.html"]["sha256"]).decode()
    assert '<h1 id="headline">Plan your week over coffee</h1>' in html

    requests = openai_server.chat_requests
    assert len(requests) == 3
    assert all(r.headers["authorization"] == f"Bearer {openai_key}" for r in requests)
    first = requests[0].body
    assert first["stream"] is True and first["messages"][0]["role"] == "system"
    assert {t["function"]["name"] for t in first["tools"]} >= {
        "coding_agent_apply_patch",
        "coding_agent_read_file_range",
    }
    # The tool results went back to the model, tied to the model's call ids.
    tool_messages = [m for m in requests[2].body["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_r", "call_p"]
    assert openai_key not in str(list(RunEvent.objects.filter(run=run).values_list("payload", flat=True)))


def test_an_api_error_fails_the_run_without_leaking_the_key(
    inprocess, app, user, openai_server, openai_chat_model, openai_key
):
    openai_server.script = [{"http_status": 401, "error": f"Incorrect API key provided: {openai_key}"}]
    run = wait_for_run(runs.start_run(app=app, user=user, input="x", model_id=openai_chat_model.id))
    assert run.status == "failed" and run.error_code == "MODEL_ERROR"
    assert openai_key not in run.error_message and "***" in run.error_message
    assert RunEvent.objects.filter(run=run).last().event == "run.failed"


def test_a_server_that_cannot_be_reached_is_named_in_the_failure(inprocess, app, user, openai_chat_model):
    import socket

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    openai_chat_model.base_url = f"http://127.0.0.1:{port}/v1"
    openai_chat_model.save()
    run = wait_for_run(runs.start_run(app=app, user=user, input="x", model_id=openai_chat_model.id))
    assert run.status == "failed" and run.error_code == "MODEL_ERROR"
    assert f"could not reach the openai endpoint at http://127.0.0.1:{port}/v1" in run.error_message


def test_a_missing_key_fails_the_run_naming_the_variable(
    inprocess, monkeypatch, app, user, openai_chat_model
):
    monkeypatch.delenv(openai_chat_model.api_key_env)
    run = wait_for_run(runs.start_run(app=app, user=user, input="x", model_id=openai_chat_model.id))
    assert run.status == "failed" and run.error_code == "MODEL_UNAVAILABLE"
    assert openai_chat_model.api_key_env in run.error_message


PAUSE_SCRIPT = [{"text": "First words, then a long pause before the rest.", "gate_after": 1}]


def test_text_read_before_the_model_pauses_is_streamed_during_the_pause(
    app, user, openai_server, openai_chat_model, monkeypatch
):
    gate = threading.Event()
    openai_server.script = [{**PAUSE_SCRIPT[0], "gate": gate}]
    run, worker = start_worker(monkeypatch, app, user, openai_chat_model)
    try:
        # The server sent "First" and fell silent: the text must not wait for the next chunk.
        event = first_delta(run)
        assert event is not None, "streamed text was held back while the model was silent"
        assert event.payload["text"] == "First"
    finally:
        gate.set()
        worker.join(60)
    run.refresh_from_db()
    assert run.status == "completed" and run.final_text == PAUSE_SCRIPT[0]["text"]


def test_a_cancel_stops_the_worker_while_the_model_is_silent(
    app, user, openai_server, openai_chat_model, monkeypatch
):
    gate = threading.Event()  # opened only after the test: the model stays silent
    openai_server.script = [{**PAUSE_SCRIPT[0], "gate": gate}]
    run, worker = start_worker(monkeypatch, app, user, openai_chat_model)
    try:
        assert first_delta(run) is not None
        runs.cancel_run(run=run)
        worker.join(20)  # a safety net: the model would stay silent for a minute
        assert not worker.is_alive(), "the worker kept waiting on the silent model after the cancel"
        run.refresh_from_db()
        assert run.status == "cancelled"
        names = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("event", flat=True))
        assert names[-1] == "run.cancelled" and names.count("run.cancelled") == 1
    finally:
        gate.set()


def test_a_lone_surrogate_from_the_model_is_stored_as_a_replacement_character(
    inprocess, app, user, openai_server, openai_chat_model
):
    # A cut emoji escape ("\\ud83d" alone) in the streamed text and in a tool call's arguments.
    openai_server.script = [
        {
            "text": "Looking for \ud83d now.",
            "tool_calls": [{"id": "call_s", "name": "coding_agent_search", "args": {"pattern": "x\ud83d"}}],
        },
        {"text": "Nothing found \ud83d."},
    ]
    run = wait_for_run(runs.start_run(app=app, user=user, input="Find it", model_id=openai_chat_model.id))
    assert run.status == "completed", (run.error_code, run.error_message)
    text = "".join(e.payload["text"] for e in RunEvent.objects.filter(run=run, event="assistant.delta"))
    assert "Looking for \ufffd now." in text and run.final_text == "Nothing found \ufffd."
    started = RunEvent.objects.get(run=run, event="tool.started")
    assert started.payload["args"] == {"pattern": "x\ufffd"}
