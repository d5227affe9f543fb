"""Run an app's declared checks (e.g. `node --check app.js`) inside its workspace.

A check is declared by the app, never composed by the model: the model names it. It
runs without a shell, in its own process group, with an environment that holds no
secrets of this process, a capped output and a timeout. On timeout or cancel the whole
process group is killed, so a check that forks (`sh -c 'sleep 100 & ...'`) leaves
nothing behind. The same happens when the worker running the check is killed, even
with SIGKILL (see `_start_watcher`).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable

from sandbox.files import INVALID_ARGUMENT
from sandbox.paths import PolicyError, resolve

UNKNOWN_CHECK = "UNKNOWN_CHECK"
INVALID_CHECK = "INVALID_CHECK"

CHECK_PATH = "/usr/local/bin:/usr/bin:/bin"
DEFAULT_TIMEOUT_S = 120
DEFAULT_MAX_OUTPUT_BYTES = 16_000
POLL_S = 0.1
# How long to wait for the killed group to disappear, and for the pipe to drain.
REAP_S = 2.0

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")


def run_check(
    root: str | os.PathLike,
    *,
    name: object,
    checks: dict,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    cancel: Callable[[], bool] | None = None,
) -> dict:
    """Run the declared check `name` and report how it went.

    Result: `{check, argv, status: passed|failed|timed_out|cancelled|not_found,
    exit_code (None unless the process exited by itself), output (stdout and stderr
    interleaved, colour codes removed; head and tail kept when longer than
    `max_output_bytes`), truncated, duration_ms, message}`. A check's own `timeout_s`
    can only shorten `timeout_s`. `cancel` is polled about every 0.1 s.
    """
    spec = _declared(name, checks)
    argv = spec["argv"]
    timeout = _timeout(timeout_s, spec.get("timeout_s"), name)
    result = {"check": name, "argv": argv, "exit_code": None, "output": "", "truncated": False}
    started = time.monotonic()
    executable = _executable(root, argv[0])
    if executable is None:
        return {
            **result,
            "status": "not_found",
            "duration_ms": 0,
            "message": f"`{argv[0]}` was not found (PATH is {CHECK_PATH}); the check cannot run here.",
        }
    home = tempfile.mkdtemp(prefix="check-home-")
    try:
        status, exit_code, capture = _run(root, argv, executable, home, timeout, max_output_bytes, cancel)
    except OSError as exc:  # not executable, or a script without a #! line
        return {
            **result,
            "status": "failed",
            "duration_ms": 0,
            "message": f"`{argv[0]}` could not start: {exc}.",
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)
    output, truncated = capture.text()
    if SETPRIV and exit_code in (126, 127) and output.startswith("setpriv: failed to execute"):
        # What Popen itself would have raised without the setpriv wrapper.
        reason = output.split(": ", 2)[-1].strip()
        return {
            **result,
            "status": "failed",
            "duration_ms": 0,
            "message": f"`{argv[0]}` could not start: {reason}.",
        }
    return {
        **result,
        "status": status,
        "exit_code": exit_code,
        "output": output,
        "truncated": truncated,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "message": _message(name, status, exit_code, timeout),
    }


def _timeout(limit: object, declared: object, name: str) -> float:
    """The tool's limit, shortened by the check's own `timeout_s` if it declares one."""
    timeout = float(limit)
    if declared is None:
        return timeout
    if isinstance(declared, bool) or not isinstance(declared, int | float) or declared <= 0:
        raise PolicyError(INVALID_CHECK, f"Check `{name}` declares an invalid `timeout_s`.", "check")
    return min(timeout, float(declared))


def _declared(name: object, checks: object) -> dict:
    declared = checks if isinstance(checks, dict) else {}
    if not isinstance(name, str) or not name:
        raise PolicyError(INVALID_ARGUMENT, "`check` must be the name of a declared check.", "check")
    if name not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise PolicyError(UNKNOWN_CHECK, f"No check named `{name}`; this app declares: {known}.", "check")
    spec = declared[name]
    argv = spec.get("argv") if isinstance(spec, dict) else None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a for a in argv):
        raise PolicyError(
            INVALID_CHECK, f"Check `{name}` has no valid `argv` list in the app's declaration.", "check"
        )
    return spec


def _executable(root: str | os.PathLike, program: str) -> str | None:
    """Where argv[0] lives: on the fixed PATH, or a workspace script (`./check.sh`)."""
    if "/" not in program:
        return shutil.which(program, path=CHECK_PATH)
    if program.startswith("/"):
        return program if os.path.isfile(program) else None
    resolved = resolve(root, program, field="check")
    return os.fspath(resolved.path) if resolved.path.is_file() else None


# The check runs in its own session, out of reach of a signal to the worker's process
# group; if the worker itself is killed (SIGKILL), PDEATHSIG takes the check's own process
# down at once. setpriv (util-linux) sets it between fork and exec, which a preexec_fn in
# a threaded process cannot do safely. PDEATHSIG reaches that one process only, not what
# it started (`sh -c 'sleep 60; ...'` leaves `sleep` running): the watcher kills the rest.
SETPRIV = shutil.which("setpriv", path="/usr/bin:/bin")

# The watcher: a POSIX sh in a session of its own, a child of the worker, whose stdin is
# the read end of a pipe that only the worker can write to. It reads the check's process
# group, then blocks until end of file, which comes when the worker closes the pipe or
# dies in any way (the kernel closes a killed process's files), and then kills the group.
# Unlike a signal (PDEATHSIG), end of file cannot be missed: a worker that died before
# the watcher started reading is seen at its first read. Meanwhile it sleeps in read().
# Once the worker is dead, init reaps the check, but the group id cannot be reused while
# any process of the group still runs (the kernel keeps a pid in use as a group id).
_WATCHER = """trap '' HUP INT QUIT TERM
read -r group || exit 0
case $group in ''|*[!0-9]*) exit 0 ;; esac
while read -r _; do :; done
kill -s KILL -- "-$group" 2>/dev/null
"""


def _start_watcher() -> tuple[subprocess.Popen, int]:
    """Start a watcher; returns it and the pipe's write end, which the worker keeps open."""
    read_end, write_end = os.pipe()  # not inheritable: no check or other child gets the write end
    try:
        watcher = subprocess.Popen(
            ["/bin/sh", "-c", _WATCHER],
            cwd="/",
            env={"PATH": CHECK_PATH},
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C or SIGTERM to the worker's group spares it
            close_fds=True,
        )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return watcher, write_end


