"""Runs and replays over files whose stored content is lost or damaged: they end with
CONTENT_UNAVAILABLE naming the files, never INTERNAL_ERROR or a traceback."""

import hashlib
import logging

import pytest
from django.core.management import CommandError, call_command

from coding_agent import runs
from coding_agent.executor import execute_run
from coding_agent.models import AgentRun, RunEvent
from published_apps.models import Blob
from tests.coding_agent.scripts import WRITE_HELLO
from tests.conftest import wait_for_run

pytestmark = pytest.mark.django_db(transaction=True)


def lose(revision, path: str, damage: str) -> None:
    sha = revision.manifest[path]["sha256"]
    if damage == "missing":
        Blob.objects.filter(sha256=sha).delete()
    else:
        Blob.objects.filter(sha256=sha).update(data=b"tampered")


def failure(run) -> dict:
    return RunEvent.objects.get(run=run, event="run.failed").payload


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_a_run_on_a_draft_with_lost_content_fails_with_content_unavailable_naming_the_file(
    damage, inprocess, api, app, user, agent_model, caplog
):
    agent_model(WRITE_HELLO)
    draft = app.draft_revision
    lose(draft, "index.html", damage)
    with caplog.at_level(logging.WARNING):
        run = wait_for_run(runs.start_run(app=app, user=user, input="Change the headline"))
    assert run.status == "failed"
    assert run.error_code == "CONTENT_UNAVAILABLE"
    assert "index.html" in run.error_message and "missing or damaged" in run.error_message
    assert failure(run) == {"code": "CONTENT_UNAVAILABLE", "message": run.error_message}
    body = api.get(f"/admin/apps/{app.id}/coding-agent/runs/{run.pk}").json()
    assert body["error"] == {"code": "CONTENT_UNAVAILABLE", "message": run.error_message}
    # Nothing ran and nothing moved; the log says why, without a traceback for a bug.
    assert not RunEvent.objects.filter(run=run, event__startswith="tool.").exists()
    assert run.result_revision is None
    app.refresh_from_db()
    assert app.draft_revision_id == draft.pk
    assert not any(record.exc_info for record in caplog.records if record.name == "coding_agent.executor")
    assert any("CONTENT_UNAVAILABLE" in record.getMessage() for record in caplog.records)


def test_every_unreadable_file_is_named(inprocess, app, user, agent_model):
    agent_model(WRITE_HELLO)
    lose(app.draft_revision, "index.html", "missing")
    lose(app.draft_revision, "app.js", "damaged")
    run = wait_for_run(runs.start_run(app=app, user=user, input="Change the headline"))
    assert run.error_code == "CONTENT_UNAVAILABLE"
    assert "app.js" in run.error_message and "index.html" in run.error_message


def test_a_resumed_run_whose_recorded_files_are_lost_fails_with_content_unavailable(
    no_dispatch, app, user, agent_model
):
    """A worker that takes over rebuilds the workspace from the run's recorded manifest: a file
    the first worker wrote whose blob is gone fails the run the same way."""
    agent_model(WRITE_HELLO)
    run = runs.start_run(app=app, user=user, input="say hello")
    gone = hashlib.sha256(b"never stored").hexdigest()
    manifest = {**app.draft_revision.manifest, "notes.txt": {"sha256": gone, "size": 12, "mode": "100644"}}
    AgentRun.objects.filter(pk=run.pk).update(workspace_manifest=manifest)
    assert execute_run(run.pk) == "failed"
    run.refresh_from_db()
    assert run.error_code == "CONTENT_UNAVAILABLE" and "notes.txt" in run.error_message
    assert failure(run)["code"] == "CONTENT_UNAVAILABLE"


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_replay_run_re_execute_refuses_a_run_whose_base_content_is_lost_naming_the_file(
    damage, inprocess, app, user, agent_model
):
    agent_model(WRITE_HELLO)
    run = wait_for_run(runs.start_run(app=app, user=user, input="say hello"))
    assert run.status == "completed"
    lose(run.base_revision, "index.html", damage)
    with pytest.raises(CommandError) as refused:
        call_command("replay_run", str(run.pk), "--re-execute")
    message = str(refused.value)
    assert message.startswith(f"Cannot re-execute run {run.pk}: ")
    assert "index.html" in message and "missing or damaged" in message
    # Not 1, which says "the replayed files differ".
    assert refused.value.returncode == 2
    # The recorded events still print: they need no file content.
    call_command("replay_run", str(run.pk))
