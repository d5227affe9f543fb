"""What a failing tool and a failed run look like in the panel."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.builder import last_turn, open_builder, preview_body, send, tool_rows, wait_finished
from tests.browser.scripts import OLD_HEADLINE, app_with_checks

pytestmark = pytest.mark.browser

BAD_PATCH = (
    "*** Begin Patch\n*** Update File: index.html\n@@\n"
    '-    <h1 id="headline">A headline that is not there</h1>\n'
    '+    <h1 id="headline">Never applied</h1>\n'
    "*** End Patch\n"
)
SCRIPT = [
    {
        "text": "Trying a patch.",
        "tool_calls": [{"id": "call_bad", "name": "coding_agent_apply_patch", "args": {"patch": BAD_PATCH}}],
    },
    {
        "text": "Reading the file again.",
        "tool_calls": [
            {"id": "call_again", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
        ],
    },
]


@pytest.fixture
def server_extra_env():
    return {"APPS_CODING_AGENT_MAX_TOOL_ITERATIONS": 1}


def test_a_failed_tool_and_a_failed_run_say_what_went_wrong(
    embedded_server, login, user, agent_model, screenshot
):
    agent_model(SCRIPT)
    app = app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    send(page, "Change the headline")
    turn = last_turn(page)
    wait_finished(turn, "failed")

    row = tool_rows(turn).first
    expect(row).to_have_attribute("data-state", "failed")
    expect(row.locator(".tool-title")).to_have_text("Couldn't edit index.html")
    row.get_by_text("Details").click()
    expect(row.locator(".tool-detail-text")).to_contain_text("Patch refused; no file was changed.")
    assert "{" not in row.inner_text()
    end = turn.locator(".run-end")
    expect(end).to_contain_text("Failed")
    expect(end).to_contain_text("tool round")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    expect(preview_body(page).locator("h1")).to_have_text(OLD_HEADLINE)
    screenshot(page, "14-run-failed")
    assert page.errors == []
