"""Fixtures for the coding agent: local model servers and chat model rows.

The LLM is the only thing faked, at the network edge: rows are real, and an `openai`
(`anthropic`) row talks through the real client library to `tests/fakes/openai_server.py`
(`anthropic_server.py`). Also: a run executed by a worker thread the test holds.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from coding_agent import runs
from coding_agent.engines.native import NUDGE
from coding_agent.executor import execute_run
from coding_agent.models import ChatModel, RunEvent
from tests.coding_agent import tool_workspace
from tests.fakes.anthropic_server import AnthropicServer, message_text
from tests.fakes.openai_server import OpenAIServer

TEST_KEY_ENV = "CODING_AGENT_TEST_OPENAI_KEY"
ANTHROPIC_KEY_ENV = "CODING_AGENT_TEST_ANTHROPIC_KEY"


@pytest.fixture
def openai_server():
    """A started server with an empty script; set `openai_server.script = [...]` in the test."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def openai_key(monkeypatch) -> str:
    """A fake key in the environment variable that `openai_chat_model` names."""
    key = "sk-test-4f9c2e7a1b"
    monkeypatch.setenv(TEST_KEY_ENV, key)
    return key


@pytest.fixture
def openai_chat_model(db, openai_server, openai_key) -> ChatModel:
    """An active `openai` row pointing at the local server (not the default)."""
    return ChatModel.objects.create(
        id="fake-openai",
        label="Fake OpenAI",
        provider=ChatModel.Provider.OPENAI,
        model_name=openai_server.model,
        base_url=openai_server.base_url,
        api_key_env=TEST_KEY_ENV,
    )


@pytest.fixture
def anthropic_server():
    """A started server with an empty script; set `anthropic_server.script = [...]` in the test."""
    with AnthropicServer(is_nudge=lambda message: NUDGE in message_text(message)) as server:
        yield server


@pytest.fixture
def anthropic_key(monkeypatch) -> str:
    key = "sk-ant-test-7d3a9c1e5f"
    monkeypatch.setenv(ANTHROPIC_KEY_ENV, key)
    return key


@pytest.fixture
def claude(db, anthropic_server, anthropic_key) -> ChatModel:
    """An active `anthropic` row pointing at the local server (not the default)."""
    return ChatModel.objects.create(
        id="fake-claude",
        label="Fake Claude",
        provider=ChatModel.Provider.ANTHROPIC,
        model_name=anthropic_server.model,
        base_url=anthropic_server.base_url,
        api_key_env=ANTHROPIC_KEY_ENV,
    )


@pytest.fixture
def scripted_model(db):
    """Factory for scripted rows: `scripted_model("id", script, is_active=..., label=...)`."""

    def make(model_id: str, script: list[dict] | None = None, **fields) -> ChatModel:
        fields.setdefault("label", model_id.title())
        return ChatModel.objects.create(
            id=model_id, provider=ChatModel.Provider.SCRIPTED, script=script or [{"text": "Hi."}], **fields
        )

    return make


# A small workspace and a ToolContext on it, for the toolpack tests (tool_workspace.py).
@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    for rel, text in tool_workspace.FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def ctx(ws):
    return tool_workspace.context(ws)


@pytest.fixture
def broker_down(settings):
    """Celery's broker is a Redis nothing listens on: sending a task message fails."""
    from config.celery import app as celery_app

    settings.RUN_EXECUTION = "celery"
    previous = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"  # the discard port: refused at once
    celery_app.conf.broker_transport_options = {"max_retries": 0}
    drop_broker_connections(celery_app)  # an earlier test's connection would still deliver
    yield
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = previous
    drop_broker_connections(celery_app)


def drop_broker_connections(celery_app) -> None:
    """Forget pooled broker connections, so the next message connects to the broker now configured."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    if "amqp" in celery_app.__dict__:
        celery_app.amqp._producer_pool = None


def start_worker(monkeypatch, app, user, model) -> tuple:
    """A run created as the API does, executed by a worker thread the test holds."""
    monkeypatch.setattr(runs, "dispatch", lambda run_id: None)
    run = runs.start_run(app=app, user=user, input="Think it over", model_id=model.id)

    def work():
        try:
            execute_run(run.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work, name="test-worker", daemon=True)
    worker.start()
    return run, worker


def first_delta(run, *, within: float = 20.0):
    """The run's first `assistant.delta`, polled for; a safety net, not a performance limit."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        event = RunEvent.objects.filter(run=run, event="assistant.delta").order_by("seq").first()
        if event is not None:
            return event
        time.sleep(0.05)
    return None
