"""The way in (log in, app list, builder, preview) and a page that fits the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.builder import (
    last_turn,
    open_builder,
    page_does_not_scroll,
    preview_body,
    turns,
    wait_ready,
)
from tests.browser.scripts import OLD_HEADLINE
from tests.e2e.clients import Api
from tests.factories import make_app

pytestmark = pytest.mark.browser

SANDBOX = "allow-scripts allow-forms allow-modals allow-popups"
LONG_ANSWER = "\n\n".join(
    f"Paragraph {n}: the agent explains, at some length, what it looked at and why the change is safe."
    for n in range(1, 31)
)


def test_the_app_list_leads_to_the_builder_and_its_styled_preview(embedded_server, login, user, screenshot):
    app = make_app(user, name="Aurora site")
    page = login(embedded_server.url, as_user=False)
    refused = []  # every request of the way in succeeds, down to the icon (a browser's own fetch)
    page.on("response", lambda response: refused.append(response.url) if response.status >= 400 else None)
    page.on("console", lambda msg: refused.append(msg.text) if "Failed to load" in msg.text else None)
    page.goto(f"{embedded_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pass-1234")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your apps")).to_be_visible()
    screenshot(page, "00-app-list")

    page.locator(f'tr[data-app-id="{app.id}"]').get_by_role("link", name="Open builder").click()
    wait_ready(page)
    assert page.url == f"{embedded_server.url}/apps/{app.id}/builder"
    expect(page.get_by_role("heading", name="Aurora site")).to_be_visible()
    frame = page.locator("#preview-frame")
    expect(frame).to_have_attribute("sandbox", SANDBOX)
    expect(preview_body(page).locator("h1")).to_have_text(OLD_HEADLINE)
    # The page's stylesheet applied inside the sandboxed frame (its opaque origin loads it
    # through the signed preview path): the call-to-action is the template's accent pill.
    button = preview_body(page).locator(".hero .button")
    expect(button).to_have_css("background-color", "rgb(79, 70, 229)")
    expect(button).to_have_css("border-radius", "999px")
    # The frame cannot reach the builder's origin.
    assert (
        frame.evaluate("(el) => { try { return !!el.contentDocument; } catch (e) { return false; } }")
        is False
    )
    expect(page.locator("#file-tree button[data-path]")).to_have_text(["app.js", "index.html", "styles.css"])
    expect(page.locator("#code-scroll .tok-tag").first).to_be_visible()
    expect(page.locator("#conversation-empty")).to_be_visible()
    screenshot(page, "01-builder-initial")
    # Keyboard: a file opens from the tree, with CSS highlighting.
    page.locator('#file-tree button[data-path="styles.css"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#code-path")).to_have_text("styles.css")
    expect(page.locator("#code-scroll .tok-property").first).to_have_text("--ink")
    page.keyboard.press("Tab")
    expect(page.locator("#code-scroll")).to_be_focused()
    assert page.errors == []
    assert refused == []


@pytest.mark.parametrize(
    ("viewport", "name"),
    [
        ({"width": 1366, "height": 768}, "10-long-conversation-1366"),
        ({"width": 1920, "height": 1080}, "11-long-conversation-1920"),
    ],
)
def test_a_long_conversation_scrolls_inside_its_pane_and_the_page_never_grows(
    embedded_server, login, user, api_token, agent_model, screenshot, viewport, name
):
    agent_model([{"text": LONG_ANSWER}])
    app = make_app(user)
    with Api(embedded_server.url, api_token) as api:
        for n in range(3):
            run = api.create_run(app.id, f"Question {n + 1}: explain the page")
            api.wait_for_terminal(app.id, run["id"])
    page = open_builder(login(embedded_server.url, viewport=viewport), embedded_server.url, app)
    expect(turns(page)).to_have_count(3)
    assert page_does_not_scroll(page)
    pane = page.locator("#conversation")
    metrics = pane.evaluate("(el) => [el.scrollHeight, el.clientHeight, el.scrollTop]")
    scroll_height, client_height, scroll_top = metrics
    assert scroll_height > 3 * client_height  # the conversation is long ...
    assert scroll_top + client_height >= scroll_height - 2  # ... and opens at the latest
    latest = page.get_by_role("button", name="Scroll to latest")
    expect(latest).to_be_hidden()
    expect(page.get_by_label("Message to the agent")).to_be_in_viewport()

    # Scrolled up, the control appears; it brings the latest back.
    pane.evaluate("(el) => el.scrollTo(0, 0)")
    expect(latest).to_be_visible()
    expect(page.get_by_label("Message to the agent")).to_be_in_viewport()
    screenshot(page, f"{name}-scrolled-up")
    latest.click()
    expect(latest).to_be_hidden()
    expect(last_turn(page).locator(".run-end")).to_be_in_viewport()

    # A fourth long answer streams in; the page still does not grow; Shift+Enter is a new line.
    box = page.get_by_label("Message to the agent")
    box.fill("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    expect(box).to_have_value("line one\nline two")
    expect(turns(page)).to_have_count(3)
    box.press("Enter")
    expect(turns(page)).to_have_count(4)
    expect(last_turn(page).locator(".msg-user .bubble")).to_have_text("line one\nline two")
    expect(last_turn(page)).to_have_attribute("data-status", "completed")
    expect(last_turn(page).locator(".run-end")).to_be_in_viewport()
    assert page_does_not_scroll(page)
    screenshot(page, name)
    assert page.errors == []


@pytest.mark.parametrize("width", [375, 600, 1366])
def test_the_app_list_fits_the_screen_without_scrolling_sideways(
    embedded_server, login, user, screenshot, width
):
    from published_apps import publishing

    app = make_app(user, name="Quarterly-retrospective-planning-board-for-the-whole-team")
    publishing.publish(app=app)
    page = login(embedded_server.url, viewport={"width": width, "height": 800})
    page.goto(f"{embedded_server.url}/")
    row = page.locator(f'tr[data-app-id="{app.id}"]')
    expect(row.get_by_role("link", name="Open builder")).to_be_in_viewport()
    expect(row.get_by_role("button", name="Published")).to_be_in_viewport()
    screenshot(page, f"02-app-list-{width}")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert page.errors == []
