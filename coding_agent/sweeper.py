"""The sweeper: finishes what workers could not.

- A run asked to stop more than CANCEL_GRACE_S ago is finalised as cancelled, even if
  its worker is stopped (SIGSTOP) or gone: its fenced writes fail from then on.
- A running run whose lease expired lost its worker: it is re-queued (another worker
  resumes it from its durable checkpoint), or failed with WORKER_LOST after its attempts.
- A queued run nobody claimed within RUN_REQUEUE_SECONDS is handed out again (its task
  message may be lost, e.g. with a Redis restarted without persistence). A duplicate
  message is harmless: only one claim on a run can succeed.

Every step is a conditional update, so any number of processes may sweep at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from coding_agent import lifecycle, runs
from coding_agent.models import ACTIVE_STATUSES, AgentRun

log = logging.getLogger(__name__)

INTERVAL_S = 1.0


def sweep_once() -> dict:
    now = timezone.now()
    done = {"cancelled": 0, "requeued": 0, "worker_lost": 0, "redispatched": 0}
    overdue = AgentRun.objects.filter(
        status__in=ACTIVE_STATUSES, cancel_requested_at__lt=now - timedelta(seconds=runs.CANCEL_GRACE_S)
    ).values_list("pk", flat=True)
    for run_id in list(overdue):
        if runs.force_cancel(run_id):
            done["cancelled"] += 1
    expired = AgentRun.objects.filter(
        status=AgentRun.Status.RUNNING, lease_expires_at__lt=now, cancel_requested_at=None
    ).values_list("pk", "attempt", "lease_owner")
    for run_id, attempt, owner in list(expired):
        if attempt >= settings.RUN_MAX_ATTEMPTS:
            outcome = lifecycle.failed(
                "WORKER_LOST", f"The run's worker stopped answering {attempt} times; giving up."
            )
            if lifecycle.finish(run_id, outcome) is not None:
                done["worker_lost"] += 1
            continue
        # Free the lease (only if still the same expired one), then hand the run out again.
        if AgentRun.objects.filter(pk=run_id, lease_owner=owner, lease_expires_at__lt=now).update(
            lease_owner="", lease_expires_at=None
        ):
            log.warning("run %s: worker %s lost (attempt %s); re-queued", run_id, owner, attempt)
            runs.enqueue(run_id)
            done["requeued"] += 1
    stale = AgentRun.objects.filter(
        status=AgentRun.Status.QUEUED,
        lease_owner="",
        cancel_requested_at=None,
        enqueued_at__lt=now - timedelta(seconds=settings.RUN_REQUEUE_SECONDS),
    ).values_list("pk", "enqueued_at")
    for run_id, enqueued_at in list(stale):
        # Stamp first (conditionally), so concurrent sweepers send one message, not several.
        if AgentRun.objects.filter(pk=run_id, status=AgentRun.Status.QUEUED, enqueued_at=enqueued_at).update(
            enqueued_at=now
        ):
            log.warning(
                "run %s: still queued %s after it was handed out; handing it out again",
                run_id,
                now - enqueued_at,
            )
            runs.dispatch(run_id)
            done["redispatched"] += 1
    return done


_started = threading.Event()


def start_sweeper(interval: float = INTERVAL_S) -> None:
    """Sweep every `interval` seconds in a daemon thread of this process (idempotent)."""
    if _started.is_set():
        return
    _started.set()

    def loop():
        stop = threading.Event()
        while not stop.wait(interval):
            try:
                sweep_once()
            except Exception:  # a database outage: logged, tried again next second
                log.warning("sweep failed", exc_info=True)
            finally:
                close_old_connections()

    threading.Thread(target=loop, name="run-sweeper", daemon=True).start()
