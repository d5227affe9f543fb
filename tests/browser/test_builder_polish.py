"""The builder's finer points: what a send carries, tabs that stay in step, an ended session in
plain words, notices and focus that behave, and a layout that holds with long names."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from coding_agent import prompts
from tests.browser.builder import (
    final_answer,
    last_turn,
    open_builder,
    page_does_not_scroll,
    preview_body,
    send,
    turns,
    wait_finished,
)
from tests.browser.scripts import NEW_HEADLINE, app_with_checks, edit_script, make_model, slow_check_script
from tests.e2e.clients import Api
from tests.factories import make_app

pytestmark = pytest.mark.browser

SESSION_ENDED = "Your session has ended. Reload the page and log in again."
STILL_WORKING = "The agent is still working. Wait for it to finish, or stop it."
BUDGET = 1000
# 280 characters as the server counts them (code points), 300 in JavaScript's `length`.
PADDED_ANSWER = "An answer of a known length: " + "\U0001f642 " * 20 + "x" * 211
LAPTOPS = [{"width": 1024, "height": 700}, {"width": 1366, "height": 768}]
LONG_NAME = ("A very long but valid name " * 7).strip()
MISSING_KEY_ENV = "APPS_BROWSER_TEST_KEY_NEVER_SET"
RENAME_SCRIPT = [
    {
        "text": "Moving the script into a folder.",
        "tool_calls": [
            {
                "id": "call_rename",
                "name": "coding_agent_rename_file",
                "args": {"from_path": "app.js", "to_path": "js/main.js"},
            }
        ],
    },
    {"text": "Moved app.js to js/main.js."},
]


def edited_app(user, api_token, server_url):
    """An app with two checkpoints: the starter's and one run's (made by the `editor` model)."""
    make_model("editor", edit_script(delay_ms=0, check=None), label="Editor")
    app = app_with_checks(user)
    with Api(server_url, api_token) as api:
        run = api.create_run(app.id, "Change the headline", model_id="editor")
        api.wait_for_terminal(app.id, run["id"])
    return app


def focus_tab(page) -> None:
    """What the browser does when the user comes back to this tab."""
    page.evaluate("() => window.dispatchEvent(new Event('focus'))")


@pytest.mark.parametrize("server_extra_env", [{"APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS": BUDGET}])
def test_a_send_carries_only_the_latest_prior_turns_that_fit_the_servers_budget(
    embedded_server, login, user, api_token, agent_model
):
    agent_model([{"text": PADDED_ANSWER}])
    app = make_app(user)
    history = []
    with Api(embedded_server.url, api_token) as api:
        for n in range(1, 5):
            question = f"Question {n}: what does the page say?"
            run = api.wait_for_terminal(app.id, api.create_run(app.id, question)["id"])
            history += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": run["final_text"]},
            ]
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    expect(page.locator("#builder")).to_have_attribute("data-message-budget", str(BUDGET))
    expect(turns(page)).to_have_count(4)

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/runs")) as sent:
        send(page, "One more change")
    messages = sent.value.post_data_json["messages"]
    size = sum(len(m["content"]) for m in messages)
    assert size <= BUDGET
    # The latest whole messages, as many as fit, counted as the server counts (the emoji are
    # one character each): the next older one would not fit.
    assert messages and messages == history[len(history) - len(messages) :]
    assert size + len(history[len(history) - len(messages) - 1]["content"]) > BUDGET
    # So the agent sees exactly what it would have seen from the whole history.
    kept, _ = prompts.conversation(messages=messages, user_input="One more change", budget_chars=BUDGET)
    full, _ = prompts.conversation(messages=history, user_input="One more change", budget_chars=BUDGET)
    assert kept == full
    wait_finished(last_turn(page))
    assert page.errors == []


def test_a_second_tab_catches_up_with_runs_made_elsewhere_and_sends_them_as_history(
    embedded_server, login, user, api_token, agent_model
):
    agent_model([{"text": "Second answer."}])
    make_model("editor", edit_script(delay_ms=0, check=None), label="Editor")
    app = app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    checkpoints = page.locator("#checkpoint-list > .checkpoint")
    expect(checkpoints).to_have_count(1)
    expect(turns(page)).to_have_count(0)

    # Another tab (here the REST API) runs the agent; coming back, this tab shows that run.
    with Api(embedded_server.url, api_token) as api:
        first = api.wait_for_terminal(
            app.id, api.create_run(app.id, "Change the headline", model_id="editor")["id"]
        )
    focus_tab(page)
    expect(turns(page)).to_have_count(1)
    wait_finished(turns(page).first)
    assert final_answer(turns(page).first) == first["final_text"].replace("**", "")
    expect(checkpoints).to_have_count(2)
    expect(checkpoints.first).to_contain_text("current draft")
    expect(preview_body(page).locator("h1")).to_have_text(NEW_HEADLINE)

    # Another run elsewhere, and this tab sends without having been focused: the history is
    # the server's, not only what this tab had seen.
    with Api(embedded_server.url, api_token) as api:
        second = api.wait_for_terminal(app.id, api.create_run(app.id, "Say something")["id"])
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/runs")) as sent:
        send(page, "A follow-up")
    assert sent.value.post_data_json["messages"] == [
        {"role": "user", "content": "Change the headline"},
        {"role": "assistant", "content": first["final_text"]},
        {"role": "user", "content": "Say something"},
        {"role": "assistant", "content": second["final_text"]},
    ]
    expect(turns(page)).to_have_count(3)
    expect(page.locator("#conversation-log .msg-user .bubble")).to_have_text(
        ["Change the headline", "Say something", "A follow-up"]
    )
    wait_finished(last_turn(page))
    assert page.errors == []


def test_after_the_session_ends_send_restore_and_files_say_so_in_plain_words(
    embedded_server, login, user, api_token, agent_model
):
    agent_model([{"text": "Hello."}])
    app = edited_app(user, api_token, embedded_server.url)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    other = page.context.new_page()  # the user logs out in another tab
    other.goto(f"{embedded_server.url}/")
    other.get_by_role("button", name="Log out").click()
    expect(other.get_by_role("button", name="Log in")).to_be_visible()
    other.close()

    send(page, "Hello")
    error = page.locator("#composer-error")
    expect(error).to_contain_text(SESSION_ENDED)
    reload = error.get_by_role("button", name="Reload")
    expect(reload).to_be_visible()

    page.get_by_role("tab", name="Checkpoints").click()
    page.get_by_role("button", name=re.compile("^Restore")).first.click()
    page.locator("#restore-confirm").click()
    expect(page.locator("#checkpoint-alert")).to_contain_text(SESSION_ENDED)

    page.get_by_role("tab", name="Code").click()
    page.locator('#file-tree button[data-path="app.js"]').click()
    expect(page.locator("#code-scroll")).to_contain_text(SESSION_ENDED)
    assert "credentials" not in page.locator("body").inner_text()

    reload.click()  # the page reloads, and the login page asks to log in again
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_the_still_working_notice_goes_away_when_the_run_ends(embedded_server, login, user, agent_model):
    agent_model(slow_check_script())
    app = app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    send(page, "Run the slow check")
    turn = last_turn(page)
    expect(turn.locator('.tool-row[data-state="running"]')).to_contain_text("Running check slow")
    send(page, "And one more thing")
    error = page.locator("#composer-error")
    expect(error).to_have_text(STILL_WORKING)

    page.get_by_role("button", name="Stop").click()
    wait_finished(turn, "cancelled")
    expect(error).to_be_hidden()
    expect(page.get_by_label("Message to the agent")).to_have_value("And one more thing")  # nothing lost
    assert page.errors == []


def test_choosing_a_checkpoint_with_the_keyboard_keeps_the_focus_on_it(
    embedded_server, login, user, api_token, agent_model
):
    agent_model([{"text": "Hello."}])
    app = edited_app(user, api_token, embedded_server.url)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    page.get_by_role("tab", name="Checkpoints").click()
    items = page.locator("#checkpoint-list > .checkpoint")
    expect(items).to_have_count(2)
    expect(items.first).to_have_class(re.compile(r"\bis-selected\b"))

    items.nth(1).locator(".checkpoint-show").focus()
    page.keyboard.press("Enter")
    expect(items.nth(1)).to_have_class(re.compile(r"\bis-selected\b"))
    expect(page.locator("#diff-view")).to_contain_text("The first version of the app")
    expect(items.nth(1).locator(".checkpoint-show")).to_be_focused()

    # A refresh of the list (the tab regains focus) keeps it there too.
    focus_tab(page)
    page.wait_for_load_state("networkidle")
    expect(items.nth(1).locator(".checkpoint-show")).to_be_focused()
    page.keyboard.press("Tab")
    expect(items.nth(1).get_by_role("button", name=re.compile("^Restore"))).to_be_focused()
    assert page.errors == []


@pytest.mark.parametrize("viewport", LAPTOPS, ids=["1024", "1366"])
def test_a_long_app_name_is_cut_short_and_the_top_bar_stays_on_one_line(
    embedded_server, login, user, viewport, screenshot
):
    app = make_app(user, name=LONG_NAME)
    page = login(embedded_server.url, viewport=viewport)
    page.goto(f"{embedded_server.url}/")
    one_line = page.locator(".topbar").evaluate("(el) => el.getBoundingClientRect().height")

    open_builder(page, embedded_server.url, app)
    bar = page.locator(".topbar")
    assert bar.evaluate("(el) => el.getBoundingClientRect().height") == pytest.approx(one_line, abs=0.5)
    lines = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll(
                '.topbar-brand, .topbar-title, .topbar-slug, .topbar-nav a, .topbar-nav span, .topbar-nav button'
            )].map((el) => {
                const range = document.createRange();
                range.selectNodeContents(el);
                const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                return [el.textContent.trim().slice(0, 20), tops.size];
            }))"""
    )
    assert set(lines.values()) == {1}, lines
    title = page.locator(".topbar-title")
    slug = page.locator(".topbar-slug")
    expect(title).to_have_attribute("title", LONG_NAME)
    expect(slug).to_have_attribute("title", app.slug)
    for part in (title, slug):
        expect(part).to_have_css("text-overflow", "ellipsis")
    assert title.evaluate("(el) => el.scrollWidth > el.clientWidth")  # cut short, not wrapped
    logout = page.get_by_role("button", name="Log out")
    assert logout.evaluate("(el) => el.getBoundingClientRect().right <= window.innerWidth")
    assert bar.evaluate("(el) => el.scrollWidth <= el.clientWidth")
    screenshot(page, f"20-long-name-{viewport['width']}")
    assert page.errors == []


