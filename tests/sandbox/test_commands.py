import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sandbox import commands
from sandbox.commands import CHECK_PATH, INVALID_CHECK, UNKNOWN_CHECK, run_check
from sandbox.paths import PATH_OUTSIDE_WORKSPACE, PolicyError

needs_node = pytest.mark.skipif(shutil.which("node", path=CHECK_PATH) is None, reason="node is not installed")


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.js").write_text("const a = 1;\n")
    (root / "broken.js").write_text("const a = ;\n")
    return root


def check(ws, argv, **kwargs):
    checks = {"it": {"argv": argv, **kwargs.pop("spec", {})}}
    result = run_check(ws, name="it", checks=checks, **kwargs)
    json.dumps(result)
    return result


def running(pid: int) -> bool:
    """Is the process still running? A zombie (killed, not yet reaped by init) is not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


def pid_from(path) -> int:
    return int(path.read_text().strip())


@needs_node
def test_a_passing_check_reports_passed_with_exit_code_zero(ws):
    result = run_check(ws, name="syntax", checks={"syntax": {"argv": ["node", "--check", "app.js"]}})
    assert (result["check"], result["status"], result["exit_code"]) == ("syntax", "passed", 0)
    assert result["argv"] == ["node", "--check", "app.js"]
    assert result["truncated"] is False
    assert isinstance(result["duration_ms"], int)


@needs_node
def test_a_failing_check_reports_its_exit_code_and_output(ws):
    result = check(ws, ["node", "--check", "broken.js"])
    assert (result["status"], result["exit_code"]) == ("failed", 1)
    assert "SyntaxError" in result["output"]
    assert "exit code 1" in result["message"]


def test_stdout_and_stderr_are_both_captured(ws):
    result = check(ws, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result["status"], result["exit_code"]) == ("failed", 3)
    assert result["output"] == "out\nerr\n"


def test_the_exit_status_is_the_checks_own(ws):
    result = check(ws, ["sh", "-c", "exit 143"])
    assert (result["status"], result["exit_code"]) == ("failed", 143)
    result = check(ws, ["sh", "-c", "kill -TERM $$"])  # not the same as exit 143
    assert (result["status"], result["exit_code"]) == ("failed", -signal.SIGTERM)
    assert "killed by signal 15" in result["message"]


def test_without_setpriv_checks_still_run(ws, monkeypatch):
    monkeypatch.setattr(commands, "SETPRIV", None)
    children = children_of(os.getpid())
    result = check(ws, ["sh", "-c", "sleep 100 & echo $! > grandchild.pid; echo out; exit 3"])
    assert (result["status"], result["exit_code"], result["output"]) == ("failed", 3, "out\n")
    assert not running(pid_from(ws / "grandchild.pid"))
    assert children_of(os.getpid()) == children
    (ws / "check.sh").write_text("#!/bin/sh\necho hi\n")  # not executable
    result = check(ws, ["./check.sh"])
    assert result["status"] == "failed"
    assert "could not start" in result["message"]
    assert children_of(os.getpid()) == children  # the watcher was stopped too


def test_an_unknown_check_is_refused_with_the_declared_names(ws):
    checks = {"lint": {"argv": ["true"]}, "syntax": {"argv": ["true"]}}
    with pytest.raises(PolicyError) as exc:
        run_check(ws, name="deploy", checks=checks)
    assert (exc.value.code, exc.value.field) == (UNKNOWN_CHECK, "check")
    assert "lint, syntax" in exc.value.message


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"argv": []},
        {"argv": "node --check app.js"},
        {"argv": ["node", 3]},
        {"argv": ["true"], "timeout_s": "x"},
    ],
)
def test_a_malformed_declaration_is_refused(ws, spec):
    with pytest.raises(PolicyError) as exc:
        run_check(ws, name="it", checks={"it": spec})
    assert (exc.value.code, exc.value.field) == (INVALID_CHECK, "check")


def test_a_missing_program_is_reported_not_raised(ws):
    result = check(ws, ["no-such-program-xyz", "--version"])
    assert result["status"] == "not_found"
    assert result["exit_code"] is None
    assert "no-such-program-xyz" in result["message"]


def test_the_check_sees_none_of_this_process_environment(ws, monkeypatch):
    monkeypatch.setenv("SECRET_API_KEY", "sk-hunter2")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@db/app")
    result = check(ws, ["env"])
    assert "hunter2" not in result["output"]
    assert "postgres" not in result["output"]
    env = dict(line.split("=", 1) for line in result["output"].splitlines())
    assert sorted(env) == ["HOME", "LANG", "PATH"]
    assert env["PATH"] == CHECK_PATH
    assert env["HOME"] != os.environ.get("HOME")
    assert not os.path.exists(env["HOME"])  # its scratch home is removed afterwards


def test_the_check_runs_in_the_workspace_without_input(ws):
    assert check(ws, ["pwd"])["output"].strip() == os.path.realpath(ws)
    result = check(ws, ["cat"])  # would wait forever if stdin were inherited
    assert (result["status"], result["output"]) == ("passed", "")


def test_long_output_keeps_its_head_and_tail(ws):
    result = check(ws, ["seq", "1", "100000"], max_output_bytes=2000)
    assert result["truncated"] is True
    assert result["output"].startswith("1\n2\n3\n")
    assert result["output"].endswith("99999\n100000\n")
    assert "bytes omitted" in result["output"]
    assert len(result["output"].encode()) < 2100


def test_colour_codes_are_removed(ws):
    result = check(ws, ["printf", "\\033[31mred\\033[0m plain\\n"])
    assert result["output"] == "red plain\n"


def test_a_timeout_kills_the_whole_process_group(ws):
    result = check(ws, ["sh", "-c", "sleep 100 & echo $! > grandchild.pid; wait"], timeout_s=1)
    assert result["status"] == "timed_out"
    assert result["exit_code"] is None
    assert not running(pid_from(ws / "grandchild.pid"))


def test_a_declared_timeout_can_only_shorten_the_limit(ws):
    result = check(ws, ["sh", "-c", "sleep 100 & echo $! > grandchild.pid; wait"], spec={"timeout_s": 1})
    assert result["status"] == "timed_out"
    assert not running(pid_from(ws / "grandchild.pid"))


def test_cancel_kills_the_whole_process_group(ws):
    marker = ws / "grandchild.pid"
    polls = []

    def cancel():
        polls.append(1)
        return marker.exists() and marker.read_text().strip() != ""

    result = check(ws, ["sh", "-c", "sleep 100 & echo $! > grandchild.pid; wait"], cancel=cancel)
    assert result["status"] == "cancelled"
    assert len(polls) >= 1
    assert not running(pid_from(marker))


def test_background_processes_do_not_outlive_a_finished_check(ws):
    # The background sleep keeps the output pipe open; the run must neither wait for it
    # nor leave it running.
    result = check(ws, ["sh", "-c", "sleep 100 & echo $! > grandchild.pid; echo done"])
    assert (result["status"], result["output"]) == ("passed", "done\n")
    assert not running(pid_from(ws / "grandchild.pid"))


def test_a_workspace_script_can_be_a_check(ws):
    script = ws / "check.sh"
    script.write_text('#!/bin/sh\necho checked "$1"\n')
    script.chmod(0o755)
    assert check(ws, ["./check.sh", "app.js"])["output"] == "checked app.js\n"


def test_a_script_that_is_not_executable_fails_with_a_message(ws):
    (ws / "check.sh").write_text("#!/bin/sh\necho hi\n")
    result = check(ws, ["./check.sh"])
    assert result["status"] == "failed"
    assert "could not start" in result["message"]


def test_a_program_outside_the_workspace_by_relative_path_is_refused(ws):
    with pytest.raises(PolicyError) as exc:
        check(ws, ["../evil.sh"])
    assert exc.value.code == PATH_OUTSIDE_WORKSPACE


def test_many_quick_checks_leave_no_processes_or_threads_behind(ws):
    before = threading.active_count()
    children = children_of(os.getpid())
    for _ in range(20):
        assert check(ws, ["true"])["status"] == "passed"
        assert children_of(os.getpid()) == children  # neither the check nor its watcher, not even a zombie
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before


def start_worker(tmp_path, argv: list[str], *, setpriv: bool = True) -> subprocess.Popen:
    """A separate Python process (a stand-in for a run worker) that runs `argv` as a check."""
    script = tmp_path / "worker.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from sandbox import commands\n"
        + ("" if setpriv else "commands.SETPRIV = None\n")
        + f"commands.run_check(sys.argv[1], name='slow', checks={{'slow': {{'argv': {argv!r}}}}}, timeout_s=120)\n"
    )
    (tmp_path / "ws").mkdir()
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "ws")])


def test_a_check_dies_with_the_process_that_started_it(tmp_path):
    """A worker killed with SIGKILL does not leave its check running until the timeout."""
    worker = start_worker(tmp_path, ["sleep", "61.37"])
    deadline = time.monotonic() + 30
    while not sleepers("61.37"):
        assert time.monotonic() < deadline, "the check never started"
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 10
    while sleepers("61.37"):
        assert time.monotonic() < deadline, "the check outlived its worker"
        time.sleep(0.05)


@pytest.mark.parametrize("setpriv", [True, False], ids=["setpriv", "no-setpriv"])
def test_the_processes_a_check_started_die_with_the_worker_too(tmp_path, setpriv):
    """Not only the check itself: everything in its process group (`sleep`s started by `sh`)."""
    if setpriv and commands.SETPRIV is None:
        pytest.skip("setpriv is not installed")
    argv = ["sh", "-c", "echo $$ > check.pid; sleep 61.41 & sleep 61.41; echo done"]
    worker = start_worker(tmp_path, argv, setpriv=setpriv)
    pid_file = tmp_path / "ws" / "check.pid"
    group = None
    try:
        deadline = time.monotonic() + 30
        while len(sleepers("61.41")) < 2 or not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the check never started"
            time.sleep(0.05)
        group = pid_from(pid_file)  # the check leads its own process group
        assert set(sleepers("61.41")) <= set(group_members(group))
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        deadline = time.monotonic() + 10  # a safety net, not a performance limit
        while group_members(group):
            assert time.monotonic() < deadline, (
                f"processes of the check outlived its worker: {group_members(group)}"
            )
            time.sleep(0.05)
        assert not sleepers("61.41")
    finally:  # leave nothing behind when the test fails
        worker.kill()
        worker.wait()
        if group is not None and group_members(group):
            os.killpg(group, signal.SIGKILL)


def processes():
    """(pid, state, parent pid, process group) of every process, from /proc/PID/stat."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            state, ppid, pgid = stat[stat.rfind(b")") + 2 :].split()[:3]
            yield int(entry.name), state, int(ppid), int(pgid)


def group_members(group: int) -> list[int]:
    """Processes of the group that still run (a zombie waiting for init does not)."""
    return [pid for pid, state, _, pgid in processes() if pgid == group and state not in (b"Z", b"X")]


def sleepers(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"sleep" in cmdline[0] and marker.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def children_of(parent: int) -> list[int]:
    """This process's children, zombies included."""
    return sorted(pid for pid, _, ppid, _ in processes() if ppid == parent)
