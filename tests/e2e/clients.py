"""Real clients for end-to-end tests: REST over httpx, SSE over an httpx stream, websockets.

They talk to a running server exactly as a REST client or the builder UI would, and
check what the contract promises about every envelope they receive (DESIGN.md §3).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from contextlib import aclosing
from dataclasses import dataclass, field

import httpx
import websockets
from websockets.exceptions import ConnectionClosed

TERMINAL = frozenset({"run.completed", "run.failed", "run.cancelled"})
ENVELOPE_KEYS = {"seq", "event", "run_id", "app_id", "ts", "payload", "diagnostics"}
# Payload keys each event must carry (DESIGN.md §3); more are allowed.
PAYLOAD_KEYS = {
    "run.accepted": {"status", "requested_model_id", "resolved_model_id", "execution_engine"},
    "assistant.delta": {"text"},
    "tool.started": {"tool_call_id", "tool", "args"},
    "tool.completed": {"tool_call_id", "tool", "result", "duration_ms"},
    "tool.failed": {"tool_call_id", "tool", "code", "message"},
    "revision.created": {"revision_id", "parent_revision_id", "changed_files"},
    "checkpoint.created": {"checkpoint_id", "revision_id", "label"},
    "run.completed": {"result_revision_id", "checkpoint_id", "final_text", "usage"},
    "run.failed": {"code", "message"},
    "run.cancelled": {"reason"},
}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STREAM_TIMEOUT_S = 90  # a safety net for a hung stream, far above any run here


def auth(token: str | None) -> dict:
    return {"Authorization": f"Token {token}"} if token else {}


def run_path(app_id, run_id=None) -> str:
    base = f"/admin/apps/{app_id}/coding-agent/runs"
    return base if run_id is None else f"{base}/{run_id}"


class StreamRefused(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"stream refused with {status}: {body[:500]}")
        self.status = status
        self.body = body


# --- REST ------------------------------------------------------------------------------


class Api:
    """A REST client of one server, authenticated by a DRF token."""

    def __init__(self, base_url: str, token: str | None):
        self.http = httpx.Client(base_url=base_url, headers=auth(token), timeout=30, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def create_run(self, app_id, input: str = "Change the page", **body) -> dict:
        response = self.http.post(run_path(app_id), json={"input": input, **body})
        assert response.status_code == 202, response.text
        return response.json()

    def run(self, app_id, run_id) -> dict:
        response = self.http.get(run_path(app_id, run_id))
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, app_id, run_id, after_seq: int = 0) -> list[dict]:
        response = self.http.get(f"{run_path(app_id, run_id)}/events", params={"after_seq": after_seq})
        assert response.status_code == 200, response.text
        return response.json()["events"]

    def cancel(self, app_id, run_id) -> httpx.Response:
        return self.http.post(f"{run_path(app_id, run_id)}/cancel")

    def wait_for_terminal(self, app_id, run_id, *, timeout: float = 60) -> dict:
        """Poll GET runs/{id} until the run has ended; a safety net, not a performance limit."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(app_id, run_id)
            if run["status"] not in ("queued", "running"):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s")
            time.sleep(0.1)

    def wait_for_event(self, app_id, run_id, predicate, *, timeout: float = 60) -> dict:
        """Poll the persisted events until one matches `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events(app_id, run_id):
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id}: no matching event after {timeout} s")
            time.sleep(0.1)

    def app(self, app_id) -> dict:
        response = self.http.get(f"/admin/apps/{app_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def file(self, app_id, path: str, *, revision=None) -> str:
        params = {"revision": str(revision)} if revision else {}
        response = self.http.get(f"/admin/apps/{app_id}/files/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.text

    def revisions(self, app_id) -> list[dict]:
        response = self.http.get(f"/admin/apps/{app_id}/revisions")
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def checkpoints(self, app_id) -> list[dict]:
        response = self.http.get(f"/admin/apps/{app_id}/coding-agent/checkpoints")
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def restore(self, app_id, checkpoint_id) -> httpx.Response:
        return self.http.post(f"/admin/apps/{app_id}/coding-agent/checkpoints/{checkpoint_id}/restore")


# --- streams ---------------------------------------------------------------------------


async def iter_sse(
    base_url: str,
    token: str | None,
    app_id,
    run_id,
    *,
    after_seq: int | None = None,
    last_event_id: int | None = None,
):
    """Envelopes of `GET runs/{id}/stream`, parsed from the SSE frames as they arrive.

    Each frame's `id:` and `event:` lines must agree with its envelope. Resumes with
    `?after_seq` and/or the `Last-Event-ID` header when given.
    """
    headers = auth(token) | {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    params = {"after_seq": after_seq} if after_seq is not None else {}
    timeout = httpx.Timeout(30, read=40)  # the server sends a comment every 15 s of silence
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout, trust_env=False) as client,
        client.stream(
            "GET", f"{run_path(app_id, run_id)}/stream", headers=headers, params=params
        ) as response,
    ):
        if response.status_code != 200:
            raise StreamRefused(response.status_code, (await response.aread()).decode())
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line:
                if not line.startswith(":"):  # a comment (heartbeat) otherwise
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    fields[name] = f"{fields[name]}\n{value}" if name in fields else value
                continue
            if "data" in fields:
                envelope = json.loads(fields["data"])
                assert fields.get("id") == str(envelope["seq"]), fields
                assert fields.get("event") == envelope["event"], fields
                yield envelope
            fields = {}


async def read_sse(
    base_url: str,
    token: str | None,
    app_id,
    run_id,
    *,
    after_seq: int | None = None,
    last_event_id: int | None = None,
    limit: int | None = None,
    timeout: float = STREAM_TIMEOUT_S,
) -> list[dict]:
    """Read the SSE stream to its end (the server closes after the terminal event), or stop after `limit`."""
    received: list[dict] = []
    async with asyncio.timeout(timeout):
        stream = iter_sse(base_url, token, app_id, run_id, after_seq=after_seq, last_event_id=last_event_id)
        async with aclosing(stream):
            async for envelope in stream:
                received.append(envelope)
                if limit is not None and len(received) >= limit:
                    break
    return received


def ws_stream_url(ws_url: str, app_id, run_id, after_seq: int | None = None) -> str:
    url = f"{ws_url}/ws/admin/apps/{app_id}/coding-agent/runs/{run_id}/stream"
    return url if after_seq is None else f"{url}?after_seq={after_seq}"


@dataclass
class WsSession:
    envelopes: list[dict] = field(default_factory=list)
    close_code: int | None = None


async def ws_session(
    ws_url: str,
    token: str | None,
    app_id,
    run_id,
    *,
    after_seq: int | None = None,
    limit: int | None = None,
    timeout: float = STREAM_TIMEOUT_S,
    headers: dict | None = None,
) -> WsSession:
    """Read the websocket stream until the server closes it (or `limit` frames); keeps the close code."""
    session = WsSession()
    url = ws_stream_url(ws_url, app_id, run_id, after_seq)
    async with asyncio.timeout(timeout):
        async with websockets.connect(
            url, additional_headers=auth(token) | (headers or {}), proxy=None, max_size=None
        ) as ws:
            try:
                async for frame in ws:
                    session.envelopes.append(json.loads(frame))
                    if limit is not None and len(session.envelopes) >= limit:
                        break
            except ConnectionClosed as exc:
                session.close_code = exc.rcvd.code if exc.rcvd else None
                return session
        session.close_code = ws.close_code
    return session


async def read_ws(ws_url: str, token: str | None, app_id, run_id, **kwargs) -> list[dict]:
    return (await ws_session(ws_url, token, app_id, run_id, **kwargs)).envelopes


async def iter_ws(ws_url: str, token: str | None, app_id, run_id, *, after_seq: int | None = None):
    """Envelopes of the websocket stream as they arrive; ends when the server closes it."""
    url = ws_stream_url(ws_url, app_id, run_id, after_seq)
    async with websockets.connect(url, additional_headers=auth(token), proxy=None, max_size=None) as ws:
        async for frame in ws:
            yield json.loads(frame)


class Watcher:
    """Watches a run in the background over "sse" or "ws", noting when each envelope arrived."""

    def __init__(self, kind: str, server, token: str | None, app_id, run_id, *, after_seq: int | None = None):
        self.kind = kind
        if kind == "sse":
            self.stream = iter_sse(server.url, token, app_id, run_id, after_seq=after_seq)
        else:
            self.stream = iter_ws(server.ws_url, token, app_id, run_id, after_seq=after_seq)
        self.received: list[dict] = []
        self.arrived: list[float] = []  # time.monotonic() of each arrival
        self.task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        async with aclosing(self.stream):
            async for envelope in self.stream:
                self.arrived.append(time.monotonic())
                self.received.append(envelope)

    async def wait_for(self, predicate, *, timeout: float = STREAM_TIMEOUT_S) -> tuple[float, dict]:
        """(arrival time, envelope) of the first envelope that matches `predicate`."""
        async with asyncio.timeout(timeout):
            while True:
                for arrived, envelope in zip(self.arrived, self.received, strict=False):
                    if predicate(envelope):
                        return arrived, envelope
                if self.task.done():
                    self.task.result()  # raises what ended the stream, if anything
                    raise AssertionError(
                        f"{self.kind} stream ended without the awaited event: {self.received}"
                    )
                await asyncio.sleep(0.01)

    async def finish(self, *, timeout: float = STREAM_TIMEOUT_S) -> list[dict]:
        """Everything received, once the server has closed the stream after the terminal event."""
        async with asyncio.timeout(timeout):
            await self.task
        return self.received

    def stop(self) -> None:
        self.task.cancel()


async def watch(kind: str, server, token: str | None, app_id, run_id, **kwargs) -> list[dict]:
    """One watcher of a run over `kind` ("sse" or "ws") of `server` (anything with `url` and `ws_url`)."""
    if kind == "sse":
        return await read_sse(server.url, token, app_id, run_id, **kwargs)
    return await read_ws(server.ws_url, token, app_id, run_id, **kwargs)


async def watch_with_drops(
    kind: str, servers: list, token: str | None, app_id, run_id, *, drop_after: int, resume: str = "query"
) -> list[list[dict]]:
    """Watch a run, hanging up after every `drop_after` envelopes and reconnecting from the last seq.

    `resume` says how an SSE reconnect names its last seq: "query" (`?after_seq`) or
    "header" (`Last-Event-ID`); a websocket always uses `?after_seq`. Successive
    connections go to successive `servers` (round robin). Returns one list per connection.
    """
    segments: list[list[dict]] = []
    last = 0
    while True:
        server = servers[len(segments) % len(servers)]
        resuming = bool(segments)
        if kind == "sse":
            segment = await read_sse(
                server.url,
                token,
                app_id,
                run_id,
                after_seq=last if resuming and resume == "query" else None,
                last_event_id=last if resuming and resume == "header" else None,
                limit=drop_after,
            )
        else:
            segment = await read_ws(
                server.ws_url, token, app_id, run_id, after_seq=last if resuming else None, limit=drop_after
            )
        segments.append(segment)
        if not segment:
            raise AssertionError(f"{kind} stream ended with no event after seq {last}: {segments}")
        last = segment[-1]["seq"]
        if segment[-1]["event"] in TERMINAL:
            return segments
        if len(segment) < drop_after:
            raise AssertionError(f"{kind} stream closed before the terminal event: {segment}")


# --- what the contract promises --------------------------------------------------------


def check_envelopes(events: list[dict], *, run_id, app_id, terminal: str | None = "run.completed") -> None:
    """Everything DESIGN.md §3 promises about one run's whole event sequence."""
    assert events, "no events"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), [e["seq"] for e in events]
    names = [e["event"] for e in events]
    assert names[0] == "run.accepted", names
    terminals = [name for name in names if name in TERMINAL]
    assert len(terminals) == 1 and names[-1] in TERMINAL, names
    if terminal is not None:
        assert names[-1] == terminal, (names, events[-1]["payload"])
    for envelope in events:
        assert set(envelope) == ENVELOPE_KEYS, envelope
        assert envelope["run_id"] == str(run_id) and envelope["app_id"] == str(app_id), envelope
        assert TS.match(envelope["ts"]), envelope["ts"]
        assert isinstance(envelope["payload"], dict) and isinstance(envelope["diagnostics"], dict)
        missing = PAYLOAD_KEYS[envelope["event"]] - set(envelope["payload"])
        assert not missing, f"{envelope['event']} lacks {missing}: {envelope['payload']}"
    if "revision.created" in names:
        assert names.index("revision.created") < names.index("checkpoint.created") < len(names) - 1, names
    assert "assistant.delta" in names, "a run always ends with something a person can read"