@pytest.mark.parametrize("viewport", LAPTOPS, ids=["1024", "1366"])
def test_the_model_picker_stays_readable_while_stop_shows(
    embedded_server, login, user, agent_model, viewport, screenshot
):
    agent_model(slow_check_script())
    app = app_with_checks(user)
    page = open_builder(login(embedded_server.url, viewport=viewport), embedded_server.url, app)
    send(page, "Run the slow check")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    boxes = page.evaluate(
        """() => Object.fromEntries(['composer', 'model-picker', 'stop-button', 'send-button'].map((id) => {
                const r = document.getElementById(id).getBoundingClientRect();
                return [id, {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width}];
            }))"""
    )
    picker, composer = boxes["model-picker"], boxes["composer"]
    assert picker["width"] >= 159, boxes  # 10rem: "Auto (Test script — scripted)" reads as such
    for name in ("model-picker", "stop-button", "send-button"):
        assert composer["left"] <= boxes[name]["left"] and boxes[name]["right"] <= composer["right"] + 0.5, (
            boxes
        )
    for name in ("stop-button", "send-button"):
        button = boxes[name]
        apart = button["left"] >= picker["right"] or button["top"] >= picker["bottom"]
        assert apart, boxes  # the buttons never cover the picker
    assert boxes["stop-button"]["right"] <= boxes["send-button"]["left"], boxes
    assert page_does_not_scroll(page)
    screenshot(page, f"21-composer-running-{viewport['width']}")
    stop.click()
    wait_finished(last_turn(page), "cancelled")
    assert page.errors == []


