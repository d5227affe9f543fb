"""The builder's details under a critical eye: long checkpoint titles beside Restore, a model
picker that stays readable during a run, the model's label on a run's status line, a failure
said once; what a tour of a full, a failed and a cancelled run at 1024, 1366 and 1920 px showed
(a wrapped tool title's icon, a long path in the code header and in a checkpoint's files); and
that tour itself, whose screenshots are test-artifacts/screenshots/details-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import scripts
from tests.browser.builder import (
    last_turn,
    normalise,
    open_builder,
    page_does_not_scroll,
    send,
    tool_rows,
    turns,
    wait_finished,
)
from tests.e2e.clients import Api

pytestmark = pytest.mark.browser

SMALL = {"width": 1024, "height": 700}
LAPTOP = {"width": 1366, "height": 768}
LARGE = {"width": 1920, "height": 1080}
LAPTOPS = [SMALL, LAPTOP]
VIEWPORTS = [SMALL, LAPTOP, LARGE]
LONG_INPUT = "Change the footer to mention a local model"
LONGEST_INPUT = (
    "Rewrite the whole pricing section so that every plan names its monthly and its yearly price, "
    "and add a FAQ below it"
)
STARTER_LABEL = "Starter template: Landing page"
LOCAL_LABEL = "Local model (Ollama on this machine)"
DEMO_LABEL = "Demo (scripted — no AI)"  # the demo model's label (migration 0004)
CONNECTION_FAILED = "The model call failed: OpenAIConnectionError: Connection error."
ADD_ABOUT_PAGE = [
    {
        "text": "Adding the page.",
        "tool_calls": [
            {"id": "call_add", "name": "coding_agent_apply_patch", "args": {"patch": scripts.ABOUT_PAGE}}
        ],
    },
    {"text": "Added about.html."},
]


def make_unreachable_model(model_id: str = "local", label: str = LOCAL_LABEL):
    """An OpenAI-compatible server on a port nothing listens on: a run on it fails at once,
    before the model says anything (so the server writes the failure as the run's text)."""
    from coding_agent.models import ChatModel

    return ChatModel.objects.create(
        id=model_id,
        label=label,
        provider=ChatModel.Provider.OPENAI,
        model_name="llama3",
        base_url="http://127.0.0.1:9/v1",
    )


def make_demo_default(script: list[dict]):
    """The seeded demo model (its long label is what `Auto` shows) as the default."""
    from coding_agent import models_catalog
    from coding_agent.models import ChatModel

    ChatModel.objects.filter(id="demo-scripted").delete()
    row = ChatModel.objects.create(
        id="demo-scripted", label=DEMO_LABEL, provider=ChatModel.Provider.SCRIPTED, script=script
    )
    return models_catalog.set_default(row)


def run_via_api(server_url, api_token, app, text, model_id=None, status="completed"):
    with Api(server_url, api_token) as api:
        run = api.wait_for_terminal(app.id, api.create_run(app.id, text, model_id=model_id)["id"])
    assert run["status"] == status, run
    return run


def boxes(page, selector: str) -> list[dict]:
    return page.locator(selector).evaluate_all(
        """(els) => els.map((el) => {
            const r = el.getBoundingClientRect();
            return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height};
        })"""
    )


def overlap(a: dict, b: dict) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


# --- 1. Checkpoint titles never run under Restore ------------------------------------------


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["1024", "1366", "1920"])
def test_long_checkpoint_titles_stay_clear_of_restore_and_keep_their_full_text(
    embedded_server, login, user, api_token, viewport, screenshot
):
    scripts.make_model("editor", scripts.edit_script(delay_ms=0, check=None), label="Editor")
    scripts.make_model("adder", ADD_ABOUT_PAGE, label="Adder")
    app = scripts.app_with_checks(user)
    run_via_api(embedded_server.url, api_token, app, LONG_INPUT, model_id="editor")
    run_via_api(embedded_server.url, api_token, app, "Add an about page", model_id="adder")

    page = open_builder(login(embedded_server.url, viewport=viewport), embedded_server.url, app)
    page.get_by_role("tab", name="Checkpoints").click()
    items = page.locator("#checkpoint-list > .checkpoint")
    labels = ["Add an about page", LONG_INPUT, STARTER_LABEL]
    expect(items.locator(".checkpoint-label")).to_have_text(labels)
    expect(items.locator(".restore-button")).to_have_count(2)  # all but the current draft
    for n, full in enumerate(labels):
        expect(items.nth(n).locator(".checkpoint-label")).to_have_attribute("title", full)  # all of it
    assert_clear_of_restore(items, len(labels))
    # The current draft's item has no Restore: its title has the whole width.
    content_right = items.first.evaluate(
        """(el) => { const cs = getComputedStyle(el);
            return el.getBoundingClientRect().right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight); }"""
    )
    assert boxes(items.first, ".checkpoint-label")[0]["right"] == pytest.approx(content_right, abs=0.5)
    screenshot(page, f"details-checkpoints-{viewport['width']}")
    # A wider "Restore" (another font, another language) still leaves the title clear of it.
    page.add_style_tag(content=".restore-button { font-family: 'DejaVu Sans Mono', monospace; }")
    assert_clear_of_restore(items, len(labels))
    assert page.errors == []


