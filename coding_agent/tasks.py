"""Celery tasks: thin, they take ids and call the same function as the in-process pool."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_process_init, worker_ready

# A prefork child runs one task at a time; its threads (the run, its lease heartbeat) share these.
CHILD_POOL = {"min_size": 1, "max_size": 4, "timeout": 30}


@shared_task(name="coding_agent.execute_run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_run_task(run_id: str) -> str:
    from coding_agent.executor import execute_run

    return execute_run(run_id)


@worker_ready.connect
def start_worker_sweeper(**_):
    """Each worker also sweeps: re-queues runs whose worker died, finalises overdue cancels."""
    from coding_agent.sweeper import start_sweeper

    start_sweeper()


@worker_process_init.connect
def pool_database_connections(**_):
    """A prefork child never forks again, so, like the server, it keeps its PostgreSQL
    connections in a pool: a run then starts on a warm connection instead of paying for a
    new one (and its server process's cold caches) in every task. Called after the fork,
    once Celery has dropped the connections inherited from the parent."""
    from django.conf import settings
    from django.db import connections

    if settings.IS_POSTGRES:
        connections["default"].settings_dict["OPTIONS"].setdefault("pool", dict(CHILD_POOL))
