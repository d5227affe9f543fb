"""A worker killed with SIGKILL right after a patch: another process resumes the run from its checkpoint."""

import os
import signal
import subprocess
import sys
import time

import pytest

from coding_agent import runs
from coding_agent.models import AgentRun, RunEvent, ToolCall
from published_apps import blobs
from tests.e2e.servers import REPO, database_url

pytestmark = pytest.mark.django_db(transaction=True)

PATCH = "*** Begin Patch\n*** Add File: notes.txt\n+written once\n*** End Patch\n"
SLOW_TEXT = "This sentence streams slowly so the worker can be killed in the middle of it. " * 3
SCRIPT = [
    {
        "text": "Adding notes.",
        "tool_calls": [{"id": "call_patch", "name": "coding_agent_apply_patch", "args": {"patch": PATCH}}],
    },
    {
        "text": SLOW_TEXT,
        "delay_ms": 40,
        "tool_calls": [
            {"id": "call_read", "name": "coding_agent_read_file_range", "args": {"path": "notes.txt"}}
        ],
    },
    {"text": "All done."},
]


def worker(run_id, env):
    return subprocess.Popen(
        [sys.executable, "manage.py", "execute_run", str(run_id)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_a_killed_run_resumes_in_a_new_process_and_applies_its_patch_once(
    no_dispatch, tmp_path, app, user, agent_model
):
    agent_model(SCRIPT)
    run = runs.start_run(app=app, user=user, input="take notes")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "APPS_RUN_LEASE_SECONDS": "2",
        "APPS_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("REDIS_URL", None)

    first = worker(run.pk, {**env, "APPS_WORKSPACES_DIR": str(tmp_path / "machine-a")})
    deadline = time.monotonic() + 60
    while not ToolCall.objects.filter(
        run=run, tool_call_id__endswith="call_patch", status="completed"
    ).exists():
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "the patch never finished"
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = AgentRun.objects.get(pk=run.pk)
    assert killed_at.status == "running"

    time.sleep(2.5)  # let the dead worker's lease expire
    second = worker(
        run.pk, {**env, "APPS_WORKSPACES_DIR": str(tmp_path / "machine-b")}
    )  # another machine's disk
    output, _ = second.communicate(timeout=120)
    run.refresh_from_db()
    assert run.status == "completed", output
    assert run.attempt == 2

    notes = blobs.read(run.result_revision.manifest["notes.txt"]["sha256"]).decode()
    assert notes == "written once\n"
    assert ToolCall.objects.filter(run=run).count() == 2
    events = list(RunEvent.objects.filter(run=run).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    started = [e.payload["tool_call_id"] for e in events if e.event == "tool.started"]
    assert started == ["call_patch", "call_read"]
    assert [e.event for e in events].count("run.completed") == 1
    text = "".join(e.payload["text"] for e in events if e.event == "assistant.delta")
    assert text == "Adding notes." + SLOW_TEXT + "All done."