def tool_events(events: list[dict]) -> dict[str, list[str]]:
    """Per tool_call_id, the tool events it got, in order."""
    calls: dict[str, list[str]] = {}
    for envelope in events:
        if envelope["event"].startswith("tool."):
            calls.setdefault(envelope["payload"]["tool_call_id"], []).append(envelope["event"])
    return calls


def text_of(events: list[dict]) -> str:
    return "".join(e["payload"]["text"] for e in events if e["event"] == "assistant.delta")


# --- the scenario both modes share -----------------------------------------------------

OLD_HEADLINE = '<h1 id="headline">Plan your week in minutes</h1>'
NEW_HEADLINE = '<h1 id="headline">Plan your month</h1>'
EDIT_HEADLINE = [
    {
        # Slow enough that the run is still active when the test asks for a restore.
        "text": "Let me read the page first, then I will change the headline as you asked.",
        "tool_calls": [
            {"id": "read", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
        ],
        "delay_ms": 60,
    },
    {
        "text": "Changing the headline.",
        "tool_calls": [
            {
                "id": "patch",
                "name": "coding_agent_apply_patch",
                "args": {
                    "patch": f"*** Begin Patch\n*** Update File: index.html\n@@\n-    {OLD_HEADLINE}\n"
                    f"+    {NEW_HEADLINE}\n*** End Patch\n"
                },
            }
        ],
    },
    {"text": "Done: the headline now reads “Plan your month”."},
]


def edit_and_restore(server, token: str, app_id, *, model_id: str) -> tuple[dict, list[dict]]:
    """Run EDIT_HEADLINE watched over SSE and websocket, then restore back and forth.

    Proves the envelope sequence on both transports, the new revision's files, the
    draft moving, one active run per app, and restores that can undo each other.
    Returns the finished run and its events.
    """
    with Api(server.url, token) as api:
        base = api.app(app_id)["draft_revision_id"]
        run = api.create_run(app_id, "Make the headline about months")
        assert run["status"] == "queued" and run["requested_model_id"] is None
        assert run["resolved_model_id"] == model_id and run["base_revision_id"] == base

        async def both():
            return await asyncio.gather(
                read_sse(server.url, token, app_id, run["id"]),
                read_ws(server.ws_url, token, app_id, run["id"]),
            )

        async def watch_while_checking_conflicts():
            watchers = asyncio.ensure_future(both())
            # While the run is active: a second run and a restore are refused.
            second = api.http.post(run_path(app_id), json={"input": "again"})
            starter = api.checkpoints(app_id)[-1]
            restore = api.restore(app_id, starter["id"])
            return await watchers, second, restore

        (over_sse, over_ws), second, restore = asyncio.run(watch_while_checking_conflicts())
        assert second.status_code == 409 and second.json()["code"] == "CODING_AGENT_RUN_ACTIVE", second.text
        assert restore.status_code == 409, restore.text
        assert restore.json()["code"] == "CODING_AGENT_CHECKPOINT_RESTORE_CONFLICT"

        persisted = api.events(app_id, run["id"])
        assert over_sse == persisted, "SSE delivered something other than the persisted events"
        assert over_ws == persisted, "the websocket delivered something other than the persisted events"
        check_envelopes(persisted, run_id=run["id"], app_id=app_id)
        assert tool_events(persisted) == {
            "read": ["tool.started", "tool.completed"],
            "patch": ["tool.started", "tool.completed"],
        }
        by_name = {e["event"]: e["payload"] for e in persisted}
        assert by_name["run.accepted"]["resolved_model_id"] == model_id
        assert by_name["run.accepted"]["requested_model_id"] is None
        assert by_name["run.accepted"]["execution_engine"] == "native"
        assert text_of(persisted).endswith("Done: the headline now reads “Plan your month”.")

        finished = api.wait_for_terminal(app_id, run["id"])
        assert finished["status"] == "completed" and finished["error"] is None
        revision_id = finished["result_revision_id"]
        assert revision_id and revision_id != base
        assert by_name["revision.created"]["revision_id"] == revision_id
        assert by_name["revision.created"]["parent_revision_id"] == base
        assert by_name["revision.created"]["changed_files"] == [{"path": "index.html", "change": "modified"}]
        assert by_name["checkpoint.created"]["checkpoint_id"] == finished["checkpoint_id"]
        assert by_name["checkpoint.created"]["revision_id"] == revision_id
        assert by_name["run.completed"]["result_revision_id"] == revision_id
        assert by_name["run.completed"]["checkpoint_id"] == finished["checkpoint_id"]

        # The draft moved to the run's revision, which holds the patched file.
        assert api.app(app_id)["draft_revision_id"] == revision_id
        html = api.file(app_id, "index.html")
        assert NEW_HEADLINE in html and OLD_HEADLINE not in html
        assert OLD_HEADLINE in api.file(app_id, "index.html", revision=base)

        # Restore the starter, then undo that by restoring the run's checkpoint.
        run_checkpoint, starter = api.checkpoints(app_id)
        assert run_checkpoint["id"] == finished["checkpoint_id"] and run_checkpoint["run_id"] == run["id"]
        response = api.restore(app_id, starter["id"])
        assert response.status_code == 200, response.text
        restored = response.json()["revision"]["id"]
        assert restored not in (base, revision_id), "a restore makes a new revision"
        assert api.app(app_id)["draft_revision_id"] == restored
        assert OLD_HEADLINE in api.file(app_id, "index.html")

        response = api.restore(app_id, run_checkpoint["id"])
        assert response.status_code == 200, response.text
        assert api.app(app_id)["draft_revision_id"] == response.json()["revision"]["id"]
        assert NEW_HEADLINE in api.file(app_id, "index.html")
        # History is never destroyed: template, run, restore, restore.
        assert len(api.revisions(app_id)) == 4
    return finished, persisted
