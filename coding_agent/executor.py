"""Running one run to its end: the function both the Celery task and the in-process pool call.

Claim the run (or leave it to whoever holds it), keep the lease alive, execute it on its
engine, and finish it. Every way out ends in exactly one terminal event: written here,
or by the sweeper if this worker dies or stops answering.
"""

from __future__ import annotations

import logging

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from coding_agent import checkpointer, leases, lifecycle
from coding_agent.engines import run_engine
from coding_agent.events import LeaseLost
from published_apps.blobs import BlobUnavailable
from sandbox.workspaces import remove_workspace

log = logging.getLogger(__name__)

# Errors of the connection, not of the run: Django's wrappers, and psycopg's own from the
# checkpointer's pool.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


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
            try:
                outcome = run_engine(run, owner=owner, heartbeat=heartbeat)
            except BlobUnavailable as exc:
                # The files the run starts (or resumes) from cannot be read back whole: not a
                # bug of the run, and no attempt would fare better. Fail it with the API's code
                # and the message naming the files (blobs.fetch has logged the hashes).
                outcome = lifecycle.failed(exc.code, exc.message)
        finished = lifecycle.finish(run_id, outcome, owner=owner) is not None
        if finished:
            # The worker's log says how each run ended, not only that its task returned.
            if outcome.error_code:
                log.warning("run %s failed: %s: %s", run_id, outcome.error_code, outcome.error_message[:500])
            else:
                log.debug("run %s %s", run_id, outcome.status)
        return outcome.status if finished else "lost"
    except LeaseLost:
        log.info("run %s: lease lost; another party finishes it", run_id)
        return "lost"
    except DATABASE_UNREACHABLE as exc:
        # The database, not the run: like a lost worker, the run goes to another attempt
        # (from its last durable checkpoint), and fails with WORKER_LOST after its attempts.
        log.warning("run %s: lost the database (%s); left for another attempt", run_id, exc)
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
            try:
                close_old_connections()
                leases.release(run_id, owner)  # the sweeper hands the run out again
            except DATABASE_UNREACHABLE:
                pass  # still down: the lease expires instead, with the same result
        close_old_connections()
