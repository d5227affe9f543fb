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
connection.ensure_connection()
backend = connection.connection.info.backend_pid
connection.close()  # what Celery does after every task
connection.ensure_connection()
assert connection.connection.info.backend_pid == backend, "the next task got a new connection"
print("pooled")
"""


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="PostgreSQL connection pools")
def test_a_prefork_child_reuses_its_connection_across_tasks(db):
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("APPS_DB_POOL", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "pooled", done.stderr
