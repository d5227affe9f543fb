"""Fixtures for the coding agent: a local OpenAI-compatible server and chat model rows.

The LLM is the only thing faked, at the network edge: rows are real, and an `openai`
row talks through the real client library to `tests/fakes/openai_server.py`.
"""

from __future__ import annotations

import pytest

from coding_agent.models import ChatModel
from tests.coding_agent import tool_workspace
from tests.fakes.openai_server import OpenAIServer

TEST_KEY_ENV = "CODING_AGENT_TEST_OPENAI_KEY"


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
