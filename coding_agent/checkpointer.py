"""The LangGraph checkpointer of this process: PostgresSaver on PostgreSQL, SqliteSaver embedded.

Made lazily per process (after a fork a Celery child makes its own pool) on the same
database Django uses, so tests get the test database. A run's thread is deleted when the
run ends: nothing resumes a finished run, and storage grows quadratically with steps.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from django.conf import settings
from django.db import connection

_lock = threading.Lock()
_state: dict = {"pid": None, "saver": None, "key": None}
# Arbitrary constant: serialises PostgresSaver.setup() across processes starting together.
SETUP_ADVISORY_LOCK = 0x6C616E67


def _postgres_conninfo() -> str:
    from psycopg.conninfo import make_conninfo

    s = connection.settings_dict
    return make_conninfo(
        dbname=s["NAME"],
        user=s.get("USER") or None,
        password=s.get("PASSWORD") or None,
        host=s.get("HOST") or None,
        port=str(s["PORT"]) if s.get("PORT") else None,
    )


def _make_postgres():
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import connect
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    conninfo = _postgres_conninfo()
    with connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_ADVISORY_LOCK,))
        try:
            with connect(conninfo, autocommit=True, row_factory=dict_row, prepare_threshold=0) as setup_conn:
                PostgresSaver(setup_conn).setup()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_ADVISORY_LOCK,))
    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max(4, settings.INPROCESS_WORKERS + 1),
        kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": 0},
        open=True,
        name="langgraph-checkpoints",
        # A connection the server dropped (a restart, pg_terminate_backend) is replaced when
        # taken, instead of failing the next run that gets it.
        check=ConnectionPool.check_connection,
    )
    return PostgresSaver(pool), conninfo


def _make_sqlite():
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = str(settings.CHECKPOINTER_SQLITE_PATH)
    conn = sqlite3.connect(
        path, check_same_thread=False, timeout=30
    )  # the saver serialises with its own lock
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver, path


def get_checkpointer():
    with _lock:
        key = _postgres_conninfo() if settings.IS_POSTGRES else str(settings.CHECKPOINTER_SQLITE_PATH)
        if _state["pid"] != os.getpid() or _state["key"] != key or _state["saver"] is None:
            saver, key = _make_postgres() if settings.IS_POSTGRES else _make_sqlite()
            _state.update(pid=os.getpid(), saver=saver, key=key)
        return _state["saver"]


def delete_thread(thread_id: str) -> None:
    """Delete every checkpoint of a thread: a finished run is never resumed."""
    saver = get_checkpointer()
    if settings.IS_POSTGRES:
        saver.prune([thread_id], strategy="delete")  # one transaction (delete_thread commits 3 times)
    else:
        saver.delete_thread(thread_id)


def close() -> None:
    """Close this process's checkpointer connections (tests, before dropping their database)."""
    with _lock:
        saver = _state["saver"]
        _state.update(pid=None, saver=None, key=None)
    if saver is None:
        return
    conn = getattr(saver, "conn", None)
    if conn is not None and hasattr(conn, "close"):
        conn.close()
