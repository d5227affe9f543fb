"""What another tenant's staff user, a hostile web page and a hostile model can do: nothing.

The Django admin shows a staff user who is not a superuser only the runs, events and tool
calls of apps they may act on (the REST API's rule), so a "view" permission neither reads
nor cancels another tenant's runs. The run websocket opens only for a page of this very
origin (host and port), not for any page whose host name happens to be allowed. A model's
text and tool arguments reach an operator's terminal (`run_agent`, `replay_run`) inert.
"""

import io

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.core.management import call_command

from coding_agent import runs
from coding_agent.consumers import CLOSE_NOT_AUTHENTICATED
from coding_agent.models import AgentRun, RunEvent, ToolCall
from coding_agent.routing import websocket_urlpatterns
from coding_agent.wsauth import SessionOrTokenAuthMiddleware
from tests.conftest import wait_for_run
from tests.factories import make_app, make_user

READ_PAGE = [
    {
        "text": "Reading the secret page.",
        "tool_calls": [
            {"id": "call_1", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
        ],
    },
    {"text": "Done."},
]
VIEW_ONLY = ["view_agentrun", "view_runevent", "view_toolcall"]


def staff_with(codenames, username="staffer"):
    staff = make_user(username, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


@pytest.mark.django_db(transaction=True)
def test_staff_see_runs_events_and_tool_calls_only_of_apps_they_may_act_on(
    client, inprocess, user, agent_model
):
    agent_model(READ_PAGE)
    theirs = make_app(user, name="Secret plans")
    run = wait_for_run(runs.start_run(app=theirs, user=user, input="Leak nothing"))
    staff = staff_with(VIEW_ONLY)
    mine = make_app(staff, name="Staff app")
    my_run = wait_for_run(runs.start_run(app=mine, user=staff, input="My own work"))
    client.force_login(staff)

    page = client.get("/django-admin/coding_agent/agentrun/").content.decode()
    assert str(my_run.id) in page and str(run.id) not in page
    assert client.get(f"/django-admin/coding_agent/agentrun/{run.id}/change/").status_code == 302
    assert client.get(f"/django-admin/coding_agent/agentrun/{my_run.id}/change/").status_code == 200
    event = RunEvent.objects.get(run=run, seq=1)
    assert client.get(f"/django-admin/coding_agent/runevent/{event.pk}/change/").status_code == 302
    call = ToolCall.objects.get(run=run)
    assert client.get(f"/django-admin/coding_agent/toolcall/{call.pk}/change/").status_code == 302
    for listing in ("runevent", "toolcall"):
        page = client.get(f"/django-admin/coding_agent/{listing}/").content.decode()
        assert str(my_run) in page and str(run) not in page, listing  # rows name their run

    # Made a member, the same staff user sees the app's runs as the API shows them.
    theirs.members.add(staff)
    assert client.get(f"/django-admin/coding_agent/agentrun/{run.id}/change/").status_code == 200


def test_a_view_permission_does_not_cancel_another_tenants_run_from_the_admin(
    client, user, agent_model, no_dispatch
):
    agent_model([{"text": "Working."}])
    run = runs.start_run(app=make_app(user), user=user, input="Keep going")
    client.force_login(staff_with(VIEW_ONLY))

    client.post(
        "/django-admin/coding_agent/agentrun/", {"action": "cancel_runs", "_selected_action": [str(run.id)]}
    )
    run.refresh_from_db()
    assert run.cancel_requested_at is None and run.status == AgentRun.Status.QUEUED


def test_a_member_on_staff_cancels_their_apps_run_from_the_admin(client, user, agent_model, no_dispatch):
    agent_model([{"text": "Working."}])
    app = make_app(user)
    staff = staff_with(VIEW_ONLY)
    app.members.add(staff)
    run = runs.start_run(app=app, user=user, input="Keep going")
    client.force_login(staff)

    client.post(
        "/django-admin/coding_agent/agentrun/", {"action": "cancel_runs", "_selected_action": [str(run.id)]}
    )
    run.refresh_from_db()
    assert run.cancel_requested_at is not None


async def open_socket(origin: str | None, host: str = "localhost:8000"):
    """The real websocket stack (origin check, session and token auth, routes), one handshake."""
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    path = "/ws/admin/apps/00000000-0000-0000-0000-000000000000/coding-agent/runs/1/stream"
    communicator = WebsocketCommunicator(
        SessionOrTokenAuthMiddleware(URLRouter(websocket_urlpatterns)), path, headers=headers
    )
    connected, _ = await communicator.connect()
    close = await communicator.receive_output() if connected else None
    await communicator.disconnect()
    return connected, close


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:9999",  # another server on the same host: cookies ignore ports
        "http://127.0.0.1:8000",  # an allowed host, but not the one the socket was opened on
        "https://localhost:8443",
        "null",  # a sandboxed app page
        "http://evil.example",
    ],
)
async def test_the_websocket_refuses_a_page_of_another_origin_even_on_an_allowed_host(origin, settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    connected, _ = await open_socket(origin)
    assert not connected, f"{origin} opened a socket on localhost:8000"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "origin, host, trusted",
    [
        ("http://localhost:8000", "localhost:8000", []),  # the builder's own page
        ("https://apps.example.com", "apps.example.com", []),  # behind a TLS proxy: scheme not compared
        ("https://builder.example.com", "apps.example.com", ["https://builder.example.com"]),
        ("https://eu.example.com", "apps.example.com", ["https://*.example.com"]),
        (None, "localhost:8000", []),  # a REST client sends no Origin
    ],
)
async def test_the_websocket_admits_its_own_origin_trusted_origins_and_clients_without_one(
    origin, host, trusted, settings
):
    settings.ALLOWED_HOSTS = ["localhost", "apps.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = trusted
    connected, close = await open_socket(origin, host)
    # Past the origin check, the consumer answers: not logged in.
    assert connected and close == {"type": "websocket.close", "code": CLOSE_NOT_AUTHENTICATED}


# A model that tries to drive the operator's terminal: set the clipboard (OSC 52), clear the
# screen and fake the end of the run over its own line, in its text and in a tool's arguments.
ESCAPES = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\rRun completed.\u009b1A\u202e"
HOSTILE = [
    {
        "text": f"Looking.{ESCAPES}",
        "tool_calls": [
            {"id": "call_1", "name": "coding_agent_search", "args": {"pattern": f"x{ESCAPES}"}},
            {"id": "call_2", "name": "coding_agent_read_file_range", "args": {"path": f"x{ESCAPES}.html"}},
        ],
    },
    {"text": f"Done.{ESCAPES}"},
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", ["run_agent", "replay_run", "replay_run --re-execute"])
def test_a_models_terminal_escapes_reach_the_operators_terminal_inert(
    command, inprocess, app, user, agent_model
):
    agent_model(HOSTILE)
    if command == "run_agent":
        args = ["run_agent", app.slug, "Look around"]
    else:
        run = wait_for_run(runs.start_run(app=app, user=user, input="Look around"))
        args = [*command.split(), str(run.pk)]
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=out)
    except SystemExit:
        pass  # replay exits with the run's outcome
    output = out.getvalue()

    for control in ("\x1b", "\x07", "\r", "\u009b", "\u202e"):
        assert control not in output, f"{control!r} written raw by {command}:\n{output!r}"
    assert "\\x1b]52;c;" in output  # shown, as an escape, so the operator sees the attempt
    if command != "replay_run --re-execute":
        assert "Looking." in output and "Done." in output
