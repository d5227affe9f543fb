"""Scripted-model turns the browser tests play (DESIGN.md §8); `delay_ms` makes streaming observable."""

from __future__ import annotations

import random

from tests.browser.conftest import in_thread
from tests.factories import make_app

NEW_HEADLINE = "Plan your week with the builder"
OLD_HEADLINE = "Plan your week in minutes"

HEADLINE_PATCH = (
    "*** Begin Patch\n*** Update File: index.html\n@@\n"
    '-    <h1 id="headline">Plan your week in minutes</h1>\n'
    f'+    <h1 id="headline">{NEW_HEADLINE}</h1>\n'
    "*** End Patch\n"
)
ABOUT_PAGE = (
    "*** Begin Patch\n*** Add File: about.html\n"
    "+<!doctype html>\n+<title>About</title>\n+<h1>About Aurora</h1>\n"
    "*** End Patch\n"
)
FINAL_TEXT = (
    "I changed the headline to **Plan your week with the builder** and checked the page; see the preview."
)


def edit_script(*, delay_ms: int = 40, check: str | None = "quick") -> list[dict]:
    """Read, patch (and optionally run a check), then answer: three tool rows, streamed text."""
    second_calls = [
        {"id": "call_patch", "name": "coding_agent_apply_patch", "args": {"patch": HEADLINE_PATCH}}
    ]
    if check:
        second_calls.append({"id": "call_check", "name": "coding_agent_run_check", "args": {"check": check}})
    return [
        {
            "text": "I'll read the page first, to see where the headline is.",
            "tool_calls": [
                {
                    "id": "call_read",
                    "name": "coding_agent_read_file_range",
                    "args": {"path": "index.html", "start_line": 1, "end_line": 40},
                }
            ],
            "delay_ms": delay_ms,
        },
        {
            "text": "Now I'll change the headline with one patch.",
            "tool_calls": second_calls,
            "delay_ms": delay_ms,
        },
        {"text": FINAL_TEXT, "delay_ms": delay_ms},
    ]


def slow_check_script() -> list[dict]:
    return [
        {
            "text": "Running the slow check now.",
            "tool_calls": [{"id": "call_slow", "name": "coding_agent_run_check", "args": {"check": "slow"}}],
        },
        {"text": "The check finished."},
    ]


def app_with_checks(user, *, name: str = "Landing", slow_s: int = 30, quick_s: int = 2):
    """A landing app with a `quick` check (sleeps ~`quick_s`, long enough to see a running row)
    and a `slow` one (for Stop); durations are unique so parallel runs never share a process."""
    tail = f"{random.randrange(10**6):06d}"
    app = make_app(user, name=name)
    app.checks = {
        "quick": {"argv": ["sleep", f"{quick_s}.{tail}"], "paths": ["*.html"]},
        "slow": {"argv": ["sleep", f"{slow_s}.{tail}"], "paths": ["*.html"]},
    }
    app.save(update_fields=["checks"])
    return app


def make_model(model_id: str, script: list[dict], *, label: str):
    """An active scripted chat model that is not the default."""
    from coding_agent.models import ChatModel

    return ChatModel.objects.create(
        id=model_id, label=label, provider=ChatModel.Provider.SCRIPTED, script=script
    )


def set_model_active(model_id: str, active: bool) -> None:
    from coding_agent.models import ChatModel

    in_thread(lambda: ChatModel.objects.filter(id=model_id).update(is_active=active))
