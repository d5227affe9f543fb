"""Ending a run: the one place where a run becomes completed, failed or cancelled.

Finishing claims the run with a conditional update (active, and held by `owner` when a
worker finishes it), so exactly one party writes the terminal event: the worker, or
the sweeper when the worker stopped answering. The files are taken from the run's
durable workspace manifest, so a revision of the work can be made without the worker's
disk. Order of events: revision.created, checkpoint.created, then the terminal event,
written together in one statement, in the transaction that sets the run's final fields.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from coding_agent.events import append_event, append_events
from coding_agent.models import ACTIVE_STATUSES, AgentRun, RunEvent
from published_apps import checkpoints, revisions
from published_apps.models import PublishedApp, Revision
from sandbox.manifest import tree_hash

log = logging.getLogger(__name__)

Status = AgentRun.Status


@dataclass
class Outcome:
    status: str  # completed | failed | cancelled
    final_text: str = ""
    usage: dict = field(default_factory=dict)
    error_code: str = ""
    error_message: str = ""
    reason: str = ""  # for cancelled runs


def failed(code: str, message: str, **kw) -> Outcome:
    return Outcome(status=Status.FAILED, error_code=code, error_message=message, **kw)


def cancelled(reason: str = "Cancelled at the user's request.", **kw) -> Outcome:
    return Outcome(status=Status.CANCELLED, reason=reason, **kw)


def record_workspace(run_id, owner: str, manifest: dict[str, dict]) -> None:
    """Make the run's current files durable (blobs must already be stored). Fenced by the lease."""
    from coding_agent.events import LeaseLost

    updated = AgentRun.objects.filter(pk=run_id, lease_owner=owner, status=Status.RUNNING).update(
        workspace_manifest=manifest
    )
    if not updated:
        raise LeaseLost(f"run {run_id}: lease lost before recording the workspace")


def _closing_text(outcome: Outcome) -> str:
    if outcome.status == Status.CANCELLED:
        return "I stopped as you asked. Any files I had already changed are kept as a partial revision."
    if outcome.status == Status.FAILED:
        return f"I couldn't finish this request: {outcome.error_message}"
    return "I've finished working on your request."


def finish(run_id, outcome: Outcome, *, owner: str | None = None) -> AgentRun | None:
    """Finalise the run; returns it, or None if someone else already did (or `owner` lost the lease)."""
    now = timezone.now()
    with transaction.atomic():
        runs = AgentRun.objects.filter(pk=run_id, status__in=ACTIVE_STATUSES)
        if owner is not None:
            runs = runs.filter(lease_owner=owner)
        if runs.update(status=outcome.status, finished_at=now, lease_owner="", lease_expires_at=None) != 1:
            return None
        run = AgentRun.objects.select_related("app", "base_revision", "created_by").get(pk=run_id)
        if not RunEvent.objects.filter(run_id=run_id, event="assistant.delta").exists():
            # Every run ends with something a person can read, whatever happened.
            text = outcome.final_text or _closing_text(outcome)
            append_event(run_id, "assistant.delta", {"text": text})
            outcome.final_text = outcome.final_text or text

        revision = checkpoint = None
        events: list[tuple[str, dict, None]] = []  # written together at the end, in this order
        manifest = run.workspace_manifest
        base = run.base_revision
        if manifest is not None and (base is None or tree_hash(manifest) != base.tree_sha256):
            revision, checkpoint = _keep_work(
                run, manifest, complete=outcome.status == Status.COMPLETED, events=events
            )

        run.final_text = outcome.final_text
        run.usage = outcome.usage or run.usage
        run.error_code = outcome.error_code
        run.error_message = outcome.error_message
        run.result_revision = revision
        run.checkpoint = checkpoint
        run.save(
            update_fields=[
                "final_text",
                "usage",
                "error_code",
                "error_message",
                "result_revision",
                "checkpoint",
            ]
        )

        if outcome.status == Status.COMPLETED:
            payload = {
                "result_revision_id": str(revision.pk) if revision else None,
                "checkpoint_id": str(checkpoint.pk) if checkpoint else None,
                "final_text": run.final_text,
                "usage": run.usage,
            }
            events.append(("run.completed", payload, None))
        elif outcome.status == Status.FAILED:
            events.append(
                ("run.failed", {"code": outcome.error_code, "message": outcome.error_message}, None)
            )
        else:
            events.append(("run.cancelled", {"reason": outcome.reason}, None))
        append_events(run_id, events)
    return run


def _keep_work(run: AgentRun, manifest: dict, *, complete: bool, events: list):
    """A revision (and checkpoint) of the run's files; only a completed run moves the draft."""
    base = run.base_revision
    app = PublishedApp.objects.select_for_update().get(pk=run.app_id)
    summary = run.input.strip().splitlines()[0][:120] if run.input.strip() else "Agent run"
    kind = "" if complete else f"Partial work ({run.status}): "
    revision = revisions.create_revision(
        app=app,
        manifest=manifest,
        parent=base,
        source=Revision.Source.AGENT_RUN,
        run=run,
        message=f"{kind}{summary}",
        partial=not complete,
        user=run.created_by,
    )
    if complete:
        revisions.set_draft(app, revision)
    changed = revisions.changed_files(base.manifest if base else {}, manifest)
    revision_created = {
        "revision_id": str(revision.pk),
        "parent_revision_id": str(base.pk) if base else None,
        "changed_files": changed,
        "partial": not complete,
        "draft_revision_id": str(app.draft_revision_id) if app.draft_revision_id else None,
    }
    checkpoint = checkpoints.create_checkpoint(app=app, revision=revision, run=run, label=f"{kind}{summary}")
    events.append(("revision.created", revision_created, None))
    events.append(
        (
            "checkpoint.created",
            {"checkpoint_id": str(checkpoint.pk), "revision_id": str(revision.pk), "label": checkpoint.label},
            None,
        )
    )
    return revision, checkpoint
