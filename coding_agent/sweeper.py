"""The sweeper: finishes what workers could not.

- A run asked to stop more than CANCEL_GRACE_S ago is finalised as cancelled, even if
  its worker is stopped (SIGSTOP) or gone: its fenced writes fail from then on.
- A running run whose lease expired lost its worker: it is re-queued (another worker
  resumes it from its durable checkpoint), or failed with WORKER_LOST after its attempts.
- An active run nobody holds (queued, or running with its lease freed) that was handed
  out more than RUN_REQUEUE_SECONDS ago is handed out again: its task message may be lost
  (a Redis restarted without persistence), or was never sent (the broker was down when the
  run was re-queued). A duplicate message is harmless: only one claim on a run can succeed.

Every step is a conditional update, so any number of processes may sweep at once. Each
run is handled on its own: one that cannot be finished (its error is logged) does not
stop the sweep for the others.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
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
        with _each_run("finalise the cancel of", run_id):
            if runs.force_cancel(run_id):
                done["cancelled"] += 1
    expired = AgentRun.objects.filter(
        status=AgentRun.Status.RUNNING, lease_expires_at__lt=now, cancel_requested_at=None
    ).values_list("pk", "attempt", "lease_owner")
    for run_id, attempt, owner in list(expired):
        with _each_run("take over", run_id):
            if attempt >= settings.RUN_MAX_ATTEMPTS:
                outcome = lifecycle.failed(
                    "WORKER_LOST", f"The run's worker stopped answering {attempt} times; giving up."
                )
                if lifecycle.finish(run_id, outcome) is not None:
                    log.warning(
                        "run %s: worker %s lost (attempt %s); failed with WORKER_LOST", run_id, owner, attempt
                    )
                    done["worker_lost"] += 1
                continue
            # Free the lease (only if still the same expired one) and stamp the hand-out in
            # the same update: if sending the message fails, the run is an unheld active run
            # handed out long enough ago, which the step below sends again.
            if AgentRun.objects.filter(pk=run_id, lease_owner=owner, lease_expires_at__lt=now).update(
                lease_owner="", lease_expires_at=None, enqueued_at=now
            ):
                log.warning("run %s: worker %s lost (attempt %s); re-queued", run_id, owner, attempt)
                done["requeued"] += 1
                runs.dispatch(run_id)
    stale = AgentRun.objects.filter(
        status__in=ACTIVE_STATUSES,
        lease_owner="",
        cancel_requested_at=None,
        enqueued_at__lt=now - timedelta(seconds=settings.RUN_REQUEUE_SECONDS),
    ).values_list("pk", "enqueued_at")
    for run_id, enqueued_at in list(stale):
        with _each_run("hand out again", run_id):
            # Stamp first (conditionally), so concurrent sweepers send one message, not several.
            if AgentRun.objects.filter(
                pk=run_id, status__in=ACTIVE_STATUSES, lease_owner="", enqueued_at=enqueued_at
            ).update(enqueued_at=now):
                log.warning(
                    "run %s: nobody took it %s after it was handed out; handing it out again",
                    run_id,
                    now - enqueued_at,
                )
                done["redispatched"] += 1
                runs.dispatch(run_id)
    return done


@contextmanager
def _each_run(what: str, run_id):
    """One run's step: its failure is logged and the sweep goes on with the next run."""
    try:
        yield
    except (OperationalError, InterfaceError):
        raise  # the connection, not this run: the whole sweep is tried again next second
    except Exception:
        log.warning("run %s: could not %s it; trying again next sweep", run_id, what, exc_info=True)


_last_missing_tables_warning = [float("-inf")]


def _log_sweep_failure(exc: Exception) -> None:
    text = str(exc)
    if "does not exist" in text or "no such table" in text:
        # A worker started before `migrate`: one line a minute, not a traceback a second.
        if time.monotonic() - _last_missing_tables_warning[0] >= 60:
            _last_missing_tables_warning[0] = time.monotonic()
            log.warning(
                "sweep failed: the database has no run tables yet; run `manage.py migrate` (%s)",
                text.splitlines()[0],
            )
        return
    log.warning("sweep failed", exc_info=True)


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
            except Exception as exc:  # a database outage: logged, tried again next second
                _log_sweep_failure(exc)
            finally:
                close_old_connections()

    threading.Thread(target=loop, name="run-sweeper", daemon=True).start()
