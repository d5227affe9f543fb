"""The shapes every tool shares: the context a call runs in, its outcome, and a tool's
declaration (name, description, parameters, handler).

A handler receives normalised arguments and returns a `Reply`; the registry turns it
into a `ToolOutcome`, so rendering, truncation and error shapes live in one place.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.index import OutlineCache
from sandbox.manifest import HashCache

PREFIX = "coding_agent_"

# Error codes of the toolpack itself; policy refusals keep the sandbox's own codes
# (PATH_OUTSIDE_WORKSPACE, FILE_BINARY, UNKNOWN_CHECK, ...).
TOOL_INPUT_VALIDATION_FAILED = "TOOL_INPUT_VALIDATION_FAILED"
UNKNOWN_TOOL = "UNKNOWN_TOOL"
TOOL_UNAVAILABLE = "TOOL_UNAVAILABLE"
TOOL_CANCELLED = "TOOL_CANCELLED"
TOOL_ERROR = "TOOL_ERROR"
PATCH_REJECTED = "PATCH_REJECTED"

# Parameter kinds; `arguments.coerce` accepts the spellings models send for each.
STRING = "string"
TEXT = "text"  # a long string (patch, file content): shown truncated in `args`
INTEGER = "integer"
BOOLEAN = "boolean"
STRING_LIST = "string_list"
SHA_MAP = "sha_map"

_SCHEMA_TYPES = {STRING: "string", TEXT: "string", INTEGER: "integer", BOOLEAN: "boolean"}


class ToolTimeout(Exception):
    """A tool ran past `ToolContext.timeout_s`; the executor fails the run with TOOL_TIMEOUT."""

    def __init__(self, tool: str, timeout_s: float):
        super().__init__(f"`{tool}` did not finish within {timeout_s:g} s.")
        self.tool = tool
        self.timeout_s = timeout_s


@dataclass
class ToolContext:
    root: Path  # the run's workspace directory
    checks: dict  # the app's declared checks {name: {"argv": [...], "paths": [...], "timeout_s"?: n}}
    hash_cache: HashCache  # per workspace
    outline_cache: OutlineCache  # may be shared between workspaces
    timeout_s: float  # APPS_CODING_AGENT_TOOL_TIMEOUT_S
    cancel: Callable[[], bool]  # True once the run is asked to stop
    legacy_write_file: bool = False  # APPS_CODING_AGENT_ENABLE_LEGACY_WRITE_FILE
    auto_verify_patch: bool = False  # APPS_CODING_AGENT_AUTO_VERIFY_PATCH
    # Set per call by `registry.execute`: called once the call has run 50 ms in a worker
    # thread, and by a handler before it starts a subprocess (see `before_slow_work`).
    on_slow: Callable[[], None] | None = None


def before_slow_work(ctx: ToolContext) -> None:
    """Tell the caller this call may now take a while (it may be told more than once)."""
    if ctx.on_slow is not None:
        ctx.on_slow()


@dataclass
class ToolOutcome:
    ok: bool
    tool: str  # canonical tool name
    args: dict  # normalised args (what actually ran), large values truncated for display
    content: str  # what the model reads: compact JSON text
    result: dict  # summary for the `tool.completed` payload (small; no file contents)
    error: dict | None  # {code, message, field?/fields?} when not ok
    diagnostics: dict  # patch failures: {patch_code, patch_failure_count, recommended_refresh}
    changed_paths: list[str]  # files this call changed
    title: str  # a human title for the UI row


@dataclass
class Reply:
    """What a handler hands back. `body` is what the model reads (rendered as bounded
    JSON), `summary` the small event payload."""

    body: dict
    summary: dict
    title: str
    ok: bool = True
    error: dict | None = None
    diagnostics: dict = field(default_factory=dict)
    changed_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    description: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    minimum: int | None = None
    allow_empty: bool = False  # a required string that may be "" (a file's content)

    def schema(self) -> dict:
        if self.kind == STRING_LIST:
            schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
        elif self.kind == SHA_MAP:
            schema = {"type": "object", "additionalProperties": {"type": "string"}}
        else:
            schema = {"type": _SCHEMA_TYPES[self.kind]}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: tuple[Param, ...]
    handler: Callable[[dict, ToolContext], Reply]
    # A failure's title is "Couldn't {verb} {subject}", or `fallback` without a subject.
    verb: str
    fallback: str
    subject: Callable[[dict], str | None] = lambda args: args.get("path")
    # Groups of which at least one member must be given (collect_context: query or paths).
    one_of: tuple[tuple[str, ...], ...] = ()
    # False: the handler bounds its own time (a subprocess with a deadline) and runs in
    # the caller's thread; True: it runs in a worker thread the registry waits on.
    in_process: bool = True
    legacy: bool = False

    @property
    def short_name(self) -> str:
        return self.name.removeprefix(PREFIX)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def signature(self) -> str:
        parts = [p.name if p.required else f"{p.name}?" for p in self.params]
        return f"{self.name}({', '.join(parts)})"

    def spec(self) -> dict:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": {p.name: p.schema() for p in self.params},
                    "required": [p.name for p in self.params if p.required],
                },
            },
        }

    def failure_title(self, args: dict) -> str:
        try:
            subject = self.subject(args)
        except Exception:  # a title must never fail the call it describes
            subject = None
        return f"Couldn't {self.verb} {subject}" if subject else self.fallback


def error(code: str, message: str, *, field: str | None = None, fields: list[str] | None = None) -> dict:
    data: dict[str, Any] = {"code": code, "message": message}
    if fields:
        data["fields"] = list(fields)
        if len(fields) == 1:
            data["field"] = fields[0]
    if field is not None:
        data["field"] = field
    return data


def failed(err: dict, title: str, *, body: dict | None = None, summary: dict | None = None) -> Reply:
    return Reply(
        ok=False,
        error=err,
        body={"ok": False, "error": err, **(body or {})},
        summary=summary or {},
        title=title,
    )


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def quoted(text: object, limit: int = 60) -> str:
    text = str(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"\u201c{text}\u201d"


class _ToolThread:
    """A daemon thread that runs one calling thread's tool calls, one at a time: a thread
    per call costs a start-up handshake each time."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="tool-worker", daemon=True).start()

    def _loop(self) -> None:
        while (job := self.jobs.get()) is not None:
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the waiting thread, which re-raises it
                future.set_exception(exc)


