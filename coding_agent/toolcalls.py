"""Executing one tool call through the ToolCall ledger.

Nodes run at least once: a worker killed between a tool's effect and the graph's next
checkpoint runs the tools node again. The ledger makes that safe: a call recorded as
finished returns its recorded result without running again and without new events.
A call cut off while it ran (not recorded, or recorded only as started) runs again on a
workspace rebuilt from the last durable manifest, which does not contain its effect:
the call's effect, the new manifest, the ledger row and the `tool.completed` event are
committed in one transaction (with the next call's start, when there is one).

So a start row written before the call runs would guard nothing, and a call is recorded
once it has finished, its start and outcome together. A call that takes a while commits
its start as soon as that is known (after 50 ms in its worker thread, or before it starts
a check's process), so watchers see it running.
"""

from __future__ import annotations

import json
import time
import uuid

from django.db import connection, transaction
from django.utils import timezone
from langchain_core.messages import ToolMessage
from psycopg.types.json import Jsonb

from coding_agent import lifecycle, tools
from coding_agent.events import Also, append_events
from coding_agent.models import ToolCall
from coding_agent.tools.rendering import display_args
from published_apps import blobs, revisions
from published_apps.models import Blob
from sandbox.workspaces import Workspace

CHECK_TOOL = "coding_agent_run_check"


def ledger_key(round_no: int, call_id: str | None, index: int) -> str:
    # Providers' ids are unique per run, but scripts and some local models reuse them
    # across turns ("call_1" every time), so the round is part of the key.
    return f"{round_no}:{call_id or f'idx{index}'}"


class Call:
    """One call of a round as the ledger knows it: `row_id` is None until its start is written."""

    def __init__(self, key: str, name: str, raw_args, payload: dict, row_id=None):
        self.key, self.name, self.raw_args, self.payload = key, name, raw_args, payload
        self.row_id = row_id
        self.started_at = timezone.now()

    def begin(self, pending: Pending) -> None:
        """Commit the call's start (with whatever is pending), once: the call is taking a while."""
        if self.row_id is not None:
            return
        pending.start(self)
        self.row_id = pending.commit()


