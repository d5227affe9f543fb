"""Executing one tool call through the ToolCall ledger.

Nodes run at least once: a worker killed between a tool's effect and the graph's next
checkpoint runs the tools node again. The ledger makes that safe: a call recorded as
finished returns its recorded result without running again and without new events.
A call recorded only as started (the worker died while it ran) runs again on a
workspace rebuilt from the last durable manifest, which does not contain its effect:
the call's effect, the new manifest, the ledger row and the `tool.completed` event are
committed in one transaction.
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
from coding_agent.events import Also, append_event
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


def run_tool_call(
    *,
    run_id,
    owner: str,
    key: str,
    call_id: str,
    name: str,
    raw_args,
    ctx: tools.ToolContext,
    workspace: Workspace,
    previous_manifest: dict,
    resumed: bool = True,
) -> tuple[ToolMessage, dict | None]:
    """Run (or replay from the ledger) one call; returns the model's ToolMessage and the new manifest if files changed.

    `resumed=False` (the run's first attempt) skips the ledger lookup: nothing can be
    recorded for this call yet.
    """
    row = ToolCall.objects.filter(run_id=run_id, tool_call_id=key).first() if resumed else None
    if row is not None and row.status != ToolCall.Status.STARTED:
        return _message(row.result, call_id, name), None
    if row is None:
        started_payload = {
            "tool_call_id": call_id,
            "tool": name,
            "args": display_args(raw_args),
            "title": tools.running_title(name, raw_args),
        }
        row_id = _start(run_id, owner, key, name, raw_args, started_payload)
    else:
        row_id = row.pk

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
        _finish(
            run_id, owner, row_id, ToolCall.Status.FAILED, record, "tool.failed", payload, diagnostics, None
        )
        raise
    duration_ms = int((time.monotonic() - started) * 1000)

    # A check may write files nobody named, so after one the whole tree is looked at (and
    # its new blobs stored now); an edit names what it touched, and the blobs it needs are
    # stored with the ledger entry.
    new_manifest, new_blobs = None, {}
    if outcome.tool == CHECK_TOOL or (outcome.changed_paths and ctx.auto_verify_patch):
        scanned = revisions.store_directory(
            workspace.root, known=previous_manifest, cache=workspace.hash_cache
        )
        new_manifest = scanned if scanned != previous_manifest else None
    elif outcome.changed_paths:
        new_manifest, new_blobs = revisions.changed_manifest(
            workspace.root, previous_manifest, outcome.changed_paths, cache=workspace.hash_cache
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
    _finish(run_id, owner, row_id, status, record, event, payload, diagnostics, new_manifest, new_blobs)
    return _message(record, call_id, name), new_manifest


_CALLS = ToolCall._meta.db_table
_BLOBS = Blob._meta.db_table


def _start(run_id, owner: str, key: str, name: str, raw_args, payload: dict) -> int:
    """The ledger row (arguments exactly as the model sent them: replay_run executes them
    again) and `tool.started`, committed together. Returns the row's id."""
    args = _json_value(raw_args)
    if connection.vendor == "postgresql":
        also = Also(
            ctes=f"call AS (INSERT INTO {_CALLS} (run_id, tool_call_id, tool, args, status, started_at) "  # noqa: S608
            "SELECT %s, %s, %s, %s, %s, %s FROM next RETURNING id)",
            params=[uuid.UUID(str(run_id)), key, name, Jsonb(args), ToolCall.Status.STARTED, timezone.now()],
            returning="(SELECT id FROM call)",
        )
        return append_event(run_id, "tool.started", payload, owner=owner, also=also).also[0]
    with transaction.atomic():
        row = ToolCall.objects.create(run_id=run_id, tool_call_id=key, tool=name, args=args)
        append_event(run_id, "tool.started", payload, owner=owner)
    return row.pk


def _finish(
    run_id, owner, row_id, status, record, event, payload, diagnostics, manifest=None, new_blobs=None
) -> None:
    """The call's outcome in the ledger, the run's durable manifest and its new blobs (if files
    changed) and the event, committed together: an effect is durable exactly when its
    ledger entry is."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        ctes = (
            f"call AS (UPDATE {_CALLS} SET status = %s, result = %s, finished_at = %s "  # noqa: S608
            "WHERE id = %s AND EXISTS (SELECT 1 FROM next) RETURNING id)"
        )
        params = [status, Jsonb(record), now, row_id]
        if new_blobs:
            rows = ", ".join(["(%s, %s, %s, %s)"] * len(new_blobs))
            ctes += (
                f", stored AS (INSERT INTO {_BLOBS} (sha256, size, data, created_at) "  # noqa: S608
                f"SELECT v.* FROM (VALUES {rows}) AS v(sha256, size, data, created_at) "
                "WHERE EXISTS (SELECT 1 FROM next) ON CONFLICT (sha256) DO NOTHING)"
            )
            for sha, data in new_blobs.items():
                params += [sha, len(data), data, now]
        also = Also(
            run_set={"workspace_manifest": Jsonb(manifest)} if manifest is not None else {},
            ctes=ctes,
            params=params,
        )
        append_event(run_id, event, payload, diagnostics=diagnostics, owner=owner, also=also)
        return
    with transaction.atomic():
        if manifest is not None:
            blobs.store_new(new_blobs or {})
            lifecycle.record_workspace(run_id, owner, manifest)
        ToolCall.objects.filter(pk=row_id).update(status=status, result=record, finished_at=now)
        append_event(run_id, event, payload, diagnostics=diagnostics, owner=owner)


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
