"""Operator commands: run_agent, replay_run, execute_run."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import OutputWrapper

from coding_agent import runs
from coding_agent.console import Printer
from coding_agent.management.commands.replay_run import Command as ReplayRun
from coding_agent.models import AgentRun, ToolCall
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


def test_streamed_text_flows_inline_and_ends_its_line_before_the_next_row():
    out = io.StringIO()
    printer = Printer(OutputWrapper(out))
    for envelope in [
        {"event": "assistant.delta", "payload": {"text": "Writing "}},
        {"event": "assistant.delta", "payload": {"text": "a file."}},
        {
            "event": "tool.started",
            "payload": {"tool": "coding_agent_read_file_range", "title": "Reading a.txt…"},
        },
        {"event": "assistant.delta", "payload": {"text": "Done"}},
        {"event": "assistant.delta", "payload": {"text": "."}},
        {"event": "run.completed", "payload": {}},
    ]:
        printer(envelope)
    assert out.getvalue() == "Writing a file.\n  → Reading a.txt…\nDone.\nRun completed.\n"


def test_a_transcript_that_stops_mid_text_still_ends_its_line():
    out = io.StringIO()
    printer = Printer(OutputWrapper(out))
    printer({"event": "assistant.delta", "payload": {"text": "Half a"}})
    printer.close()
    printer.close()
    assert out.getvalue() == "Half a\n"


def test_run_agent_and_replay_run_print_text_without_blank_lines(inprocess, app, agent_model):
    agent_model(SCRIPT)
    code, live = run_command("run_agent", app.slug, "say hello")
    assert code == 0, live
    assert (
        "Writing a file.\n  → Editing hello.txt…\n" in live and "Wrote hello.txt.\n  Saved revision" in live
    )
    code, replayed = run_command("replay_run", str(AgentRun.objects.get().pk))
    assert code == 0 and "\n\n" not in replayed
    assert replayed == live.split("\n", 1)[1]  # the same transcript, less run_agent's "Run … on" heading


@pytest.mark.parametrize("instruction", ["", "   \n\t"])
def test_run_agent_refuses_a_blank_instruction_and_creates_nothing(inprocess, app, agent_model, instruction):
    agent_model(SCRIPT)
    with pytest.raises(CommandError, match="Write an instruction for the agent.") as refused:
        call_command("run_agent", app.slug, instruction)
    assert refused.value.returncode == 2
    assert not AgentRun.objects.exists()


@pytest.mark.parametrize("speed", ["-1", "-0.5", "nan", "fast"])
def test_replay_run_refuses_a_speed_that_is_not_a_number_of_0_or_more(speed):
    with pytest.raises(CommandError, match=r"argument --speed: .*0 or more"):
        call_command("replay_run", "any-run", "--speed", speed)


def test_replay_run_help_names_the_accepted_speeds():
    parser = ReplayRun().create_parser("manage.py", "replay_run")
    help_text = " ".join(parser.format_help().split())
    assert "0 (the default) prints everything at once" in help_text and "any number of 0 or more" in help_text
