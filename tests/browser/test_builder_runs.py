"""The builder's agent panel end to end: send, stream, tools, preview, models, stop, restore."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.builder import (
    final_answer,
    last_turn,
    normalise,
    open_builder,
    preview_body,
    run_id_of,
    send,
    thinking_was_shown,
    tool_rows,
    tool_states,
    turns,
    wait_finished,
)
from tests.browser.scripts import (
    FINAL_TEXT,
    NEW_HEADLINE,
    OLD_HEADLINE,
    app_with_checks,
    edit_script,
    make_model,
    set_model_active,
    slow_check_script,
)
from tests.e2e.clients import Api

pytestmark = pytest.mark.browser


def test_a_message_streams_text_and_tool_rows_and_the_preview_shows_the_change(
    stack, login, user, api_token, agent_model, screenshot
):
    agent_model(edit_script(delay_ms=40))
    app = app_with_checks(user)
    page = open_builder(login(stack.web.url), stack.web.url, app, record_tools=True)
    expect(preview_body(page).locator("h1")).to_have_text(OLD_HEADLINE)

    send(page, "Change the headline")
    turn = last_turn(page)
    expect(turn.locator(".msg-user .bubble")).to_have_text("Change the headline")
    # Text shows while the run is still going, not only at its end.
    page.wait_for_function(
        """() => {
            const turn = document.querySelector('#conversation-log > .turn:last-child');
            const text = turn && turn.querySelector('.md');
            return turn.dataset.status === 'running' && text && text.textContent.length > 10;
        }"""
    )
    # The check sleeps for ~2 s: its row is on screen, animated, with a human title.
    running = turn.locator('.tool-row[data-state="running"]')
    expect(running).to_have_text("Running check quick… (running)")
    screenshot(page, "02-run-streaming")

    wait_finished(turn, "completed")
    rows = tool_rows(turn)
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Read index.html lines 1\u201340")
    expect(rows.nth(1)).to_contain_text("Edited index.html (+1 \u22121)")
    expect(rows.nth(2)).to_contain_text("Ran check quick (passed)")
    for i in range(3):
        expect(rows.nth(i)).to_have_attribute("data-state", "completed")
        assert "{" not in rows.nth(i).inner_text()  # titles, never raw JSON
    assert thinking_was_shown(page)
    expect(turn.locator(".thinking")).to_be_hidden()
    states = tool_states(page)
    assert states == {
        "call_read": ["running", "completed"],
        "call_patch": ["running", "completed"],
        "call_check": ["running", "completed"],
    }, states

    # The answer is rendered markdown and is exactly the run's final text.
    with Api(stack.web.url, api_token) as api:
        run = api.run(app.id, run_id_of(turn))
    assert run["final_text"] == FINAL_TEXT
    assert final_answer(turn) == FINAL_TEXT.replace("**", "")
    expect(turn.locator(".final-answer strong")).to_have_text(NEW_HEADLINE)
    expect(turn.locator(".run-note")).to_contain_text("Saved as a new version (1 file changed)")

    # The preview, the tree and the code view show the new draft.
    expect(preview_body(page).locator("h1")).to_have_text(NEW_HEADLINE)
    expect(page.locator("#file-tree")).to_have_attribute("data-revision-id", run["result_revision_id"])
    expect(page.locator('#file-tree button[data-path="index.html"] .change-badge')).to_have_text("M")
    expect(page.locator("#code-scroll")).to_contain_text(NEW_HEADLINE)
    expect(page.locator("#stop-button")).to_be_hidden()
    screenshot(page, "03-run-completed")
    assert page.errors == []


def test_the_chosen_model_is_sent_and_an_unavailable_one_is_refused_inline(
    embedded_server, login, user, api_token, agent_model, screenshot
):
    agent_model([{"text": "Default model here."}])
    make_model("second-model", [{"text": "The second model answered.", "delay_ms": 10}], label="Second")
    app = app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    picker = page.get_by_label("Model")
    expect(picker.locator("option")).to_have_text(
        ["Auto (Test script — scripted)", "Test script — scripted", "Second — scripted"]
    )
    expect(picker).to_have_value("auto")

    picker.select_option("second-model")
    send(page, "Hello")
    turn = last_turn(page)
    wait_finished(turn)
    expect(turn.locator(".final-answer")).to_have_text("The second model answered.")
    with Api(embedded_server.url, api_token) as api:
        run = api.run(app.id, run_id_of(turn))
    assert run["requested_model_id"] == "second-model" and run["resolved_model_id"] == "second-model"

    # The model is switched off after the page loaded its list: the next send is refused inline.
    set_model_active("second-model", False)
    send(page, "Hello again")
    error = page.locator("#composer-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("second-model")
    expect(error).to_contain_text("pick another model")
    expect(picker.locator("option")).to_have_text(["Auto (Test script — scripted)", "Test script — scripted"])
    expect(picker).to_have_value("auto")
    expect(picker).to_be_focused()
    expect(turns(page)).to_have_count(1)  # nothing was started
    expect(page.get_by_label("Message to the agent")).to_have_value("Hello again")  # nothing lost
    screenshot(page, "04-model-unavailable")

    # Auto works and clears the error; earlier turns go with it as `messages`.
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/runs")) as sent:
        send(page, "Hello with Auto")
    body = sent.value.post_data_json
    assert body == {
        "input": "Hello with Auto",
        "model_id": None,
        "messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "The second model answered."},
        ],
    }
    expect(error).to_be_hidden()
    wait_finished(last_turn(page))
    expect(last_turn(page).locator(".final-answer")).to_have_text("Default model here.")
    assert page.errors == []


def test_stop_ends_a_run_and_a_restore_during_it_is_explained(
    embedded_server, login, user, api_token, agent_model, screenshot
):
    agent_model(slow_check_script())
    make_model("editor", edit_script(delay_ms=0, check=None), label="Editor")
    app = app_with_checks(user)
    with Api(embedded_server.url, api_token) as api:
        earlier = api.create_run(app.id, "Change the headline", model_id="editor")
        earlier = api.wait_for_terminal(app.id, earlier["id"])
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    # The earlier run is in the conversation, loaded from its events.
    first = turns(page).first
    expect(first).to_have_attribute("data-status", "completed")
    expect(tool_rows(first)).to_have_count(2)
    assert final_answer(first) == earlier["final_text"].replace("**", "")

    send(page, "Run the slow check")
    turn = last_turn(page)
    expect(turn.locator('.tool-row[data-state="running"]')).to_contain_text("Running check slow")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()

    # Restoring while the agent works: the 409 in plain words.
    page.get_by_role("tab", name="Checkpoints").click()
    page.get_by_role("button", name="Restore").first.click()
    page.locator("#restore-confirm").click()
    alert = page.locator("#checkpoint-alert")
    expect(alert).to_contain_text("The agent is working on a run right now")
    screenshot(page, "05-restore-conflict")

    stop.click()
    wait_finished(turn, "cancelled")
    expect(turn.locator(".run-end")).to_contain_text("Stopped")
    expect(turn.locator(".tool-row")).to_have_attribute("data-state", "failed")
    expect(turn.locator(".tool-row")).to_contain_text("Stopped check slow (run cancelled)")
    expect(stop).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    with Api(embedded_server.url, api_token) as api:
        assert api.run(app.id, run_id_of(turn))["status"] == "cancelled"
    screenshot(page, "06-stopped")
    assert page.errors == []


def test_restoring_a_checkpoint_brings_back_the_files_and_the_preview(
    embedded_server, login, user, agent_model, screenshot
):
    about = {
        "id": "call_about",
        "name": "coding_agent_apply_patch",
        "args": {
            "patch": "*** Begin Patch\n*** Add File: about.html\n+<!doctype html>\n+<h1>About Aurora</h1>\n*** End Patch\n"
        },
    }
    script = edit_script(delay_ms=0, check=None)
    script[1]["tool_calls"].append(about)
    agent_model(script)
    app = app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    tree = page.locator("#file-tree")
    expect(tree.locator("button[data-path]")).to_have_text(["app.js", "index.html", "styles.css"])

    send(page, "Change the headline and add an about page")
    wait_finished(last_turn(page))
    expect(tree.locator("button[data-path]")).to_have_text(
        ["about.htmlA", "app.js", "index.htmlM", "styles.css"]
    )
    expect(preview_body(page).locator("h1")).to_have_text(NEW_HEADLINE)

    # The checkpoint list, newest first, and the diff the run made.
    page.get_by_role("tab", name="Checkpoints").click()
    items = page.locator("#checkpoint-list > .checkpoint")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Change the headline and add an about page")
    expect(items.first).to_contain_text("current draft")
    expect(items.nth(1)).to_contain_text("Starter template: Landing page")
    items.first.locator(".checkpoint-show").click()
    diff = page.locator("#diff-view")
    expect(diff.locator(".diff-file")).to_have_count(2)
    about_diff = diff.locator('.diff-file[data-path="about.html"]')
    expect(about_diff.locator(".diff-file-head")).to_contain_text("added")
    expect(about_diff.locator(".diff-add")).to_have_count(2)
    index_diff = diff.locator('.diff-file[data-path="index.html"]')
    expect(index_diff.locator(".diff-del")).to_have_text([f'-    <h1 id="headline">{OLD_HEADLINE}</h1>'])
    expect(index_diff.locator(".diff-add")).to_have_text([f'+    <h1 id="headline">{NEW_HEADLINE}</h1>'])
    colours = index_diff.evaluate(
        """(el) => [el.querySelector('.diff-add'), el.querySelector('.diff-del')]
            .map((line) => getComputedStyle(line).backgroundColor)"""
    )
    assert colours == ["rgb(230, 255, 236)", "rgb(255, 235, 233)"], colours
    screenshot(page, "07-checkpoint-diff")

    # Restore the template's checkpoint, after confirming.
    items.nth(1).get_by_role("button", name="Restore").click()
    dialog = page.locator("#restore-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Restore this checkpoint?")
    screenshot(page, "08-restore-confirm")
    dialog.get_by_role("button", name="Restore").click()
    expect(dialog).to_be_hidden()
    expect(preview_body(page).locator("h1")).to_have_text(OLD_HEADLINE)
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("Restored:")
    expect(items.first).to_contain_text("current draft")
    page.get_by_role("tab", name="Code").click()
    expect(tree.locator("button[data-path]")).to_have_text(["app.js", "index.html", "styles.css"])
    expect(page.locator("#code-scroll")).to_contain_text(OLD_HEADLINE)
    screenshot(page, "09-restored")
    assert normalise(page.locator("#code-path").inner_text()) == "index.html"
    assert page.errors == []


UNSAFE_MARKDOWN = (
    "Here is **bold**, *italic* and `code <b>`.\n\n"
    "- one\n- two\n\n"
    "1. first\n2. second\n\n"
    "```html\n<h1>Hi</h1>\n```\n\n"
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\n\n'
    "[safe](https://example.com/docs) and [unsafe](javascript:window.__pwned=3)"
)


def test_assistant_text_is_rendered_as_markdown_and_never_as_html(embedded_server, login, user, agent_model):
    agent_model([{"text": UNSAFE_MARKDOWN, "delay_ms": 5}])
    app = app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    send(page, "Show me some formatting")
    turn = last_turn(page)
    wait_finished(turn)
    answer = turn.locator(".final-answer")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(answer.locator("em")).to_have_text("italic")
    expect(answer.locator("p code")).to_have_text("code <b>")
    expect(answer.locator("ul > li")).to_have_text(["one", "two"])
    expect(answer.locator("ol > li")).to_have_text(["first", "second"])
    expect(answer.locator("pre code")).to_have_text("<h1>Hi</h1>")
    expect(answer.locator("img, script, h1")).to_have_count(0)
    expect(answer).to_contain_text('<img src=x onerror="window.__pwned=1">')
    links = answer.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/docs")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(answer).to_contain_text("[unsafe](javascript:window.__pwned=3)")
    assert page.evaluate("() => window.__pwned") is None
    assert page.errors == []