def assert_clear_of_restore(items, count: int) -> None:
    for n in range(count):
        item = items.nth(n)
        if item.locator(".restore-button").count():
            button = boxes(item, ".restore-button")[0]
            for part in boxes(item, ".checkpoint-label, .checkpoint-meta, .checkpoint-files li"):
                assert not overlap(part, button), (n, part, button)  # nothing runs under Restore
        # Wrapped or cut, nothing is wider than its item.
        outer = boxes(item, ":scope")[0]
        for part in boxes(item, ".checkpoint-label, .checkpoint-meta, .checkpoint-files li, .restore-button"):
            assert outer["left"] <= part["left"] and part["right"] <= outer["right"] + 0.5, (n, part, outer)


def test_a_very_long_checkpoint_title_is_cut_with_an_ellipsis_and_its_full_text_kept(
    embedded_server, login, user, api_token
):
    scripts.make_model("editor", scripts.edit_script(delay_ms=0, check=None), label="Editor")
    app = scripts.app_with_checks(user)
    run_via_api(embedded_server.url, api_token, app, LONGEST_INPUT, model_id="editor")
    page = open_builder(login(embedded_server.url, viewport=SMALL), embedded_server.url, app)
    page.get_by_role("tab", name="Checkpoints").click()
    label = page.locator("#checkpoint-list > .checkpoint").first.locator(".checkpoint-label")
    expect(label).to_have_attribute("title", LONGEST_INPUT)
    expect(label).to_have_css("text-overflow", "ellipsis")
    assert label.evaluate("(el) => el.scrollHeight > el.clientHeight + 1")  # cut short...
    lines = label.evaluate("(el) => el.clientHeight / parseFloat(getComputedStyle(el).lineHeight)")
    assert lines == pytest.approx(3, abs=0.1)  # ...after three lines
    # The selected checkpoint's diff still says it all.
    expect(page.locator("#diff-view .diff-head")).to_contain_text(LONGEST_INPUT)
    assert page.errors == []


# --- 2. The model picker stays readable -----------------------------------------------------

PICKER_BOXES = """() => {
    const picker = document.getElementById('model-picker');
    const box = (el) => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width}; };
    // What the selected label needs: a select of the same look holding only that label.
    const probe = picker.cloneNode(false);
    probe.removeAttribute('id');
    probe.removeAttribute('style');
    probe.style.cssText = 'position: absolute; visibility: hidden; width: auto; min-width: 0; max-width: none; flex: none;';
    probe.append(new Option(picker.selectedOptions[0].text));
    picker.parentElement.append(probe);
    const needed = probe.getBoundingClientRect().width;
    probe.remove();
    return {needed, picker: box(picker), composer: box(document.getElementById('composer')),
            stop: box(document.getElementById('stop-button')), send: box(document.getElementById('send-button')),
            title: picker.title, label: picker.selectedOptions[0].text};
}"""


