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