_tool_threads = threading.local()


def run_bounded(
    fn: Callable[[], Any],
    *,
    tool: str,
    timeout_s: float,
    on_slow: Callable[[], None] | None = None,
    slow_s: float = 0.05,
) -> Any:
    """`fn()` in a worker thread, waited on for at most `timeout_s`; ToolTimeout past that.

    `on_slow`, if given, is called in this thread once `fn` has run `slow_s` without
    finishing (the executor then tells watchers the call has started). If it raises, the
    call is abandoned as a timed-out one is and the error propagates.

    Python cannot kill a thread: on timeout the worker runs on to its end in the
    background (a daemon thread, so it never holds up shutdown), its result is dropped
    and it then exits; the next call gets a new worker. In-process tools are bounded
    file operations, and the patch engine writes through temporary files and renames,
    so a late finish leaves whole files, never torn ones; the executor fails the run
    and snapshots what the workspace then holds.
    """
    worker = getattr(_tool_threads, "worker", None)
    if worker is None or worker.pid != os.getpid():  # none yet, or inherited through a fork
        worker = _tool_threads.worker = _ToolThread()
    future: Future = Future()
    worker.jobs.put((fn, future))
    deadline = time.monotonic() + timeout_s
    try:
        if on_slow is not None and not wait([future], timeout=min(slow_s, timeout_s))[0]:
            on_slow()
        done, _ = wait([future], timeout=max(deadline - time.monotonic(), 0))
        if not done:
            raise ToolTimeout(tool, timeout_s)
    except BaseException:
        _tool_threads.worker = None
        worker.jobs.put(None)  # it exits when the late call ends
        raise
    return future.result()