def _stop_watcher(watcher: subprocess.Popen, write_end: int) -> None:
    watcher.kill()  # not reaped yet, so its pid is still its own
    watcher.wait()
    os.close(write_end)


def _run(root, argv, executable, home, timeout, max_output_bytes, cancel):
    env = {"PATH": CHECK_PATH, "LANG": "C.UTF-8", "HOME": home}
    if SETPRIV:
        # setpriv finds argv[0] on the same fixed PATH (or in the workspace for ./x), so
        # the check keeps its own argv, as `ps` and the tests see it.
        argv, executable = [SETPRIV, "--pdeathsig", "KILL", "--", *argv], SETPRIV
    # Started before the check, so that the check goes unwatched only from its fork to the
    # write below, about a millisecond: a worker killed then leaves the watcher nothing to
    # kill, and only PDEATHSIG (if setpriv had set it yet) stops the check's own process.
    watcher, guard = _start_watcher()
    try:
        proc = subprocess.Popen(
            argv,
            executable=executable,
            cwd=os.fspath(root),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so one signal reaches every descendant
            close_fds=True,
        )
    except BaseException:
        _stop_watcher(watcher, guard)
        raise
    try:
        os.write(guard, b"%d\n" % proc.pid)  # the check's process group
    except OSError:  # the watcher is gone (killed by someone): the check still runs, unwatched
        pass
    capture = _Capture(proc.stdout.fileno(), max_output_bytes)
    reader = threading.Thread(target=capture.drain, name=f"check-output-{proc.pid}", daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    status = None
    pause = 0.001  # doubling: a check that ends at once is seen at once, a long one polls at POLL_S
    try:
        while not _exited(proc.pid):
            if time.monotonic() >= deadline:
                status = "timed_out"
                break
            if cancel is not None and cancel():
                status = "cancelled"
                break
            time.sleep(pause)
            pause = min(pause * 2, POLL_S)  # quick checks return quickly, long ones poll at 0.1 s
    finally:
        # Always, also after a normal exit: background processes a check started must not
        # outlive it. The leader is still unreaped here, so its pid (= the group id) cannot
        # have been reused by an unrelated process.
        _kill_group(proc.pid)
        # Before the check is reaped: the group id the watcher holds is still the check's.
        _stop_watcher(watcher, guard)
        proc.wait()
        _wait_group_gone(proc.pid)
        capture.stop.set()
        reader.join(REAP_S)
        proc.stdout.close()
    if status is None:
        status = "passed" if proc.returncode == 0 else "failed"
        return status, proc.returncode, capture
    return status, None, capture


def _exited(pid: int) -> bool:
    """Has the process exited? Without reaping it (WNOWAIT)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_group_gone(pgid: int) -> None:
    """Wait until no process of the group is still running (SIGKILL is asynchronous).

    Killed grandchildren become zombies of init until it reaps them, which can take a
    second; they no longer run, so they do not count.
    """
    deadline = time.monotonic() + REAP_S
    while time.monotonic() < deadline and _group_running(pgid):
        time.sleep(0.01)


def _group_running(pgid: int) -> bool:
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except FileNotFoundError:  # no procfs: fall back to "any member, zombie or not"
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # exited while we looked
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


class _Capture:
    """Reads a pipe to its end, keeping the first and last bytes within a cap."""

    def __init__(self, fd: int, cap: int):
        self.fd = fd
        self.head_cap = max(cap, 0) // 2
        self.tail_cap = max(cap, 0) - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.stop = threading.Event()

    def drain(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], POLL_S)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    return
                self._add(chunk)
            elif self.stop.is_set():
                return  # a process that left the group still holds the pipe: stop waiting

    def _add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    def text(self) -> tuple[str, bool]:
        kept = len(self.head) + len(self.tail)
        if self.total <= kept:
            return _decode(bytes(self.head + self.tail)), False
        omitted = self.total - kept
        return _decode(bytes(self.head)) + f"\n… [{omitted} bytes omitted] …\n" + _decode(
            bytes(self.tail)
        ), True


def _decode(data: bytes) -> str:
    return _ANSI.sub(b"", data).decode("utf-8", "replace")


def _message(name: str, status: str, exit_code: int | None, timeout: float) -> str:
    if status == "passed":
        return f"Check `{name}` passed."
    if status == "timed_out":
        return f"Check `{name}` ran longer than {timeout:g} s and was stopped."
    if status == "cancelled":
        return f"Check `{name}` was cancelled and stopped."
    if exit_code is not None and exit_code < 0:
        return f"Check `{name}` was killed by signal {-exit_code}."
    return f"Check `{name}` failed with exit code {exit_code}."
