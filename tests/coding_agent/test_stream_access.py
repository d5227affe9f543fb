"""A follower who loses the right to a run stops receiving it while the run goes on."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from coding_agent import runs, streams
from coding_agent.routing import websocket_urlpatterns
from coding_agent.wsauth import SessionOrTokenAuthMiddleware
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)  # the streams' ORM calls close connections


@pytest.fixture
def member(app):
    member = make_user("member")
    app.members.add(member)
    return member


@pytest.fixture
def waiting_run(app, user, settings, monkeypatch, agent_model):
    """A run that stays queued: nothing executes it, so its stream never ends by itself."""
    settings.RUN_EXECUTION = "celery"
    settings.CELERY_BROKER_URL = "memory://localhost/"
    from config.celery import app as celery_app

    monkeypatch.setattr(celery_app.conf, "broker_url", "memory://localhost/")
    monkeypatch.setattr(streams, "ACCESS_CHECK_S", 0.1)
    monkeypatch.setattr(streams, "POLL_S", 0.1)
    agent_model([{"text": "Never played."}])
    return runs.start_run(app=app, user=user, input="keep going")


def stream_url(app, run) -> str:
    return f"/admin/apps/{app.pk}/coding-agent/runs/{run.pk}/stream"


@pytest.mark.parametrize("lose", ["removed from the app", "deactivated"])
def test_sse_ends_for_a_follower_who_lost_access(app, member, waiting_run, lose):
    client = APIClient()
    client.force_authenticate(member)
    response = client.get(stream_url(app, waiting_run), HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    if lose == "deactivated":
        member.is_active = False
        member.save()
    else:
        app.members.remove(member)

    async def drain():
        return b"".join([chunk async for chunk in response.streaming_content])

    async def drain_in_time():
        return await asyncio.wait_for(drain(), timeout=20)

    body = async_to_sync(drain_in_time)().decode()
    assert "event: run.accepted" in body  # what it could see is delivered, then the stream ends
    if lose == "removed from the app":  # reconnecting (EventSource does) answers 404
        again = client.get(stream_url(app, waiting_run), HTTP_ACCEPT="text/event-stream")
        assert again.status_code == 404


def test_sse_keeps_following_while_access_stands(app, member, waiting_run):
    client = APIClient()
    client.force_authenticate(member)
    response = client.get(stream_url(app, waiting_run), HTTP_ACCEPT="text/event-stream")

    async def first_chunks():
        chunks = aiter(response.streaming_content)
        got = [await anext(chunks), await anext(chunks)]  # retry, run.accepted
        with pytest.raises(TimeoutError):  # many access checks later, still open
            await asyncio.wait_for(anext(chunks), timeout=1.0)
        return got

    got = async_to_sync(first_chunks)()
    assert b"run.accepted" in got[1]


async def test_the_websocket_closes_4404_when_the_follower_is_removed_from_the_app(app, member, waiting_run):
    token = await sync_to_async(lambda: Token.objects.create(user=member).key)()
    communicator = WebsocketCommunicator(
        SessionOrTokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
        f"/ws{stream_url(app, waiting_run)}",
        headers=[(b"authorization", f"Token {token}".encode())],
    )
    connected, _ = await communicator.connect()
    assert connected
    accepted = await communicator.receive_json_from(timeout=10)
    assert accepted["event"] == "run.accepted"
    await communicator.receive_nothing(timeout=0.5)  # access stands: the socket stays open
    await sync_to_async(app.members.remove)(member)
    closed = await communicator.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 4404}
    await communicator.disconnect()
