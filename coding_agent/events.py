"""Run events: every envelope is a RunEvent row (gapless `seq`) before it is announced.

The database is the truth. The channel layer only wakes listeners, who then read the
rows after the last `seq` they delivered, so a dropped wake-up or a Redis restart loses
nothing and delivery by `seq` cannot duplicate.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from functools import partial

import psycopg
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from coding_agent.models import ACTIVE_STATUSES, AgentRun, RunEvent

TERMINAL_EVENTS = frozenset({"run.completed", "run.failed", "run.cancelled"})
EVENT_TYPES = (
    frozenset(
        {
            "run.accepted",
            "assistant.delta",
            "tool.started",
            "tool.completed",
            "tool.failed",
            "revision.created",
            "checkpoint.created",
        }
    )
    | TERMINAL_EVENTS
)


class LeaseLost(Exception):
    """This worker no longer owns the run (another worker took it, or it was finalised)."""


def json_safe(value) -> dict:
    """Round-trip through JSON so a non-serialisable payload fails where it is made."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def append_event(
    run_id: uuid.UUID | str,
    event: str,
    payload: dict,
    *,
    diagnostics: dict | None = None,
    owner: str | None = None,
    also: Also | None = None,
) -> RunEvent:
    """Persist one event with the run's next seq and announce it once the transaction commits.

    With `owner`, the append is fenced: it succeeds only while that worker holds the
    run's lease and the run is still active, so a worker that lost the run (or one
    that wakes up after the run was finalised without it) cannot write.

    `also` adds writes that commit with the event, fenced the same way, in the same
    statement (PostgreSQL only; elsewhere callers wrap their ORM writes and the append
    in one transaction). Its `returning` values end up in `row.also`.
    """
    return append_events(run_id, [(event, payload, diagnostics)], owner=owner, also=also)[-1]


def append_events(
    run_id: uuid.UUID | str,
    items: list[tuple[str, dict, dict | None]],
    *,
    owner: str | None = None,
    also: Also | None = None,
) -> list[RunEvent]:
    """`append_event` for several consecutive events — (event, payload, diagnostics) — committed
    together: on PostgreSQL in one statement, so one round trip and one commit. The `also`
    values are on the last row."""
    if not items:
        raise ValueError("no events to append")
    for event, _, _ in items:
        if event not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event!r}")
    items = [
        (event, json_safe(payload), json_safe(diagnostics or {})) for event, payload, diagnostics in items
    ]
    run_uuid = uuid.UUID(str(run_id))
    if connection.vendor == "postgresql":
        rows, app_id = _insert_postgres(run_uuid, items, owner, also or Also())
    else:
        if also is not None:
            raise ValueError("combined writes are for PostgreSQL; use a transaction elsewhere")
        # No savepoint: inside a caller's transaction the events commit or roll back with it.
        with transaction.atomic(savepoint=False):
            last, app_id = _next_seq_sqlite(run_uuid, owner, len(items))
            rows = RunEvent.objects.bulk_create(
                RunEvent(run_id=run_uuid, seq=seq, event=event, payload=payload, diagnostics=diagnostics)
                for seq, (event, payload, diagnostics) in enumerate(items, start=last - len(items) + 1)
            )
    # The wake-up carries the committed envelopes (one message for the statement's events):
    # a listener whose last seq is just before them delivers them without a database read
    # (and reads on any gap). Inside a caller's transaction it waits for that commit;
    # otherwise it goes now.
    transaction.on_commit(partial(_announce, run_uuid, [envelope(row, app_id) for row in rows]))
    return rows


_TABLE = AgentRun._meta.db_table
_EVENTS = RunEvent._meta.db_table
_ACTIVE = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
_FENCE = f" AND lease_owner = %s AND status IN ({_ACTIVE})"


@dataclass
class Also:
    """Writes committed with an event in its statement (PostgreSQL).

    `run_set`: more columns of the run row to set. `ctes`: more common table expressions,
    as "name AS (...)" text that may read `next` (the run row's update) — include
    `FROM next` or `EXISTS (SELECT 1 FROM next)` so a fenced-out append writes nothing.
    `returning`: expressions (e.g. "(SELECT id FROM call)") returned in `row.also`.
    """

    run_set: dict = field(default_factory=dict)
    ctes: str = ""
    params: list = field(default_factory=list)
    returning: str = ""


def _jsonb(value):
    from psycopg.types.json import Jsonb

    return Jsonb(value) if isinstance(value, dict | list) else value


