"""A Celery prefork child keeps its PostgreSQL connections in a pool; the parent never has one."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.e2e.servers import REPO, database_url

CHILD = """
import django
django.setup()
from celery.signals import worker_process_init
import coding_agent.tasks  # noqa: F401  (connects the signal handlers)
from django.db import connection
assert connection.pool is None, "the prefork parent must not hold a pool to hand down"
worker_process_init.send(sender=None)  # what Celery sends in each child after the fork
assert connection.pool is not None, "the child has no pool"
connection.ensure_connection()
connection.close()  # what Celery does after every task
stats = connection.pool.get_stats()
assert stats["pool_available"] >= 1, f"the connection was not kept for the next task: {stats}"
print("pooled")
"""


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="PostgreSQL connection pools")
def test_a_prefork_child_keeps_its_connection_for_the_next_task(db):
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("APPS_DB_POOL", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "pooled", done.stderr


DROPPED = """
import django
django.setup()
from django.db import connection
connection.ensure_connection()
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    (pid,) = cursor.fetchone()
connection.close()  # back to the pool, as after every request
import psycopg
from tests.e2e.servers import database_url
with psycopg.connect(database_url(), autocommit=True) as admin:
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
with connection.cursor() as cursor:  # the pool's connection is gone: it must be replaced
    cursor.execute("SELECT 1")
    print("replaced", cursor.fetchone()[0])
"""


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="PostgreSQL connection pools")
def test_a_pooled_connection_the_server_dropped_is_replaced_not_handed_out(db):
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env["APPS_DB_POOL"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", DROPPED], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "replaced 1", done.stderr


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="PostgreSQL connection pools")
@pytest.mark.django_db(transaction=True)
def test_a_run_after_the_server_dropped_the_checkpointers_connections_completes(
    inprocess, app, user, agent_model
):
    import psycopg

    from coding_agent import runs
    from tests.conftest import wait_for_run

    agent_model([{"text": "Done."}])
    first = wait_for_run(runs.start_run(app=app, user=user, input="one"))
    assert first.status == "completed"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (own,) = cursor.fetchone()
    with psycopg.connect(database_url(), autocommit=True) as admin:  # as a database restart would
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid NOT IN (pg_backend_pid(), %s) AND backend_type = 'client backend'",
            (own,),
        )
    second = wait_for_run(runs.start_run(app=app, user=user, input="two"))
    assert second.status == "completed", (second.error_code, second.error_message)


@pytest.mark.django_db(transaction=True)
def test_a_run_that_loses_the_database_is_left_for_another_attempt_not_failed(
    no_dispatch, app, user, agent_model, monkeypatch, caplog
):
    """A connection error is the database's, not the run's: the run is released for the
    sweeper to hand out again (bounded by its attempts), not failed with INTERNAL_ERROR."""
    from django.db import OperationalError

    from coding_agent import executor, runs
    from coding_agent.models import AgentRun

    agent_model([{"text": "Done."}])
    run = runs.start_run(app=app, user=user, input="one")

    def database_gone(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(executor, "run_engine", database_gone)
    assert executor.execute_run(run.pk) == "lost"
    run.refresh_from_db()
    assert run.status == "running" and run.lease_owner == "" and run.error_code == ""
    assert "lost the database" in caplog.text

    monkeypatch.undo()
    assert executor.execute_run(run.pk) == "completed"
    assert AgentRun.objects.get(pk=run.pk).attempt == 2