def assert_picker_readable(page, *, running: bool) -> dict:
    b = page.evaluate(PICKER_BOXES)
    assert b["picker"]["width"] >= b["needed"] - 0.5, b  # the whole label shows
    assert b["title"] == b["label"], b
    buttons = [b["send"]] + ([b["stop"]] if running else [])
    for box in [b["picker"], *buttons]:
        assert b["composer"]["left"] <= box["left"] and box["right"] <= b["composer"]["right"] + 0.5, b
    for button in buttons:
        assert not overlap(button, b["picker"]), b
    if running:
        assert b["stop"]["right"] <= b["send"]["left"], b
    assert page_does_not_scroll(page)
    return b


@pytest.mark.parametrize("viewport", LAPTOPS, ids=["1024", "1366"])
def test_the_demo_models_long_label_reads_whole_in_the_picker_idle_and_during_a_run(
    embedded_server, login, user, viewport, screenshot
):
    make_demo_default(scripts.slow_check_script())
    app = scripts.app_with_checks(user)
    page = open_builder(login(embedded_server.url, viewport=viewport), embedded_server.url, app)
    picker = page.locator("#model-picker")
    expect(picker.locator("option:checked")).to_have_text(f"Auto ({DEMO_LABEL})")
    assert_picker_readable(page, running=False)

    send(page, "Run the slow check")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    assert_picker_readable(page, running=True)
    screenshot(page, f"details-picker-running-{viewport['width']}")

    picker.select_option("demo-scripted")  # another label: the picker fits that one too
    expect(picker).to_have_attribute("title", DEMO_LABEL)
    assert_picker_readable(page, running=True)
    stop.click()
    wait_finished(last_turn(page), "cancelled")
    assert_picker_readable(page, running=False)
    assert page.errors == []


def test_a_label_longer_than_the_pane_is_cut_with_an_ellipsis_and_kept_in_the_title(
    embedded_server, login, user, agent_model
):
    agent_model([{"text": "Hello."}])
    long_label = "A self-hosted model with a remarkably long and descriptive label indeed"
    scripts.make_model("wordy", [{"text": "Hello."}], label=long_label)
    app = scripts.app_with_checks(user)
    page = open_builder(login(embedded_server.url, viewport=SMALL), embedded_server.url, app)
    picker = page.locator("#model-picker")
    picker.select_option("wordy")
    expect(picker).to_have_attribute("title", f"{long_label} — scripted")
    expect(picker).to_have_css("text-overflow", "ellipsis")
    b = page.evaluate(PICKER_BOXES)
    assert b["picker"]["right"] <= b["composer"]["right"] + 0.5, b  # cut inside the pane
    assert page_does_not_scroll(page)
    assert page.errors == []


# --- 3. The status line names the model by its label ----------------------------------------


def test_a_runs_status_line_names_its_model_by_label_live_and_after_a_reload(
    embedded_server, login, user, agent_model
):
    agent_model([{"text": "Hello from the default."}])
    make_unreachable_model()
    app = scripts.app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    send(page, "Say hello")
    wait_finished(last_turn(page))
    page.locator("#model-picker").select_option("local")
    send(page, "Say hello locally")
    wait_finished(last_turn(page), "failed")

    for _ in range(2):  # live, then rebuilt from the server's events after a reload
        model = turns(page).locator(".run-model")
        expect(model).to_have_text([" · Test script — scripted", f" · {LOCAL_LABEL}"])
        expect(model.last).to_have_attribute("title", f"Model: {LOCAL_LABEL} (local)")
        page.reload()
        expect(turns(page)).to_have_count(2)
        wait_finished(last_turn(page), "failed")
    assert page.errors == []


