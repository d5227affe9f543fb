"""Running one run to its end: the function both the Celery task and the in-process pool call.

Claim the run (or leave it to whoever holds it), keep the lease alive, execute it on its
engine, and finish it. Every way out ends in exactly one terminal event: written here,
or by the sweeper if this worker dies or stops answering.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import close_old_connections

from coding_agent import checkpointer, leases, lifecycle
from coding_agent.engines import run_engine
from coding_agent.events import LeaseLost
from sandbox.workspaces import remove_workspace

log = logging.getLogger(__name__)


def execute_run(run_id) -> str:
    """Execute the run if this worker can claim it; returns what happened (for logs and tests)."""
    close_old_connections()
    owner = leases.new_owner()
    run = leases.claim(run_id, owner)
    if run is None:
        return "not-claimed"
    if run.attempt > settings.RUN_MAX_ATTEMPTS:
        lifecycle.finish(
            run_id,
            lifecycle.failed(
                "WORKER_LOST",
                f"The run's worker stopped {run.attempt - 1} times; giving up after {settings.RUN_MAX_ATTEMPTS} attempts.",
            ),
            owner=owner,
        )
        return "worker-lost"
    heartbeat = leases.Heartbeat(run_id, owner).start()
    finished = False
    try:
        if run.cancel_requested_at is not None:
            outcome = lifecycle.cancelled()
        else:
            outcome = run_engine(run, owner=owner, heartbeat=heartbeat)
        finished = lifecycle.finish(run_id, outcome, owner=owner) is not None
        return outcome.status if finished else "lost"
    except LeaseLost:
        log.info("run %s: lease lost; another party finishes it", run_id)
        return "lost"
    except Exception as exc:
        log.exception("run %s failed unexpectedly", run_id)
        try:
            finished = (
                lifecycle.finish(
                    run_id,
                    lifecycle.failed("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"[:2000]),
                    owner=owner,
                )
                is not None
            )
        except LeaseLost:
            pass
        return "error"
    finally:
        heartbeat.stop()
        if finished:
            remove_workspace(run_id)
            try:
                checkpointer.delete_thread(str(run_id))
            except Exception:  # deleting saves space; failing to delete loses nothing
                log.warning("run %s: could not delete its checkpoints", run_id, exc_info=True)
        else:
            leases.release(run_id, owner)
        close_old_connections()
