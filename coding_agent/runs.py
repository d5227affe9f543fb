"""Starting, cancelling and restoring: what the REST API and the UI ask of runs.

One active run per app is enforced twice: a check under the app's row lock gives the
friendly 409, and the partial unique index on (app) for active runs makes concurrent
creates race-free even where row locks are not available (SQLite).
"""

from __future__ import annotations

import logging
import threading
import weakref

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from coding_agent import engines, lifecycle, models_catalog, prompts
from coding_agent.events import append_event
from coding_agent.models import ACTIVE_STATUSES, AgentRun
from config.errors import Conflict
from published_apps import checkpoints
from published_apps.models import Checkpoint, PublishedApp

log = logging.getLogger(__name__)

# A run asked to stop is finalised by the sweeper if its worker has not done so by then.
CANCEL_GRACE_S = 3.0


class RunActive(Conflict):
    code = "CODING_AGENT_RUN_ACTIVE"
    message = "This app already has a run in progress; wait for it to finish or stop it."


class RunFinished(Conflict):
    code = "CODING_AGENT_RUN_FINISHED"
    message = "The run has already finished."


class RestoreConflict(Conflict):
    code = "CODING_AGENT_CHECKPOINT_RESTORE_CONFLICT"
    message = "A run is in progress on this app; stop it or wait for it to finish before restoring."


def start_run(
    *,
    app: PublishedApp,
    user,
    input: str,
    messages: list[dict] | None = None,
    model_id: str | None = None,
    engine: str = "native",
) -> AgentRun:
    """Validate, pin the model, create the run with `run.accepted`, and enqueue it on commit."""
    resolution = models_catalog.resolve_model(model_id)
    engines.preflight(engine)
    _, compaction = prompts.conversation(
        messages=messages or [],
        user_input=input,
        budget_chars=settings.APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS,
    )
    try:
        with transaction.atomic():
            # The row alone: PostgreSQL re-checks a locked row that changed while it waited,
            # and a joined draft comes back empty from that re-check (a run on no files).
            app = PublishedApp.objects.select_for_update().get(pk=app.pk)
            if AgentRun.objects.filter(app=app, status__in=ACTIVE_STATUSES).exists():
                raise RunActive()
            run = AgentRun.objects.create(
                app=app,
                created_by=user if user and user.is_authenticated else None,
                input=input,
                messages=messages or [],
                requested_model_id=None if models_catalog.is_auto(model_id) else model_id,
                resolved_model_id=resolution.model.pk,
                model_resolution=resolution.reason,
                execution_engine=engine,
                base_revision_id=app.draft_revision_id,
                compaction=compaction,
            )
            append_event(
                run.pk,
                "run.accepted",
                {
                    "status": run.status,
                    "requested_model_id": run.requested_model_id,
                    "resolved_model_id": run.resolved_model_id,
                    "model_resolution": run.model_resolution,
                    "execution_engine": run.execution_engine,
                    "base_revision_id": str(run.base_revision_id) if run.base_revision_id else None,
                },
            )
            transaction.on_commit(lambda: hand_out(run.pk))
    except IntegrityError:
        raise RunActive()  # a concurrent create won the partial unique index
    run.refresh_from_db()
    return run


def enqueue(run_id) -> None:
    """Hand the run to whatever executes runs here: Celery workers or the in-process pool."""
    AgentRun.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    dispatch(run_id)


def hand_out(run_id) -> None:
    """`enqueue`, for a run already created and answered for: when the broker cannot take
    the message, the run stays queued and the sweeper hands it out again later
    (RUN_REQUEUE_SECONDS), rather than the create failing after it happened."""
    try:
        enqueue(run_id)
    except Exception as exc:
        log.warning(
            "run %s: could not be handed out (%s: %s); it is handed out again within %s s",
            run_id,
            type(exc).__name__,
            exc,
            settings.RUN_REQUEUE_SECONDS,
        )


def dispatch(run_id) -> None:
    if settings.RUN_EXECUTION == "celery":
        from coding_agent.tasks import execute_run_task

        execute_run_task.apply_async(args=[str(run_id)])
    else:
        from coding_agent import inprocess

        inprocess.submit(run_id)


def cancel_run(*, run: AgentRun) -> AgentRun:
    """Ask a run to stop. A queued run stops at once; a running one at its next step."""
    now = timezone.now()
    AgentRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES, cancel_requested_at=None).update(
        cancel_requested_at=now
    )
    run.refresh_from_db()
    if not run.is_active:
        raise RunFinished()
    if run.status == AgentRun.Status.QUEUED and not run.lease_owner:
        # Nobody works on it yet: end it here (a worker that claims it later finds it finished).
        lifecycle.finish(run.pk, lifecycle.cancelled())
    else:
        # The sweeper finalises unanswered cancels too, but this process may run none
        # (manage.py run_agent, a test client): the asking process makes sure itself.
        timer = threading.Timer(CANCEL_GRACE_S, force_cancel, args=[run.pk])
        timer.name = f"cancel-grace-{str(run.pk)[:8]}"
        timer.daemon = True
        grace_timers.add(timer)
        timer.start()
    run.refresh_from_db()
    return run


# Pending grace checks, so that a process ending its work (a test's teardown) can stop them.
grace_timers: weakref.WeakSet[threading.Timer] = weakref.WeakSet()


def force_cancel(run_id) -> bool:
    """Finalise a run whose cancel was requested, whether or not its worker answers."""
    from django.db import close_old_connections

    close_old_connections()
    try:
        run = lifecycle.finish(run_id, lifecycle.cancelled())
    finally:
        close_old_connections()
    if run is not None:
        log.info("run %s: cancelled without its worker", run_id)
    return run is not None


def restore_checkpoint(*, app: PublishedApp, checkpoint: Checkpoint, user):
    """A new draft revision equal to the checkpoint's; refused while a run is active."""
    if checkpoint.app_id != app.pk:
        raise ValueError(f"checkpoint {checkpoint.pk} belongs to another app than {app.pk}")
    with transaction.atomic():
        PublishedApp.objects.select_for_update().get(pk=app.pk)
        if AgentRun.objects.filter(app_id=app.pk, status__in=ACTIVE_STATUSES).exists():
            raise RestoreConflict()
        return checkpoints.restore_checkpoint(checkpoint=checkpoint, user=user)
