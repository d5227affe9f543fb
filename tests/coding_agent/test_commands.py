"""Operator commands: run_agent, replay_run, execute_run, add_chat_model's help."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.core.management.base import OutputWrapper

from coding_agent import runs
from coding_agent.console import Printer
from coding_agent.management.commands.replay_run import Command as ReplayRun
from coding_agent.models import AgentRun, ToolCall
from tests.coding_agent.scripts import HELLO_PATCH, WRITE_HELLO
from tests.conftest import wait_for_run
from tests.e2e.servers import REPO, database_url
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def run_command(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def test_run_agent_prints_progress_live_and_exits_0(inprocess, app, agent_model):
    agent_model(WRITE_HELLO)
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
    agent_model(WRITE_HELLO)
    run = wait_for_run(runs.start_run(app=app, user=user, input="say hello"))
    code, output = run_command("replay_run", str(run.pk))
    assert code == 0 and "Writing a file." in output and "Run completed." in output
    code, output = run_command("replay_run", str(run.pk), "--json")
    lines = [json.loads(line) for line in output.splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, run.last_seq + 1))
    code, output = run_command("replay_run", str(run.pk), "--re-execute")
    assert code == 0 and "Identical" in output


def test_replay_run_reports_a_difference(inprocess, app, user, agent_model):
    agent_model(WRITE_HELLO)
    run = wait_for_run(runs.start_run(app=app, user=user, input="say hello"))
    ToolCall.objects.filter(run=run).update(args={"patch": HELLO_PATCH.replace("+hello", "+goodbye")})
    code, output = run_command("replay_run", str(run.pk), "--re-execute")
    assert code == 1 and "modified hello.txt" in output


def test_execute_run_refuses_finished_and_unknown_runs(inprocess, app, user, agent_model):
    agent_model(WRITE_HELLO)
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
    agent_model(WRITE_HELLO)
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
    agent_model(WRITE_HELLO)
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


# -- a closed output (`| head`) -----------------------------------------------------------


def run_into_a_closed_pipe(tmp_path, *args) -> subprocess.CompletedProcess:
    """`manage.py ARGS | true`: the command's stdout is a pipe nobody reads any more.

    Its output is block-buffered, as in a shell pipeline, so a command that wrote everything
    into the buffer meets the closed pipe only when the buffer is flushed.
    """
    env = {**os.environ, "DATABASE_URL": database_url(), "APPS_DATA_DIR": str(tmp_path / "data")}
    env["APPS_RUN_EXECUTION"] = "inprocess"  # run_agent's run executes in the command's process
    for name in ("REDIS_URL", "PYTHONUNBUFFERED"):
        env.pop(name, None)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=env, stdout=write_end, stderr=subprocess.PIPE
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("options", [[], ["--json"], ["--re-execute"]], ids=["text", "json", "re-execute"])
def test_replay_run_ends_quietly_with_status_141_when_its_output_is_closed(
    inprocess, tmp_path, app, user, agent_model, options
):
    agent_model(WRITE_HELLO)
    run = wait_for_run(runs.start_run(app=app, user=user, input="say hello"))
    proc = run_into_a_closed_pipe(tmp_path, "replay_run", str(run.pk), *options)
    assert proc.stderr == b""
    assert proc.returncode == 141  # what a shell reports for `git log | head -1`'s git


def test_run_agent_follows_its_run_to_the_end_quietly_when_its_output_is_closed(
    inprocess, tmp_path, app, agent_model
):
    agent_model(WRITE_HELLO)
    proc = run_into_a_closed_pipe(tmp_path, "run_agent", app.slug, "say hello")
    assert proc.stderr == b""
    assert proc.returncode == 0  # the run's own status: it went on without a reader
    assert AgentRun.objects.get().status == "completed"


# -- replay_run --re-execute ----------------------------------------------------------------


@pytest.mark.parametrize(
    "options, named",
    [
        (["--json"], "--json"),
        (["--speed", "1"], "--speed"),
        (["--json", "--speed", "0"], "--json and --speed"),
    ],
)
def test_replay_run_refuses_json_or_speed_with_re_execute_before_looking_up_the_run(options, named):
    with pytest.raises(CommandError, match=f"^--re-execute does not take {named}: ") as refused:
        call_command("replay_run", "any-run", "--re-execute", *options)
    assert refused.value.returncode == 2
    assert "\n" not in str(refused.value)


def test_replay_run_refuses_an_unknown_or_unfinished_run_with_status_2_not_files_differ(
    app, user, agent_model
):
    """Exit 1 means the replayed files differ; a script must not read a refusal as that."""
    agent_model(WRITE_HELLO)
    unfinished = runs.start_run(app=app, user=user, input="not executed here")
    for run_id, message in (("not-a-uuid", "No run"), (str(unfinished.pk), "not finished yet")):
        with pytest.raises(CommandError, match=message) as refused:
            call_command("replay_run", run_id, "--re-execute")
        assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="No run") as refused:
        call_command("replay_run", "not-a-uuid")
    assert refused.value.returncode == 2


# -- run_agent --user: the API's access rule ------------------------------------------------


def test_run_agent_refuses_a_user_who_may_not_act_on_the_app_and_starts_nothing(
    inprocess, app, other_user, agent_model
):
    agent_model(WRITE_HELLO)
    with pytest.raises(CommandError, match=r"^User 'mallory' may not act on app 'landing'") as refused:
        call_command("run_agent", app.slug, "say hello", "--user", "mallory")
    assert refused.value.returncode == 2 and "\n" not in str(refused.value)
    assert not AgentRun.objects.exists()


def test_run_agent_refuses_an_unknown_or_inactive_user_with_the_refused_status(inprocess, app, agent_model):
    agent_model(WRITE_HELLO)
    make_user("gone", is_active=False, is_superuser=True)
    for username, message in (("nobody", "No user 'nobody'."), ("gone", "User 'gone' is inactive.")):
        with pytest.raises(CommandError, match=f"^{message}$") as refused:
            call_command("run_agent", app.slug, "say hello", "--user", username)
        assert refused.value.returncode == 2
    assert not AgentRun.objects.exists()


def test_run_agent_lets_a_member_and_a_superuser_run_on_an_app_they_do_not_own(
    inprocess, app, other_user, agent_model
):
    agent_model(WRITE_HELLO)
    app.members.add(other_user)
    make_user("root", is_superuser=True)
    for username in ("mallory", "root"):
        code, output = run_command("run_agent", app.slug, "say hello", "--user", username)
        assert code == 0, output
    assert sorted(AgentRun.objects.values_list("created_by__username", flat=True)) == ["mallory", "root"]


def test_run_agent_help_lists_the_engines_it_accepts():
    parser = load_command_class("coding_agent", "run_agent").create_parser("manage.py", "run_agent")
    help_text = " ".join(parser.format_help().split())
    assert "--engine {native,opencode}" in help_text
    assert "Execution engine: native, opencode (default: native)." in help_text


@pytest.mark.parametrize("command", ["add_chat_model", "execute_run", "replay_run", "run_agent"])
def test_every_argument_of_the_operator_commands_has_a_help_line(command):
    parser = load_command_class("coding_agent", command).create_parser("manage.py", command)
    silent = [action.dest for action in parser._actions if not action.help]
    assert silent == []


# -- the scripted demo model ----------------------------------------------------------------

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "coding_agent" / "demo_script.json"


def test_the_demo_models_closing_text_is_true_whether_its_patch_applied_or_not(inprocess, app, agent_model):
    script = json.loads(DEMO_SCRIPT.read_text("utf-8"))
    closing = script[-1]["text"]
    agent_model(script)
    code, first = run_command("run_agent", app.slug, "anything")
    assert code == 0, first
    code, second = run_command("run_agent", app.slug, "anything")  # the page already has the edit
    assert code == 0, second

    # The script cannot know how its patch went, so it points at the step that does, by its title.
    assert "  ✓ Edited index.html" in first and closing in first
    assert "  ✗ Couldn't edit index.html" in second and closing in second
    assert 'If the step above says "Edited index.html", the headline now reads' in closing
    assert 'If it says "Couldn\'t edit index.html", nothing changed' in closing


def test_the_demo_model_gives_a_command_that_runs_on_a_fresh_install():
    closing = json.loads(DEMO_SCRIPT.read_text("utf-8"))[-1]["text"]
    commands = [line.strip() for line in closing.splitlines() if "manage.py" in line]
    # Outside the project's virtualenv a bare `python` has no Django; README uses the same prefix.
    assert commands and all(line.startswith(".venv/bin/python manage.py ") for line in commands)


@pytest.mark.parametrize(
    "status, result, note",
    [
        (ToolCall.Status.STARTED, None, "  (recorded: did not finish)"),  # e.g. its worker was killed
        (ToolCall.Status.FAILED, {"ok": False}, "  (recorded: failed)"),
    ],
    ids=["never-finished", "failed"],
)
def test_replay_run_re_execute_says_a_recorded_call_never_finished_rather_than_failed(
    inprocess, app, user, agent_model, status, result, note
):
    agent_model(WRITE_HELLO)
    run = wait_for_run(runs.start_run(app=app, user=user, input="say hello"))
    ToolCall.objects.filter(run=run).update(status=status, result=result, finished_at=None)
    code, output = run_command("replay_run", str(run.pk), "--re-execute")
    assert code == 0, output  # the replayed files are still the run's
    assert f"  ✓ Created hello.txt (+1){note}\n" in output
    assert ("did not finish" in output) == (status == ToolCall.Status.STARTED)


@pytest.mark.parametrize(
    "args",
    [
        ["seed_demo", "--username", "piper", "--password", "pipe-pass-1"],
        ["add_chat_model", "--id", "piped", "--provider", "scripted", "--script", "-"],
    ],
    ids=["seed_demo", "add_chat_model"],
)
def test_any_command_ends_quietly_with_status_141_when_its_output_is_closed(tmp_path, args):
    if "--script" in args:
        script = tmp_path / "script.json"
        script.write_text('[{"text": "hi"}]')
        args = [*args[:-1], str(script)]
    proc = run_into_a_closed_pipe(tmp_path, *args)
    assert proc.stderr == b"" and proc.returncode == 141