class Pending:
    """Writes that commit together: events in order, with the ledger rows, the run's durable
    manifest and the blobs that go with them — one statement on PostgreSQL (one round trip,
    one commit), one transaction elsewhere.

    A call's outcome waits here for the next call's start, so the two cost one commit;
    nothing runs in between but the cancel check, the ledger lookup and the next call
    itself, for at most 50 ms before its start is committed. Any way out of the loop
    commits what is pending first.
    """

    def __init__(self, run_id, owner: str):
        self.run_id, self.owner = run_id, owner
        self._reset()

    def _reset(self) -> None:
        self.events: list[tuple[str, dict, dict | None]] = []
        self.ctes: list[str] = []
        self.params: list = []
        self.run_set: dict = {}
        self.returning = ""
        self.orm: list = []  # SQLite: writes to run in the transaction; a start's returns its row id

    def __bool__(self) -> bool:
        return bool(self.events)

    def event(self, event: str, payload: dict, diagnostics: dict | None = None) -> None:
        self.events.append((event, payload, diagnostics))

    def start(self, call: Call) -> None:
        """`tool.started` and the call's ledger row; `commit` returns the row's id."""
        self.event("tool.started", call.payload)
        self._insert(call, ToolCall.Status.STARTED, None, None)

    def _insert(self, call: Call, status, record, finished_at) -> None:
        """The ledger row, with the arguments exactly as the model sent them (replay_run
        executes them again)."""
        args = _json_value(call.raw_args)
        if connection.vendor != "postgresql":
            fields = dict(run_id=self.run_id, tool_call_id=call.key, tool=call.name, args=args, status=status)
            fields.update(started_at=call.started_at, result=record, finished_at=finished_at)
            self.orm.append(lambda: ToolCall.objects.create(**fields).pk)
            return
        cte = f"started{len(self.ctes)}"
        self.ctes.append(
            f"{cte} AS (INSERT INTO {_CALLS} "  # noqa: S608
            "(run_id, tool_call_id, tool, args, status, started_at, result, finished_at) "
            f"SELECT %s, %s, %s, %s, %s, %s, %s, %s FROM next RETURNING id)"
        )
        self.params += [uuid.UUID(str(self.run_id)), call.key, call.name, Jsonb(args), status]
        self.params += [call.started_at, Jsonb(record) if record is not None else None, finished_at]
        self.returning = f"(SELECT id FROM {cte})"

    def finish(
        self, call: Call, status, record, event, payload, diagnostics, manifest=None, new_blobs=None
    ) -> None:
        """The call's outcome in the ledger, the run's durable manifest and its new blobs (if files
        changed) and the event: an effect is durable exactly when its ledger entry is. A call
        whose start was never written gets its start and outcome in one row."""
        now, row_id = timezone.now(), call.row_id
        if row_id is None:
            self.event("tool.started", call.payload)
            self._insert(call, status, record, now)
        self.event(event, payload, diagnostics)
        if connection.vendor != "postgresql":

            def write():
                if manifest is not None:
                    blobs.store_new(new_blobs or {})
                    lifecycle.record_workspace(self.run_id, self.owner, manifest)
                if row_id is not None:
                    ToolCall.objects.filter(pk=row_id).update(status=status, result=record, finished_at=now)

            self.orm.append(write)
            return
        n = len(self.ctes)
        if row_id is not None:
            self.ctes.append(
                f"done{n} AS (UPDATE {_CALLS} SET status = %s, result = %s, finished_at = %s "  # noqa: S608
                "WHERE id = %s AND EXISTS (SELECT 1 FROM next) RETURNING id)"
            )
            self.params += [status, Jsonb(record), now, row_id]
        if new_blobs:
            rows = ", ".join(["(%s, %s, %s, %s)"] * len(new_blobs))
            self.ctes.append(
                f"stored{n} AS (INSERT INTO {_BLOBS} (sha256, size, data, created_at) "  # noqa: S608
                f"SELECT v.* FROM (VALUES {rows}) AS v(sha256, size, data, created_at) "
                "WHERE EXISTS (SELECT 1 FROM next) ON CONFLICT (sha256) DO NOTHING)"
            )
            for sha, data in new_blobs.items():
                self.params += [sha, len(data), data, now]
        if manifest is not None:
            self.run_set["workspace_manifest"] = Jsonb(manifest)

    def commit(self):
        """Write what is pending; returns the started row's id, if a start was among it."""
        if not self.events:
            return None
        events, started = self.events, None
        if connection.vendor == "postgresql":
            also = Also(
                run_set=self.run_set, ctes=", ".join(self.ctes), params=self.params, returning=self.returning
            )
            self._reset()
            rows = append_events(self.run_id, events, owner=self.owner, also=also)
            return rows[-1].also[0] if also.returning else None
        orm = self.orm
        self._reset()
        with transaction.atomic():
            for write in orm:
                started = write() or started
            append_events(self.run_id, events, owner=self.owner)
        return started


def run_tool_calls(
    *,
    run_id,
    owner: str,
    round_no: int,
    calls: list[tuple[str | None, str | None, object]],
    ctx: tools.ToolContext,
    workspace: Workspace,
    manifest: dict,
    check,
    resumed: bool = True,
    lead: tuple[str, dict, dict] | None = None,
) -> tuple[list[ToolMessage], dict]:
    """Run (or replay from the ledger) one round's calls — (id, name, args) — in order; returns
    the model's ToolMessages and the run's manifest after them.

    `check` raises to stop between calls. `lead` is an event to commit with the first
    call's start (the model turn's last text, so it costs no commit of its own); a first
    call already in the ledger means it was committed then. `resumed=False` (the run's
    first attempt) skips the ledger lookups: nothing can be recorded for this run yet.
    """
    pending = Pending(run_id, owner)
    messages: list[ToolMessage] = []
    for index, (given_id, name, raw_args) in enumerate(calls):
        key = ledger_key(round_no, given_id, index)
        call_id = given_id or f"call_{round_no}_{index}"
        name = name or ""
        try:
            check()
            row = ToolCall.objects.filter(run_id=run_id, tool_call_id=key).first() if resumed else None
        except Exception:
            pending.commit()  # the previous call's outcome (nothing is pending before the first call)
            raise
        if index == 0 and lead is not None and row is None:
            pending.event(*lead)
        if row is not None and row.status != ToolCall.Status.STARTED:
            messages.append(_message(row.result, call_id, name))
            continue
        started_payload = {
            "tool_call_id": call_id,
            "tool": name,
            "args": display_args(raw_args),
            "title": tools.running_title(name, raw_args),
        }
        call = Call(key, name, raw_args, started_payload, row_id=row.pk if row is not None else None)
        if row is not None:
            pending.commit()
        message, new_manifest = _execute(pending, call, call_id, ctx, workspace, manifest)
        if new_manifest is not None:
            manifest = new_manifest
        messages.append(message)
    pending.commit()
    return messages, manifest