def test_a_renamed_file_is_badged_r(embedded_server, login, user, agent_model):
    agent_model(RENAME_SCRIPT)
    app = app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    send(page, "Move the script into js/")
    wait_finished(last_turn(page))
    badge = page.locator('#file-tree button[data-path="js/main.js"] .change-badge')
    expect(badge).to_have_text("R")
    expect(badge).to_have_attribute("title", "renamed by the last run")
    assert page.errors == []


def test_checkpoint_times_move_on_without_taking_the_focus(embedded_server, login, user):
    app = make_app(user)
    page = login(embedded_server.url)
    page.clock.install()  # the page's clock, moved on below instead of waiting for minutes
    open_builder(page, embedded_server.url, app)
    page.get_by_role("tab", name="Checkpoints").click()
    item = page.locator("#checkpoint-list > .checkpoint").first
    meta = item.locator(".checkpoint-meta")
    expect(meta).to_contain_text("just now")
    item.locator(".checkpoint-show").focus()

    page.clock.fast_forward("02:05")
    expect(meta).to_contain_text("2 min ago")
    page.clock.fast_forward("59:00")
    expect(meta).to_contain_text("1 h ago")
    expect(item.locator(".checkpoint-show")).to_be_focused()
    assert page.errors == []


def test_a_model_without_its_key_says_so_before_a_send(embedded_server, login, user, agent_model):
    from coding_agent.models import ChatModel

    agent_model([{"text": "Hello."}])
    ChatModel.objects.create(
        id="cloud",
        label="Cloud",
        provider=ChatModel.Provider.OPENAI,
        model_name="gpt-x",
        api_key_env=MISSING_KEY_ENV,
    )
    note_text = f"Its API key ({MISSING_KEY_ENV}) is not set on this server."
    app = make_app(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    picker = page.get_by_label("Model")
    expect(picker.locator("option")).to_have_text(
        ["Auto (Test script — scripted)", "Test script — scripted", "Cloud — key not set"]
    )
    expect(picker.locator('option[value="cloud"]')).to_have_attribute("title", note_text)
    expect(picker.locator('option[value="auto"]')).not_to_have_attribute("title", re.compile("."))
    note = page.locator("#model-note")
    expect(note).to_be_hidden()

    picker.select_option("cloud")
    expect(note).to_be_visible()
    expect(note).to_have_text(note_text)
    expect(picker).to_have_attribute("aria-describedby", re.compile(r"\bmodel-note\b"))
    picker.select_option("auto")
    expect(note).to_be_hidden()
    assert page.errors == []
