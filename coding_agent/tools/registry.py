"""The toolpack's registry: tool specs for the model and `execute`, the one entry point.

`execute` never raises for what a model can get wrong (an unknown tool, bad arguments,
a path outside the workspace, a patch that does not apply) nor for a bug inside a tool:
each comes back as a `ToolOutcome` with `ok=False` and a structured error the model can
read. The one exception is `ToolTimeout`, which ends the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from coding_agent.tools import checks, editing, reading
from coding_agent.tools.arguments import ArgumentError, normalise, parse, printable
from coding_agent.tools.base import (
    PREFIX,
    TOOL_CANCELLED,
    TOOL_ERROR,
    TOOL_UNAVAILABLE,
    UNKNOWN_TOOL,
    Reply,
    Tool,
    ToolContext,
    ToolOutcome,
    ToolTimeout,
    error,
    failed,
    run_bounded,
)
from coding_agent.tools.rendering import bounded_json, clip, display_args
from sandbox.paths import PolicyError

logger = logging.getLogger(__name__)

TOOLS: dict[str, Tool] = {tool.name: tool for tool in (*reading.TOOLS, *editing.TOOLS, *checks.TOOLS)}
_CALL_PREFIX = re.compile(r"^(functions|tools?)[.:/]", re.IGNORECASE)


def tool_specs(*, legacy_write_file: bool) -> list[dict]:
    """OpenAI function-tool schemas for `bind_tools`; write_file only when enabled."""
    return [tool.spec() for tool in TOOLS.values() if legacy_write_file or not tool.legacy]


def available_tools(*, legacy_write_file: bool) -> list[str]:
    return [name for name, tool in TOOLS.items() if legacy_write_file or not tool.legacy]


def find_tool(name: object) -> Tool | None:
    """The tool a call names. Besides the exact name, accepts the spellings models use:
    any case, `-` or `.` for `_`, without the `coding_agent_` prefix, and with a
    `functions.` prefix (`functions.apply_patch` is `coding_agent_apply_patch`)."""
    if not isinstance(name, str):
        return None
    if name in TOOLS:
        return TOOLS[name]
    key = _CALL_PREFIX.sub("", name.strip()).lower().replace("-", "_").replace(".", "_")
    if not key.startswith(PREFIX):
        key = PREFIX + key
    return TOOLS.get(key)


def execute(
    name: str, raw_args: Any, ctx: ToolContext, *, on_slow: Callable[[], None] | None = None
) -> ToolOutcome:
    """Run one tool call. Raises only ToolTimeout (see `base.run_bounded`), or what
    `on_slow` raises: it is called once the call has run 50 ms in a worker thread, or
    before its handler starts a subprocess (`ToolContext.on_slow`)."""
    tool = find_tool(name)
    if tool is None:
        return _unknown(name, raw_args, ctx)
    if tool.legacy and not ctx.legacy_write_file:
        return _unavailable(tool, raw_args)
    try:
        arguments = normalise(tool, raw_args)
    except ArgumentError as exc:
        reply = failed(exc.as_error(), tool.failure_title(exc.partial))
        return _outcome(tool, exc.partial, exc.ignored, reply)
    values = dict(arguments.values)
    if ctx.cancel():
        err = error(TOOL_CANCELLED, "The run is stopping; the tool was not run.")
        return _outcome(tool, values, arguments.ignored, failed(err, tool.failure_title(values)))
    reply = _run(tool, values, ctx, on_slow)
    return _outcome(tool, values, arguments.ignored, reply)


def _run(tool: Tool, values: dict, ctx: ToolContext, on_slow=None) -> Reply:
    """The handler's reply; a policy refusal or an unexpected exception as a failed reply.
    Handlers may record in `values` what actually ran (a clamped budget, a map built
    from a bare digest). What `on_slow` raises is the caller's and propagates."""
    raised: list[BaseException] = []

    def slow() -> None:
        try:
            on_slow()
        except BaseException as exc:
            raised.append(exc)
            raise

    if on_slow is not None:
        ctx = replace(ctx, on_slow=slow)
    try:
        if tool.in_process:
            return run_bounded(
                lambda: tool.handler(values, ctx),
                tool=tool.name,
                timeout_s=ctx.timeout_s,
                on_slow=ctx.on_slow,
            )
        return tool.handler(values, ctx)
    except ToolTimeout:
        raise  # ends the run: not something the model can fix
    except PolicyError as exc:
        return failed(exc.as_dict(), tool.failure_title(values))
    except Exception as exc:
        if raised and exc is raised[0]:
            raise  # on_slow's: the caller's error, not the tool's
        logger.exception("Tool %s failed unexpectedly in %s", tool.name, ctx.root)
        err = error(
            TOOL_ERROR,
            f"The tool failed unexpectedly ({type(exc).__name__}: {clip(str(exc), 300)}). "
            "This is not caused by your arguments; try another approach or report it.",
        )
        return failed(err, tool.failure_title(values))


def _outcome(tool: Tool, args: dict, ignored: list[str], reply: Reply) -> ToolOutcome:
    body, result = dict(reply.body), dict(reply.summary)
    if ignored:
        body["ignored_args"] = result["ignored_args"] = list(ignored)
    return ToolOutcome(
        ok=reply.ok,
        tool=tool.name,
        args=display_args(args),
        content=bounded_json(body),
        result=result,
        error=reply.error,
        diagnostics=dict(reply.diagnostics),
        changed_paths=list(reply.changed_paths),
        title=reply.title,
    )


def _unknown(name: object, raw_args: Any, ctx: ToolContext) -> ToolOutcome:
    names = available_tools(legacy_write_file=ctx.legacy_write_file)
    shown = printable(clip(str(name), 100))
    err = error(UNKNOWN_TOOL, f"There is no tool `{shown}`. Available tools: {', '.join(names)}.")
    body = {"ok": False, "error": err, "available_tools": names}
    return ToolOutcome(
        ok=False,
        tool=shown,
        args=display_args(_best_effort_args(raw_args)),
        content=bounded_json(body),
        result={},
        error=err,
        diagnostics={},
        changed_paths=[],
        title=f"Unknown tool {shown}",
    )


def _unavailable(tool: Tool, raw_args: Any) -> ToolOutcome:
    try:
        args = normalise(tool, raw_args).values
    except ArgumentError as exc:
        args = exc.partial
    err = error(
        TOOL_UNAVAILABLE,
        f"{tool.name} is not available here. Change files with {editing.PATCH}: an "
        "`*** Add File: path` section creates a file with the `+` lines you give, and an "
        "`*** Update File: path` section edits one.",
    )
    return _outcome(tool, args, [], failed(err, tool.failure_title(args)))


def _best_effort_args(raw_args: Any) -> dict:
    try:
        return printable(parse(raw_args))
    except ArgumentError:
        return {"raw": printable(clip(str(raw_args), 2_000))}
