"""Tenant isolation over real HTTP and websockets: another user's app and runs do not exist for you.

Every coding-agent endpoint answers another user 404 with the contract's error body and
nothing of the app; the websocket closes with 4404 (4401 when not authenticated) before
sending a single event.
"""

import asyncio

import httpx
import pytest
import websockets
from django.test import Client
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.clients import Api, auth, check_envelopes, run_path, ws_session
from tests.factories import make_app

SLOW = [{"text": "Taking a while, so the run is still going while others knock. " * 3, "delay_ms": 30}]


def not_found(response: httpx.Response, *secrets: str) -> None:
    assert response.status_code == 404, (response.request.method, response.request.url, response.text)
    body = response.json()
    assert body["code"] == "NOT_FOUND" and body["message"], body
    for secret in secrets:
        assert secret not in response.text, f"the 404 body leaks {secret!r}"


def session_cookie(user) -> str:
    """A logged-in browser session (the server shares the test's database and secret key)."""
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_another_user_gets_404_from_every_coding_agent_endpoint(
    stack, user, other_user, api_token, other_token, agent_model
):
    agent_model(SLOW)
    app = make_app(user, name="Secret plans")
    app_id = str(app.id)
    theirs = str(make_app(other_user, name="Mallory's").id)
    with Api(stack.web.url, api_token) as owner, Api(stack.web.url, other_token) as other:
        run_id = owner.create_run(app_id, "Keep going")["id"]
        checkpoint_id = owner.checkpoints(app_id)[0]["id"]
        base = f"/admin/apps/{app_id}/coding-agent"
        secrets = ("Secret plans", "Keep going", checkpoint_id)
        http = other.http
        for response in (
            http.get(f"{base}/models"),
            http.get(f"{base}/runs"),
            http.post(f"{base}/runs", json={"input": "Let me in"}),
            http.get(f"{base}/runs/{run_id}"),
            http.post(f"{base}/runs/{run_id}/cancel"),
            http.get(f"{base}/runs/{run_id}/events"),
            http.get(f"{base}/runs/{run_id}/events", params={"after_seq": 0}),
            http.get(f"{base}/runs/{run_id}/stream"),
            http.get(f"{base}/runs/{run_id}/stream", headers={"Accept": "text/event-stream"}),
            http.get(f"{base}/checkpoints"),
            http.post(f"{base}/checkpoints/{checkpoint_id}/restore"),
            # The app's own endpoints too.
            http.get(f"/admin/apps/{app_id}"),
            http.get(f"/admin/apps/{app_id}/revisions"),
            http.get(f"/admin/apps/{app_id}/files"),
            http.get(f"/admin/apps/{app_id}/files/index.html"),
            # The owner's run and checkpoint named under the other user's own app.
            http.get(f"{run_path(theirs, run_id)}"),
            http.get(f"{run_path(theirs, run_id)}/events"),
            http.get(f"{run_path(theirs, run_id)}/stream"),
            http.post(f"{run_path(theirs, run_id)}/cancel"),
            http.post(f"/admin/apps/{theirs}/coding-agent/checkpoints/{checkpoint_id}/restore"),
        ):
            not_found(response, *secrets)

        # The knocking changed nothing: the run was not cancelled, no run was added, no restore made.
        finished = owner.wait_for_terminal(app_id, run_id)
        assert finished["status"] == "completed" and finished["cancel_requested_at"] is None
        assert [r["id"] for r in owner.http.get(f"{base}/runs").json()["results"]] == [run_id]
        assert len(owner.revisions(app_id)) == 1
        assert other.http.get(f"/admin/apps/{theirs}/coding-agent/runs").json()["results"] == []

        # Not authenticated at all: refused, in the contract's error shape.
        anonymous = httpx.get(f"{stack.web.url}{base}/runs/{run_id}/events", trust_env=False)
        assert anonymous.status_code in (401, 403) and anonymous.json()["code"], anonymous.text


def test_the_websocket_serves_the_owner_and_refuses_everyone_else_without_sending_an_event(
    stack, user, other_user, api_token, other_token, agent_model
):
    agent_model([{"text": "Private work."}])
    app_id = str(make_app(user).id)
    theirs = str(make_app(other_user).id)
    with Api(stack.web.url, api_token) as owner:
        run_id = owner.create_run(app_id, "Private")["id"]
        owner.wait_for_terminal(app_id, run_id)
        persisted = owner.events(app_id, run_id)
    origin = {"Origin": stack.web.url}

    def session(token, headers=None, app=app_id):
        return asyncio.run(ws_session(stack.web.ws_url, token, app, run_id, after_seq=0, headers=headers))

    # The owner, by token (REST clients) and by session cookie (the browser).
    for name, mine in (
        ("token", session(api_token)),
        ("session", session(None, {"Cookie": session_cookie(user)} | origin)),
    ):
        assert mine.envelopes == persisted and mine.close_code == 1000, name
    check_envelopes(persisted, run_id=run_id, app_id=app_id)

    for who, (token, headers, app, expected) in {
        "other user's token": (other_token, {}, app_id, 4404),
        "other user's session": (None, {"Cookie": session_cookie(other_user)} | origin, app_id, 4404),
        "other user, the run under their own app": (other_token, {}, theirs, 4404),
        "no credentials": (None, {}, app_id, 4401),
        "bad token": ("not-a-token", {}, app_id, 4401),
    }.items():
        refused = session(token, headers, app)
        assert refused.envelopes == [], f"{who}: a refused socket must not receive any event"
        assert refused.close_code == expected, f"{who}: closed with {refused.close_code}, expected {expected}"

    # A page on another site cannot ride the owner's cookie (cross-site websocket hijacking).
    with pytest.raises(InvalidStatus) as hijack:
        session(None, {"Cookie": session_cookie(user), "Origin": "https://evil.example"})
    assert hijack.value.response.status_code == 403

    # Malformed requests close like a refusal, never as a failed handshake.
    for what, (app, run, after_seq, expected) in {
        "a run id that is not a UUID": (app_id, "abc", 0, 4404),
        "an app id that is not a UUID": ("not-a-uuid", run_id, 0, 4404),
        "a negative after_seq": (app_id, run_id, -1, 4400),
        "an after_seq that is not a number": (app_id, run_id, "abc", 4400),
    }.items():
        refused = asyncio.run(ws_session(stack.web.ws_url, api_token, app, run, after_seq=after_seq))
        assert (refused.envelopes, refused.close_code) == ([], expected), what

    async def knock(path):
        url = f"{stack.web.ws_url}{path}"
        async with websockets.connect(url, additional_headers=auth(api_token), proxy=None) as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code

    assert asyncio.run(knock("/ws/no/such/stream")) == 4404
    assert asyncio.run(knock(f"/ws/admin/apps/{app_id}/coding-agent/runs/{run_id}/stream/extra")) == 4404
