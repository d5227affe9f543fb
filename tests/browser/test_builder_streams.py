"""The panel's stream survives what networks do: a socket dropped mid-run, duplicated and
reordered frames, no websockets at all, and a page reload during a run."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.builder import (
    final_answer,
    last_turn,
    open_builder,
    preview_body,
    run_id_of,
    send,
    tool_rows,
    turns,
    wait_finished,
    wait_ready,
)
from tests.browser.scripts import NEW_HEADLINE, app_with_checks, edit_script
from tests.e2e.clients import Api

pytestmark = pytest.mark.browser

WS_PATTERN = "**/ws/admin/apps/**"
TOOL_CALLS = ["call_read", "call_patch", "call_check"]


def assert_shown_once(page, turn, api, app_id) -> None:
    """The panel shows the run exactly as persisted: every turn's text once and in order,
    each tool call once, the input once, and the final answer."""
    run = api.run(app_id, run_id_of(turn))
    by_turn: dict = {}
    for event in api.events(app_id, run["id"]):
        if event["event"] == "assistant.delta":
            key = (event.get("diagnostics") or {}).get("turn")
            by_turn[key] = by_turn.get(key, "") + event["payload"]["text"]
    persisted = [text.strip().replace("**", "") for text in by_turn.values()]
    assert [text.strip() for text in turn.locator(".md").all_inner_texts()] == persisted
    assert final_answer(turn) == run["final_text"].replace("**", "")
    rows = tool_rows(turn)
    expect(rows).to_have_count(len(TOOL_CALLS))
    assert [rows.nth(i).get_attribute("data-tool-call-id") for i in range(len(TOOL_CALLS))] == TOOL_CALLS
    for i in range(len(TOOL_CALLS)):
        expect(rows.nth(i)).to_have_attribute("data-state", "completed")
    expect(page.locator(".msg-user .bubble")).to_have_count(len(turns(page).all()))


def test_a_dropped_websocket_resumes_from_the_last_seq_with_nothing_twice_or_missing(
    stack, login, user, api_token, agent_model, screenshot
):
    agent_model(edit_script(delay_ms=30))
    app = app_with_checks(user)
    page = login(stack.web.url)
    sockets = []
    sent_before_drop: list[str] = []

    def route(ws):
        sockets.append(ws.url)
        server = ws.connect_to_server()
        if len(sockets) == 1:
            # The first socket dies after six frames, as a flaky network would do it.
            def relay(message):
                if len(sent_before_drop) >= 6:
                    return
                sent_before_drop.append(message)
                ws.send(message)
                if len(sent_before_drop) == 6:
                    ws.close(code=1011, reason="network trouble")
                    server.close()

            server.on_message(relay)
        elif len(sockets) == 2:
            # The next one first repeats frames the page already has, then swaps two new ones:
            # the panel must drop the repeats and apply the rest in seq order.
            for message in sent_before_drop[-3:]:
                ws.send(message)
            held = []

            def reorder(message):
                if len(held) < 2:
                    held.append(message)
                    if len(held) == 2:
                        ws.send(held[1])
                        ws.send(held[0])
                    return
                ws.send(message)

            server.on_message(reorder)

    page.route_web_socket(WS_PATTERN, route)
    open_builder(page, stack.web.url, app)
    send(page, "Change the headline")
    turn = last_turn(page)
    wait_finished(turn)

    assert len(sockets) >= 2, sockets
    last_seq_before_drop = json.loads(sent_before_drop[-1])["seq"]
    assert sockets[1].endswith(f"after_seq={last_seq_before_drop}"), sockets
    with Api(stack.web.url, api_token) as api:
        assert_shown_once(page, turn, api, app.id)
    expect(preview_body(page).locator("h1")).to_have_text(NEW_HEADLINE)
    screenshot(page, "12-resumed-after-drop")
    assert page.errors == []


# A socket that cannot open at all (a proxy that refuses the upgrade): error, then close 1006.
NEVER_OPENS = """
window.__socketAttempts = [];
window.WebSocket = class {
  constructor(url) {
    window.__socketAttempts.push(url);
    this.readyState = 0;
    setTimeout(() => {
      this.readyState = 3;
      if (this.onerror) this.onerror(new Event("error"));
      if (this.onclose) this.onclose({ code: 1006, reason: "", wasClean: false });
    }, 20);
  }
  close() {}
  send() {}
};
"""


@pytest.mark.parametrize("how", ["closed-on-open", "never-opens"])
def test_without_websockets_the_panel_falls_back_to_server_sent_events(
    embedded_server, login, user, api_token, agent_model, how
):
    agent_model(edit_script(delay_ms=10))
    app = app_with_checks(user, quick_s=0)
    page = login(embedded_server.url)
    routed = []

    def refuse(ws):
        routed.append(ws.url)
        ws.close(code=1011, reason="no websockets here")

    if how == "closed-on-open":
        page.route_web_socket(WS_PATTERN, refuse)
    else:
        page.add_init_script(NEVER_OPENS)

    def attempts() -> int:
        return (
            len(routed) if how == "closed-on-open" else page.evaluate("() => window.__socketAttempts.length")
        )

    streams = []
    page.on("request", lambda request: "/stream?" in request.url and streams.append(request.url))
    open_builder(page, embedded_server.url, app)
    send(page, "Change the headline")
    turn = last_turn(page)
    wait_finished(turn)

    expect(page.locator("#builder")).to_have_attribute("data-transport", "sse")
    assert attempts() > 0 and streams, streams
    with Api(embedded_server.url, api_token) as api:
        assert_shown_once(page, turn, api, app.id)
    expect(preview_body(page).locator("h1")).to_have_text(NEW_HEADLINE)

    # The next run on this page goes straight to SSE.
    tried = attempts()
    send(page, "Again")
    wait_finished(last_turn(page), "completed")
    assert attempts() == tried
    assert page.errors == []


def test_a_reload_during_a_run_reattaches_and_renders_the_backlog(
    embedded_server, login, user, api_token, agent_model, screenshot
):
    agent_model(edit_script(delay_ms=40, check="quick"))
    app = app_with_checks(user, quick_s=3)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    send(page, "Change the headline")
    expect(last_turn(page).locator('.tool-row[data-state="running"]')).to_contain_text("Running check quick")

    page.reload()
    wait_ready(page)
    turn = last_turn(page)
    # Followed again from seq 0: the backlog is there while the run still runs.
    expect(turn).to_have_attribute("data-status", "running")
    expect(tool_rows(turn).first).to_contain_text("Read index.html lines 1\u201340")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    screenshot(page, "13-reattached-after-reload")
    wait_finished(turn)
    with Api(embedded_server.url, api_token) as api:
        assert_shown_once(page, turn, api, app.id)
    expect(preview_body(page).locator("h1")).to_have_text(NEW_HEADLINE)
    assert page.errors == []