def test_a_model_no_longer_listed_is_named_by_its_id(embedded_server, login, user, api_token, agent_model):
    agent_model([{"text": "Hello from the default."}])
    scripts.make_model("retired", [{"text": "Old answer."}], label="Retired model")
    app = scripts.app_with_checks(user)
    run_via_api(embedded_server.url, api_token, app, "Say hello", model_id="retired")
    scripts.set_model_active("retired", False)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    wait_finished(last_turn(page))
    expect(last_turn(page).locator(".run-model")).to_have_text(" · retired")
    assert page.errors == []


# --- 4. A failure is said once --------------------------------------------------------------


def test_a_failure_the_agent_already_said_is_not_repeated_in_the_failed_box(
    embedded_server, login, user, agent_model, screenshot
):
    agent_model([{"text": "Hello."}])
    make_unreachable_model()
    app = scripts.app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    page.locator("#model-picker").select_option("local")
    send(page, "Say hello")
    turn = last_turn(page)
    for _ in range(2):  # live, then after a reload
        wait_finished(turn, "failed")
        text = normalise(turn.locator(".msg-agent").inner_text())
        assert text.count(CONNECTION_FAILED) == 1, text
        expect(turn.locator(".final-answer")).to_contain_text(CONNECTION_FAILED)
        end = turn.locator(".run-end")
        expect(end).to_have_attribute("data-state", "failed")
        expect(end.locator(".run-end-label")).to_have_text("Failed")
        expect(end.locator(".run-end-detail")).to_have_count(0)
        screenshot(page, "details-failed-once")
        page.reload()
        turn = last_turn(page)
    assert page.errors == []


# --- A tour at three sizes ------------------------------------------------------------------


def test_tour_of_a_full_a_failed_and_a_cancelled_run(embedded_server, login, user, agent_model, screenshot):
    agent_model(scripts.edit_script(delay_ms=0))
    make_unreachable_model()
    scripts.make_model("slow", scripts.slow_check_script(), label="Slow checker")
    app = scripts.app_with_checks(user)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    picker = page.locator("#model-picker")

    send(page, LONG_INPUT)
    wait_finished(last_turn(page))
    expect(tool_rows(last_turn(page))).to_have_count(3)
    picker.select_option("local")
    send(page, "Say hello")
    wait_finished(last_turn(page), "failed")
    picker.select_option("slow")
    send(page, "Run the slow check")
    expect(last_turn(page).locator('.tool-row[data-state="running"]')).to_be_visible()
    for viewport in VIEWPORTS:
        page.set_viewport_size(viewport)
        assert page_does_not_scroll(page)
        screenshot(page, f"details-tour-running-{viewport['width']}")
    page.get_by_role("button", name="Stop").click()
    wait_finished(last_turn(page), "cancelled")
    expect(turns(page)).to_have_count(3)
    for viewport in VIEWPORTS:
        page.set_viewport_size(viewport)
        turns(page).first.scroll_into_view_if_needed()
        screenshot(page, f"details-tour-top-{viewport['width']}")
        page.locator("#conversation").evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
        screenshot(page, f"details-tour-end-{viewport['width']}")
    page.get_by_role("tab", name="Checkpoints").click()
    for viewport in VIEWPORTS:
        page.set_viewport_size(viewport)
        assert page_does_not_scroll(page)
        screenshot(page, f"details-tour-checkpoints-{viewport['width']}")
    assert page.errors == []


# --- Other details found on the tour ---------------------------------------------------------

DEEP_PATH = "assets/illustrations/onboarding-flow/very-long-file-name-for-the-hero-section-background.html"
ADD_DEEP_FILE = [
    {
        "text": "Adding the file.",
        "tool_calls": [
            {
                "id": "call_deep",
                "name": "coding_agent_apply_patch",
                "args": {
                    "patch": f"*** Begin Patch\n*** Add File: {DEEP_PATH}\n+<p>Deep</p>\n*** End Patch\n"
                },
            }
        ],
    },
    {"text": "Added it."},
]

