"""Operator commands: run_agent, replay_run, execute_run."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from coding_agent import runs
from coding_agent.models import ToolCall
from tests.conftest import wait_for_run

pytestmark = pytest.mark.django_db(transaction=True)

PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
SCRIPT = [
    {
        "text": "Writing a file.",
        "tool_calls": [{"id": "p", "name": "coding_agent_apply_patch", "args": {"patch": PATCH}}],
    },
    {"text": "Wrote hello.txt."},
]


def run_command(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def test_run_agent_prints_progress_live_and_exits_0(inprocess, app, agent_model):
    agent_model(SCRIPT)
    code, output = run_command("run_agent", app.slug, "say hello")
    assert code == 0, output
    assert "Writing a file." in output and "→ Editing hello.txt…" in output
    assert "✓ Created hello.txt (+1)" in output and "Run completed." in output


def test_run_agent_refuses_a_busy_app_and_an_unknown_one(inprocess, app, user, agent_model):
    agent_model([{"text": "slow", "delay_ms": 200}])
    runs.start_run(app=app, user=user, input="first")
    code, output = run_command("run_agent", str(app.id), "second")
    assert code == 2 and "CODING_AGENT_RUN_ACTIVE" in output
    with pytest.raises(CommandError, match="No app"):
        call_command("run_agent", "no-such-app", "x")


def test_replay_run_prints_the_events_and_re_executes_identically(inprocess, app, user, agent_model):
    agent_model(SCRIPT)
    run = wait_for_run(runs.start_run(app=app, user=user, input="say hello"))
    code, output = run_command("replay_run", str(run.pk))
    assert code == 0 and "Writing a file." in output and "Run completed." in output
    code, output = run_command("replay_run", str(run.pk), "--json")
    lines = [json.loads(line) for line in output.splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, run.last_seq + 1))
    code, output = run_command("replay_run", str(run.pk), "--re-execute")
    assert code == 0 and "Identical" in output


def test_replay_run_reports_a_difference(inprocess, app, user, agent_model):
    agent_model(SCRIPT)
    run = wait_for_run(runs.start_run(app=app, user=user, input="say hello"))
    ToolCall.objects.filter(run=run).update(args={"patch": PATCH.replace("+hello", "+goodbye")})
    code, output = run_command("replay_run", str(run.pk), "--re-execute")
    assert code == 1 and "modified hello.txt" in output


def test_execute_run_refuses_finished_and_unknown_runs(inprocess, app, user, agent_model):
    agent_model(SCRIPT)
    run = wait_for_run(runs.start_run(app=app, user=user, input="say hello"))
    with pytest.raises(CommandError, match="already finished"):
        call_command("execute_run", str(run.pk))
    with pytest.raises(CommandError, match="No run"):
        call_command("execute_run", "not-a-uuid")
