"""Shared set-up for benchmarks: a scratch PostgreSQL database, migrated, and Django configured on it.

    from bench.common import django_on_postgres
    db_name = django_on_postgres("bench_relay")   # creates, migrates, sets DATABASE_URL

The database is dropped at exit. `BENCH_PG_URL` (default postgres://postgres@127.0.0.1:5432)
names the server.
"""

from __future__ import annotations

import atexit
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def django_on_postgres(name: str, *, data_dir: str | None = None) -> str:
    """Create database `name`, migrate it, point this process's Django at it; returns its URL."""
    sys.path.insert(0, str(REPO))
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER}/{name}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("APPS_DATA_DIR", data_dir or str(REPO / "bench" / ".work" / name))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, check=True, env=os.environ.copy()
    )

    def drop():
        from django.db import connections

        connections.close_all()
        try:
            from coding_agent import checkpointer

            checkpointer.close()
        except Exception:  # best effort at exit
            pass
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    atexit.register(drop)
    import django

    django.setup()
    return url


def median(values) -> float:
    return statistics.median(values)


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
