"""Embedded mode: a small thread pool inside the server process runs what Celery would.

The same `execute_run` the Celery task calls. At start-up, runs left queued or running
by a previous server process are resumed: the embedded mode is one process, so their
leases belong to nobody alive.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.INPROCESS_WORKERS, thread_name_prefix="run")
        return _pool


def _run(run_id) -> None:
    from coding_agent.executor import execute_run

    try:
        execute_run(run_id)
    except Exception:  # a bug or a database outage: logged; the sweeper finishes the run
        log.exception("run %s crashed its executor thread", run_id)
    finally:
        close_old_connections()


def submit(run_id) -> None:
    _executor().submit(_run, run_id)


def resume_left_over_runs() -> int:
    from coding_agent.models import ACTIVE_STATUSES, AgentRun

    left = list(AgentRun.objects.filter(status__in=ACTIVE_STATUSES).values_list("pk", flat=True))
    if left:
        AgentRun.objects.filter(pk__in=left).update(lease_owner="", lease_expires_at=None)
        log.info("resuming %d run(s) left over by a previous server process", len(left))
    from coding_agent.runs import enqueue

    for run_id in left:
        enqueue(run_id)
    close_old_connections()
    return len(left)
