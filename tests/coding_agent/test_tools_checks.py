"""The toolpack's declared checks, time limits, cancellation, unexpected errors and running titles."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from coding_agent.tools import ToolTimeout, execute, reading
from tests.coding_agent.tool_workspace import APP_PATCH, context, run

# -- checks -----------------------------------------------------------------------


def test_a_passing_check(ctx):
    outcome, body = run(ctx, "coding_agent_run_check", {"check": "ok"})
    assert outcome.ok
    assert outcome.title == "Ran check ok (passed)"
    assert outcome.result == {
        "check": "ok",
        "status": "passed",
        "exit_code": 0,
        "duration_ms": body["duration_ms"],
        "truncated": False,
    }


def test_a_failing_check_is_a_successful_call_that_reports_the_failure(ctx):
    outcome, body = run(ctx, "coding_agent_run_check", {"check": "broken"})
    assert outcome.ok
    assert outcome.result["status"] == "failed"
    assert outcome.title == "Ran check broken (failed, exit 3)"
    assert "bad syntax" in body["output"]


def test_a_check_stopped_by_its_own_shorter_timeout_is_a_normal_result(ctx):
    outcome, _ = run(ctx, "coding_agent_run_check", {"check": "short"})
    assert outcome.ok
    assert outcome.result["status"] == "timed_out"
    assert outcome.title == "Ran check short (timed out)"


def test_a_check_running_past_the_tool_time_limit_raises_tool_timeout(ws):
    ctx = context(ws, timeout_s=0.5)
    with pytest.raises(ToolTimeout) as caught:
        execute("coding_agent_run_check", {"check": "slow"}, ctx)
    assert caught.value.tool == "coding_agent_run_check"
    assert caught.value.timeout_s == 0.5


def test_an_unknown_check_lists_the_declared_ones(ctx):
    outcome, _ = run(ctx, "coding_agent_run_check", {"check": "lint"})
    assert outcome.error["code"] == "UNKNOWN_CHECK"
    assert outcome.error["field"] == "check"
    assert "broken" in outcome.error["message"]
    assert outcome.title == "Couldn't run check lint"


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


def test_cancelling_the_run_stops_a_running_check(ws):
    pid_file = ws / "pid.txt"
    checks = {
        "forever": {"argv": ["sh", "-c", "echo $$ > pid.txt.part && mv pid.txt.part pid.txt; exec sleep 30"]}
    }
    # The run is asked to stop once the check's process is up and running.
    ctx = context(ws, checks=checks, cancel=pid_file.exists)
    outcome, _ = run(ctx, "coding_agent_run_check", {"check": "forever"})
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_CANCELLED"
    assert outcome.result["status"] == "cancelled"
    assert outcome.title == "Stopped check forever (run cancelled)"
    assert not running(int(pid_file.read_text()))


def test_a_cancelled_run_runs_no_further_tool(ws):
    ctx = context(ws, cancel=lambda: True)
    outcome, _ = run(ctx, "coding_agent_delete_file", {"path": "old.css"})
    assert outcome.error["code"] == "TOOL_CANCELLED"
    assert (ws / "old.css").exists()


# -- time limits and unexpected errors ----------------------------------------------


def test_an_in_process_tool_past_the_time_limit_raises_tool_timeout(ws, monkeypatch):
    release = threading.Event()

    def stuck_read(root, **kwargs):
        release.wait(10)
        raise AssertionError("the caller has stopped waiting")

    real_read = reading.read_file_range
    monkeypatch.setattr(reading, "read_file_range", stuck_read)
    ctx = context(ws, timeout_s=0.2)
    try:
        with pytest.raises(ToolTimeout) as caught:
            execute("coding_agent_read_file_range", {"path": "index.html"}, ctx)
        assert caught.value.tool == "coding_agent_read_file_range"
        # The stuck call still holds its worker thread: the next call gets another one.
        monkeypatch.setattr(reading, "read_file_range", real_read)
        outcome = execute("coding_agent_read_file_range", {"path": "index.html"}, ctx)
        assert outcome.ok
    finally:
        release.set()


def test_on_slow_is_called_once_a_call_has_run_50_ms_and_not_for_a_quick_one(ws, monkeypatch):
    real_read = reading.read_file_range
    ctx = context(ws)
    calls = []
    execute(
        "coding_agent_read_file_range", {"path": "index.html"}, ctx, on_slow=lambda: calls.append("quick")
    )
    assert calls == []

    def slow_read(root, **kwargs):
        time.sleep(0.2)
        return real_read(root, **kwargs)

    monkeypatch.setattr(reading, "read_file_range", slow_read)
    outcome = execute(
        "coding_agent_read_file_range", {"path": "index.html"}, ctx, on_slow=lambda: calls.append("slow")
    )
    assert outcome.ok and calls == ["slow"]


def test_a_check_says_it_is_slow_before_its_process_starts(ctx):
    calls = []
    outcome = execute("coding_agent_run_check", {"check": "ok"}, ctx, on_slow=lambda: calls.append("slow"))
    assert outcome.ok and calls == ["slow"]


def test_what_on_slow_raises_is_the_callers_error_not_a_tool_error(ws, monkeypatch):
    release = threading.Event()
    real_read = reading.read_file_range

    def stuck_read(root, **kwargs):
        release.wait(10)
        return real_read(root, **kwargs)

    class LeaseGone(Exception):
        pass

    def lose_the_lease():
        raise LeaseGone

    monkeypatch.setattr(reading, "read_file_range", stuck_read)
    ctx = context(ws)
    try:
        with pytest.raises(LeaseGone):
            execute("coding_agent_read_file_range", {"path": "index.html"}, ctx, on_slow=lose_the_lease)
        # The abandoned call still holds its worker thread: the next call gets another one.
        monkeypatch.setattr(reading, "read_file_range", real_read)
        assert execute("coding_agent_read_file_range", {"path": "index.html"}, ctx).ok
    finally:
        release.set()


def test_an_unexpected_exception_becomes_a_tool_error(tmp_path, caplog):
    not_a_dir = tmp_path / "workspace"
    not_a_dir.write_text("a file where the workspace should be")
    ctx = context(not_a_dir)
    with caplog.at_level(logging.ERROR, logger="coding_agent.tools.registry"):
        outcome, body = run(ctx, "coding_agent_workspace_index")
    assert not outcome.ok
    assert outcome.error["code"] == "TOOL_ERROR"
    assert "NotADirectoryError" in outcome.error["message"]
    assert body["error"] == outcome.error
    assert outcome.title == "Couldn't index the workspace"
    assert caplog.records and caplog.records[0].exc_info is not None


def test_an_unexpected_exception_in_the_patch_engine_becomes_a_tool_error(tmp_path):
    not_a_dir = tmp_path / "workspace"
    not_a_dir.write_text("")
    outcome, _ = run(context(not_a_dir), "coding_agent_apply_patch", {"patch": APP_PATCH})
    assert outcome.error["code"] == "TOOL_ERROR"
    assert outcome.title == "Couldn't edit src/app.js"


@pytest.mark.parametrize(
    "name,args,title",
    [
        (
            "coding_agent_read_file_range",
            {"input": {"file_path": "a.js", "startLine": 1, "end_line": 80}},
            "Reading a.js lines 1–80…",
        ),
        ("coding_agent_read_file_range", {}, "Reading a file…"),
        (
            "coding_agent_apply_patch",
            {"patch": "*** Begin Patch\n*** Update File: index.html\n@@\n-a\n+b\n*** End Patch"},
            "Editing index.html…",
        ),
        ("coding_agent_apply_patch", {"patch": "not a patch"}, "Applying a patch…"),
        ("coding_agent_rename_file", '{"fromPath": "a.js", "toPath": "b.js"}', "Renaming a.js → b.js…"),
        ("coding_agent_search", {"query": "foo"}, "Searching for “foo”…"),
        ("run_check", {"check_name": "js"}, "Running check js…"),
        ("no_such_tool", {}, "Running no_such_tool…"),
    ],
)
def test_a_running_call_gets_a_human_title(name, args, title):
    from coding_agent.tools import running_title

    assert running_title(name, args) == title


@pytest.mark.parametrize("check", ["ok", "broken", "short"])
def test_a_check_result_says_the_call_worked_with_ok(ctx, check):
    _, body = run(ctx, "coding_agent_run_check", {"check": check})
    assert body["ok"] is True
    assert body["status"] in ("passed", "failed", "timed_out")
