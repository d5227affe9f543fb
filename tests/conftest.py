"""Shared fixtures: a user, another user and an app, plus clients for both auth styles.

Tests run on the database the environment names: PostgreSQL when DATABASE_URL is set
(CI's first pass, with Redis), SQLite otherwise (the embedded default, CI's second pass).
"""

from __future__ import annotations

import os

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_app, make_user

# `manage.py` reads the checkout's `.env`; commands the tests start must not.
os.environ["APPS_READ_DOTENV"] = "0"


@pytest.fixture(scope="session", autouse=True)
def _close_checkpointer_before_dropping_the_database(django_db_setup, django_db_blocker):
    yield
    from coding_agent import checkpointer

    checkpointer.close()


@pytest.fixture(autouse=True)
def _stop_cancel_grace_timers():
    """A cancel's grace check fires seconds later; one left over from a finished test would
    touch the database after the test let go of it."""
    yield
    from coding_agent import runs

    for timer in list(runs.grace_timers):
        timer.cancel()


@pytest.fixture
def user(db):
    return make_user("alice")


@pytest.fixture
def other_user(db):
    return make_user("mallory")


@pytest.fixture
def app(user):
    return make_app(user, name="Landing")


@pytest.fixture
def api(user):
    """A REST client authenticated with the user's token."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def other_api(other_user):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=other_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def browser_client(client, user):
    """Django's test client with the user's session (what the web UI uses)."""
    client.force_login(user)
    return client


@pytest.fixture
def inprocess(settings):
    """Runs execute in this process's thread pool (the embedded mode), whatever the environment says."""
    settings.RUN_EXECUTION = "inprocess"


def wait_for_run(run, *, timeout: float = 60.0):
    """Poll the database until the run has finished; a safety net, not a performance limit."""
    import time

    from coding_agent.models import AgentRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = AgentRun.objects.get(pk=run.pk)
        if not current.is_active:
            return current
        time.sleep(0.05)
    raise AssertionError(f"run {run.pk} still {current.status} after {timeout} s")


def event_names(run) -> list[str]:
    from coding_agent.models import RunEvent

    return list(RunEvent.objects.filter(run_id=run.pk).order_by("seq").values_list("event", flat=True))


def streamed_text(run) -> str:
    """Everything the run said in `assistant.delta` events, in order."""
    from coding_agent.models import RunEvent

    deltas = RunEvent.objects.filter(run_id=run.pk, event="assistant.delta").order_by("seq")
    return "".join(event.payload["text"] for event in deltas)


@pytest.fixture
def agent_model(db):
    """Factory: make a scripted chat model the default (what Auto resolves to)."""
    from coding_agent import models_catalog
    from coding_agent.models import ChatModel

    def make(script: list[dict], model_id: str = "test-script") -> ChatModel:
        row = ChatModel.objects.create(
            id=model_id, label="Test script", provider=ChatModel.Provider.SCRIPTED, script=script
        )
        return models_catalog.set_default(row)

    return make


@pytest.fixture
def no_dispatch(settings):
    """Runs are created but handed to nobody: the test executes them itself (e.g. in a subprocess)."""
    from config.celery import app as celery_app

    settings.RUN_EXECUTION = "celery"
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "memory://"
    yield
    celery_app.conf.broker_url = previous
