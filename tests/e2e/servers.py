"""Real servers for end-to-end tests: daphne, Celery workers and a private Redis.

They run as separate processes on the test's own database (pytest-django's test
database, so tests using these need `transactional_db`), exactly as in production:
the only difference is the database name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
STARTUP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this test process uses (the test database)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    auth = s.get("USER") or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{auth + '@' if auth else ''}{host}:{port}/{s['NAME']}"


def server_env(data_dir: Path, *, redis_url: str | None, **extra) -> dict:
    """Environment for a server process: embedded mode when `redis_url` is None."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "APPS_RUN_EXECUTION"))
    }
    env.update(
        APPS_DATA_DIR=str(data_dir),
        DATABASE_URL=database_url(),
        DJANGO_SECRET_KEY=settings.SECRET_KEY,  # sessions made by the test work on the server
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Process:
    """A child process in its own session, with its output kept in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.log_offset = 0

    def start(self):
        # Where this start's output begins (a restart appends to the same log file).
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_since_start(self) -> str:
        """The output of the current start only."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as fh:
            fh.seek(self.log_offset)
            return fh.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Signal the whole process group (a prefork worker's children too)."""
        if self.alive():
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None:
            return
        if self.alive():
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(timeout)
        self.log_file.close()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.proc.wait(10)


def wait_until(
    check, *, timeout: float = STARTUP_TIMEOUT_S, what: str = "condition", process: Process | None = None
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise RuntimeError(f"{process.name} exited while waiting for {what}:\n{process.log()[-4000:]}")
        try:
            if check():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}" + (f":\n{process.log()[-4000:]}" if process else ""))


class Daphne(Process):
    def __init__(
        self,
        env: dict,
        log_dir: Path,
        *,
        port: int | None = None,
        name: str = "daphne",
        application: str = "config.asgi:application",
    ):
        self.port = port or free_port()
        argv = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), application]
        super().__init__(name, argv, env, log_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self):
        super().start()
        wait_until(
            lambda: urllib.request.urlopen(self.url + "/login/", timeout=2).status == 200,
            what=f"{self.name} on port {self.port}",
            process=self,
        )
        return self


class CeleryWorker(Process):
    def __init__(self, env: dict, log_dir: Path, *, name: str = "worker", concurrency: int = 2):
        argv = [
            PYTHON, "-m", "celery", "-A", "config", "worker", "-l", "info", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE,
            "-c", str(concurrency), "-n", f"{name}-{free_port()}@%h", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        super().__init__(name, argv, env, log_dir)

    def start(self):
        super().start()
        wait_until(lambda: " ready." in self.log_since_start(), what=f"{self.name} ready", process=self)
        return self


class RedisServer(Process):
    """A private Redis on a free port, so a test can restart it without touching anyone else's."""

    def __init__(self, log_dir: Path, *, port: int | None = None):
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redis-", dir=log_dir))
        argv = [
            shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir),
        ]  # fmt: skip
        super().__init__(f"redis-{self.port}", argv, dict(os.environ), log_dir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        super().start()
        wait_until(
            lambda: "Ready to accept connections" in self.log_since_start(), what="redis", process=self
        )
        return self

    def restart(self) -> None:
        self.stop()
        self.start()


def processes_running(argv: list[str]) -> list[int]:
    """Pids of live (not zombie) processes whose command line is exactly `argv`."""
    wanted = b"\0".join(a.encode() for a in argv) + b"\0"
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # gone while we looked
        if cmdline == wanted and stat[stat.rfind(b")") + 2 :][:1] not in (b"Z", b"X"):
            found.append(int(pid))
    return found
