"""Executing one tool call through the ToolCall ledger.

Nodes run at least once: a worker killed between a tool's effect and the graph's next
checkpoint runs the tools node again. The ledger makes that safe: a call recorded as
finished returns its recorded result without running again and without new events.
A call recorded only as started (the worker died while it ran) runs again on a
workspace rebuilt from the last durable manifest, which does not contain its effect:
the call's effect, the new manifest, the ledger row and the `tool.completed` event are
committed in one transaction (with the next call's start, when there is one).
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


class Pending:
    """Writes that commit together: events in order, with the ledger rows, the run's durable
    manifest and the blobs that go with them — one statement on PostgreSQL (one round trip,
    one commit), one transaction elsewhere.

    A call's outcome waits here for the next call's start, so the two cost one commit;
    nothing runs in between but the cancel check and the ledger lookup, and any way out
    of the loop commits what is pending first.
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

    def start(self, key: str, name: str, raw_args, payload: dict) -> None:
        """The ledger row (arguments exactly as the model sent them: replay_run executes them
        again) and `tool.started`; `commit` returns the row's id."""
        args = _json_value(raw_args)
        now = timezone.now()
        self.event("tool.started", payload)
        if connection.vendor != "postgresql":
            self.orm.append(
                lambda: ToolCall.objects.create(run_id=self.run_id, tool_call_id=key, tool=name, args=args).pk
            )
            return
        cte = f"started{len(self.ctes)}"
        self.ctes.append(
            f"{cte} AS (INSERT INTO {_CALLS} (run_id, tool_call_id, tool, args, status, started_at) "  # noqa: S608
            f"SELECT %s, %s, %s, %s, %s, %s FROM next RETURNING id)"
        )
        self.params += [uuid.UUID(str(self.run_id)), key, name, Jsonb(args), ToolCall.Status.STARTED, now]
        self.returning = f"(SELECT id FROM {cte})"

    def finish(
        self, row_id, status, record, event, payload, diagnostics, manifest=None, new_blobs=None
    ) -> None:
        """The call's outcome in the ledger, the run's durable manifest and its new blobs (if files
        changed) and the event: an effect is durable exactly when its ledger entry is."""
        now = timezone.now()
        self.event(event, payload, diagnostics)
        if connection.vendor != "postgresql":

            def write():
                if manifest is not None:
                    blobs.store_new(new_blobs or {})
                    lifecycle.record_workspace(self.run_id, self.owner, manifest)
                ToolCall.objects.filter(pk=row_id).update(status=status, result=record, finished_at=now)

            self.orm.append(write)
            return
        n = len(self.ctes)
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
        if row is None:
            started_payload = {
                "tool_call_id": call_id,
                "tool": name,
                "args": display_args(raw_args),
                "title": tools.running_title(name, raw_args),
            }
            pending.start(key, name, raw_args, started_payload)
            row_id = pending.commit()
        else:
            pending.commit()
            row_id = row.pk
        message, new_manifest = _execute(pending, row_id, call_id, name, raw_args, ctx, workspace, manifest)
        if new_manifest is not None:
            manifest = new_manifest
        messages.append(message)
    pending.commit()
    return messages, manifest


def _execute(pending: Pending, row_id, call_id, name, raw_args, ctx, workspace, manifest):
    """Run one call; its outcome is left pending. Returns the ToolMessage and the new manifest if files changed."""
    started = time.monotonic()
    try:
        outcome = tools.execute(name, raw_args, ctx)
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
        pending.finish(row_id, ToolCall.Status.FAILED, record, "tool.failed", payload, diagnostics)
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
    pending.finish(row_id, status, record, event, payload, diagnostics, new_manifest, new_blobs)
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
