"""Celery tasks: thin, they take ids and call the same function as the in-process pool."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready


@shared_task(name="coding_agent.execute_run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_run_task(run_id: str) -> str:
    from coding_agent.executor import execute_run

    return execute_run(run_id)


@worker_ready.connect
def start_worker_sweeper(**_):
    """Each worker also sweeps: re-queues runs whose worker died, finalises overdue cancels."""
    from coding_agent.sweeper import start_sweeper

    start_sweeper()