def _insert_postgres(run_uuid, items, owner, also: Also) -> tuple[list[RunEvent], uuid.UUID]:
    """The next seqs and the rows in one statement: one round trip, its own commit if none is open.

    The UPDATE takes the run's row lock, so concurrent appends to one run serialise here
    and `seq` has no gaps; if it matches nothing (fenced out), nothing is inserted.
    """
    created_at = timezone.now()
    count = len(items)
    run_set = "".join(f", {column} = %s" for column in also.run_set)
    values = ", ".join(["(%s::int, %s, %s::jsonb, %s::jsonb)"] * count)
    sql = (
        f"WITH next AS (UPDATE {_TABLE} SET last_seq = last_seq + {count}{run_set} WHERE id = %s"  # noqa: S608
        + (_FENCE if owner is not None else "")
        + " RETURNING last_seq, app_id)"
        + (f", {also.ctes} " if also.ctes else " ")
        + f"INSERT INTO {_EVENTS} (run_id, seq, event, payload, diagnostics, created_at) "
        f"SELECT %s, next.last_seq - {count} + v.n, v.event, v.payload, v.diagnostics, %s "
        f"FROM next, (VALUES {values}) AS v(n, event, payload, diagnostics) "
        "RETURNING id, seq, (SELECT app_id FROM next)" + (f", {also.returning}" if also.returning else "")
    )
    params = [*map(_jsonb, also.run_set.values()), run_uuid, *([owner] if owner is not None else [])]
    params += [*map(_jsonb, also.params), run_uuid, created_at]
    for n, (event, payload, diagnostics) in enumerate(items, start=1):
        params += [n, event, _jsonb(payload), _jsonb(diagnostics)]
    with _prepared_cursor() as cursor:
        cursor.execute(sql, params)
        found = sorted(cursor.fetchall(), key=lambda r: r[1])
    if not found:
        raise LeaseLost(f"run {run_uuid}: not the lease owner or no longer active")
    rows = []
    for (event, payload, diagnostics), returned in zip(items, found, strict=True):
        row = RunEvent(
            id=returned[0], run_id=run_uuid, seq=returned[1], event=event, payload=payload,
            diagnostics=diagnostics, created_at=created_at,
        )  # fmt: skip
        row.also = tuple(returned[3:])
        rows.append(row)
    return rows, found[0][2]


class _PreparedCursor(psycopg.Cursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


def _prepared_cursor():
    """A cursor on Django's connection whose statements are prepared on the server, so each
    shape is parsed and planned once per connection (about a third of an append's time).
    Django's own cursors bind client-side and never prepare. Wrapped as Django wraps its
    cursors, so query logging and execute wrappers still see the statement."""
    connection.ensure_connection()
    return connection._prepare_cursor(_PreparedCursor(connection.connection))


def _next_seq_sqlite(run_uuid, owner: str | None, count: int = 1) -> tuple[int, uuid.UUID]:
    """Advance the run's last_seq by `count`; returns the new last_seq and the run's app id."""
    sql = f"UPDATE {_TABLE} SET last_seq = last_seq + {count:d} WHERE id = %s"  # noqa: S608 (fixed names)
    params: list = [run_uuid.hex, *([owner] if owner is not None else [])]
    with connection.cursor() as cursor:
        cursor.execute(sql + (_FENCE if owner is not None else "") + " RETURNING last_seq, app_id", params)
        found = cursor.fetchone()
    if found is None:
        raise LeaseLost(f"run {run_uuid}: not the lease owner or no longer active")
    return found[0], uuid.UUID(str(found[1]))


def _announce(run_id, envelopes: list[dict]):
    from coding_agent import broadcast

    broadcast.announce(run_id, envelopes)


def envelope(row: RunEvent, app_id) -> dict:
    return {
        "seq": row.seq,
        "event": row.event,
        "run_id": str(row.run_id),
        "app_id": str(app_id),
        "ts": row.created_at.isoformat().replace("+00:00", "Z"),
        "payload": row.payload,
        "diagnostics": row.diagnostics,
    }


# The most events one `events_after` read returns (and so one page of the REST `events` list):
# a run can have many thousands. Callers that want them all ask again after the last seq.
EVENTS_PAGE_SIZE = 1000


def events_after(run: AgentRun, after_seq: int = 0, *, limit: int | None = None) -> list[dict]:
    """Envelopes of a run's persisted events after `after_seq`, in order: the first `limit`
    of them (EVENTS_PAGE_SIZE when not given), so there may be more after the last one."""
    if limit is None:
        limit = EVENTS_PAGE_SIZE  # read at call time, so a test can make pages small
    rows = RunEvent.objects.filter(run_id=run.pk, seq__gt=after_seq).order_by("seq")[:limit]
    return [envelope(row, run.app_id) for row in rows]


def group_name(run_id) -> str:
    return f"run-{uuid.UUID(str(run_id)).hex}"