def _execute(pending: Pending, call: Call, call_id, ctx, workspace, manifest):
    """Run one call; its outcome is left pending. Returns the ToolMessage and the new manifest if files changed."""
    name, raw_args = call.name, call.raw_args
    started = time.monotonic()
    on_slow = (lambda: call.begin(pending)) if call.row_id is None else None
    try:
        outcome = tools.execute(name, raw_args, ctx, on_slow=on_slow)
    except tools.ToolTimeout as exc:
        message = str(exc)
        record = {
            "ok": False,
            "content": message,
            "error": {"code": "TOOL_TIMEOUT", "message": message},
            "title": name,
        }
        payload = {"tool_call_id": call_id, "tool": name, "code": "TOOL_TIMEOUT", "message": message}
        payload["title"] = f"{tools.running_title(name, raw_args).rstrip('…')} timed out"
        diagnostics = {"duration_ms": int((time.monotonic() - started) * 1000)}
        pending.finish(call, ToolCall.Status.FAILED, record, "tool.failed", payload, diagnostics)
        pending.commit()
        raise
    duration_ms = int((time.monotonic() - started) * 1000)

    # A check may write files nobody named, so after one the whole tree is looked at (and
    # its new blobs stored now); an edit names what it touched, and the blobs it needs are
    # stored with the ledger entry.
    new_manifest, new_blobs = None, {}
    if outcome.tool == CHECK_TOOL or (outcome.changed_paths and ctx.auto_verify_patch):
        scanned = revisions.store_directory(workspace.root, known=manifest, cache=workspace.hash_cache)
        new_manifest = scanned if scanned != manifest else None
    elif outcome.changed_paths:
        new_manifest, new_blobs = revisions.changed_manifest(
            workspace.root, manifest, outcome.changed_paths, cache=workspace.hash_cache
        )
    record = {
        "ok": outcome.ok,
        "content": outcome.content,
        "result": outcome.result,
        "error": outcome.error,
        "title": outcome.title,
        "args": outcome.args,
    }
    payload = {"tool_call_id": call_id, "tool": outcome.tool, "title": outcome.title}
    if outcome.ok:
        payload.update(result=outcome.result, duration_ms=duration_ms)
        status, event, diagnostics = ToolCall.Status.COMPLETED, "tool.completed", {}
    else:
        payload.update(outcome.error or {})
        status, event, diagnostics = ToolCall.Status.FAILED, "tool.failed", outcome.diagnostics
    pending.finish(call, status, record, event, payload, diagnostics, new_manifest, new_blobs)
    return _message(record, call_id, name), new_manifest


_CALLS = ToolCall._meta.db_table
_BLOBS = Blob._meta.db_table


def _json_value(raw_args):
    """Model arguments as stored: JSON values as they are, anything else as its repr."""
    try:
        json.dumps(raw_args)
        return raw_args
    except (TypeError, ValueError):
        return repr(raw_args)


def _message(record: dict, call_id: str, name: str) -> ToolMessage:
    return ToolMessage(
        content=record["content"],
        tool_call_id=call_id,
        name=name,
        status="success" if record["ok"] else "error",
    )
