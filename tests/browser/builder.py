"""The builder page as tests see it: opening it, sending, and reading what it shows."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

# Records every state a tool row has shown, so a test can tell a row was "running"
# before it was "completed" however fast the tool was; and whether "Thinking…" showed.
RECORD_TOOL_STATES = """
window.__toolStates = {};
const note = (row) => {
  const id = row.dataset.toolCallId;
  const seen = (window.__toolStates[id] = window.__toolStates[id] || []);
  if (seen[seen.length - 1] !== row.dataset.state) seen.push(row.dataset.state);
};
new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === "attributes" && r.target.classList.contains("tool-row")) note(r.target);
    for (const node of r.addedNodes || []) {
      if (node.nodeType !== 1) continue;
      if (node.querySelector && node.querySelector(".thinking:not([hidden])")) window.__thinkingShown = true;
      if (node.classList.contains("tool-row")) note(node);
      node.querySelectorAll && node.querySelectorAll(".tool-row").forEach(note);
    }
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
"""


def builder_url(server_url: str, app) -> str:
    return f"{server_url}/apps/{app.id}/builder"


def open_builder(page: Page, server_url: str, app, *, record_tools: bool = False) -> Page:
    if record_tools:
        page.add_init_script(RECORD_TOOL_STATES)
    page.goto(builder_url(server_url, app))
    wait_ready(page)
    return page


def wait_ready(page: Page) -> None:
    try:
        expect(page.locator("#builder")).to_have_attribute("data-ready", "true")
    except AssertionError as exc:
        raise AssertionError(f"the builder did not finish loading; script errors: {page.errors}") from exc


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message to the agent")
    box.fill(text)
    box.press("Enter")


def turns(page: Page):
    return page.locator("#conversation-log > .turn")


def last_turn(page: Page):
    return turns(page).last


def run_id_of(turn) -> str:
    return turn.get_attribute("data-run-id")


def wait_finished(turn, status: str = "completed") -> None:
    expect(turn).to_have_attribute("data-status", status)
    expect(turn.locator(".run-end")).to_be_visible()


def final_answer(turn) -> str:
    return turn.locator(".final-answer").inner_text().strip()


def preview_body(page: Page):
    return page.frame_locator("#preview-frame").locator("body")


def tool_rows(turn):
    return turn.locator(".tool-row")


def tool_states(page: Page) -> dict:
    return page.evaluate("() => window.__toolStates")


def thinking_was_shown(page: Page) -> bool:
    return page.evaluate("() => window.__thinkingShown === true")


def page_does_not_scroll(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