LINE_TOPS = """(el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return [...new Set([...range.getClientRects()].map((r) => Math.round(r.top)))];
}"""


def deep_file_page(embedded_server, login, user, api_token, agent_model):
    agent_model(ADD_DEEP_FILE)
    app = scripts.app_with_checks(user)
    run_via_api(embedded_server.url, api_token, app, "Add a deep file")
    return open_builder(login(embedded_server.url, viewport=SMALL), embedded_server.url, app)


def test_a_wrapped_tool_title_keeps_its_icon_on_its_first_line(
    embedded_server, login, user, api_token, agent_model, screenshot
):
    page = deep_file_page(embedded_server, login, user, api_token, agent_model)
    row = tool_rows(last_turn(page)).first
    expect(row).to_have_attribute("data-state", "completed")
    title = row.locator(".tool-title")
    expect(title).to_contain_text(DEEP_PATH)
    assert len(title.evaluate(LINE_TOPS)) >= 2  # the title wraps in the 1024 px pane
    first_line = title.evaluate(
        """(el) => { const range = document.createRange(); range.selectNodeContents(el);
            const r = range.getClientRects()[0]; return (r.top + r.bottom) / 2; }"""
    )
    icon = boxes(row, ".tool-icon")[0]
    assert abs((icon["top"] + icon["bottom"]) / 2 - first_line) <= 2, (icon, first_line)
    screenshot(page, "details-tool-row-wrapped-1024")
    assert page.errors == []


def test_a_long_path_wraps_in_the_code_header_and_its_size_stays_on_one_line(
    embedded_server, login, user, api_token, agent_model, screenshot
):
    page = deep_file_page(embedded_server, login, user, api_token, agent_model)
    page.locator(f'#file-tree button[data-path="{DEEP_PATH}"]').click()
    expect(page.locator("#code-path")).to_have_text(DEEP_PATH)
    meta = page.locator("#code-meta")
    expect(meta).to_have_text("12 B · read-only")
    assert len(meta.evaluate(LINE_TOPS)) == 1, meta.evaluate(LINE_TOPS)
    head = boxes(page, ".code-head")[0]
    for part in boxes(page, "#code-path, #code-meta"):
        assert head["left"] <= part["left"] and part["right"] <= head["right"] + 0.5, (part, head)
    screenshot(page, "details-code-head-long-path-1024")
    assert page.errors == []


def test_a_changed_files_path_cut_short_in_a_checkpoint_keeps_its_full_path(
    embedded_server, login, user, api_token, agent_model
):
    page = deep_file_page(embedded_server, login, user, api_token, agent_model)
    page.get_by_role("tab", name="Checkpoints").click()
    row = page.locator("#checkpoint-list > .checkpoint").first.locator(".checkpoint-files li")
    expect(row).to_have_attribute("title", DEEP_PATH)
    expect(row).to_have_css("text-overflow", "ellipsis")
    assert row.evaluate("(el) => el.scrollWidth > el.clientWidth")  # cut short in the 1024 px list
    assert page.errors == []


def test_a_finished_run_longer_than_a_page_of_events_shows_all_of_it(
    embedded_server, login, user, no_dispatch, agent_model
):
    """The events list answers a page at a time (has_more); the builder reads every page."""
    from coding_agent import lifecycle, runs
    from coding_agent.events import EVENTS_PAGE_SIZE, append_events
    from tests.factories import make_app

    agent_model([{"text": "unused"}])
    app = make_app(user, name="Long story")
    run = runs.start_run(app=app, user=user, input="Tell a long story")
    words = EVENTS_PAGE_SIZE + 100
    append_events(run.pk, [("assistant.delta", {"text": f"word{n} "}, None) for n in range(words)])
    lifecycle.finish(run.pk, lifecycle.cancelled())

    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    turn = last_turn(page)
    expect(turn).to_contain_text(f"word{words - 1}")
    expect(turn).not_to_contain_text("could not be loaded")
    assert page.errors == []
