"""Cross-site websocket hijacking over a real server: only a page of the server's own origin
rides the owner's session cookie.

Cookies ignore ports, so a page served by anything else on the same host (another port)
carries the owner's cookie too; its Origin names an allowed host, yet it is not ours.
"""

import asyncio

import pytest
from django.test import Client
from websockets.exceptions import InvalidStatus

from tests.e2e.clients import Api, ws_session
from tests.e2e.servers import free_port
from tests.factories import make_app


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_a_page_on_another_port_of_the_same_host_cannot_open_the_owners_run_stream(
    embedded_server, user, api_token, agent_model
):
    agent_model([{"text": "Private work."}])
    app_id = str(make_app(user).id)
    with Api(embedded_server.url, api_token) as owner:
        run_id = owner.create_run(app_id, "Private")["id"]
        owner.wait_for_terminal(app_id, run_id)
    cookie = {"Cookie": session_cookie(user)}

    def stream(origin):
        return asyncio.run(
            ws_session(embedded_server.ws_url, None, app_id, run_id, after_seq=0, headers=cookie | origin)
        )

    # The builder's own page: the whole run.
    mine = stream({"Origin": embedded_server.url})
    assert mine.close_code == 1000 and mine.envelopes[-1]["event"] == "run.completed"

    # Any other server on this host (a dev server, another app), or another allowed host name
    # than the one the socket was opened on: refused at the handshake.
    for origin in (f"http://127.0.0.1:{free_port()}", f"http://localhost:{embedded_server.port}"):
        with pytest.raises(InvalidStatus) as refused:
            stream({"Origin": origin})
        assert refused.value.response.status_code == 403, origin
