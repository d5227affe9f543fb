"""Running the app's declared checks: the run_check tool and a patch's verification.

A check that fails or times out by its own declared limit is a successful tool call:
the model asked "does it pass?" and the answer is no, with the output to act on. Only
running past the run's tool time limit (`ToolContext.timeout_s`) is a ToolTimeout,
which the executor turns into a failed run.
"""

from __future__ import annotations

import time

from coding_agent.tools.base import (
    STRING,
    TOOL_CANCELLED,
    Param,
    Reply,
    Tool,
    ToolContext,
    ToolTimeout,
    before_slow_work,
    error,
    failed,
)
from sandbox.commands import run_check
from sandbox.paths import PolicyError

NAME = "coding_agent_run_check"
# A patch may trigger several checks; each one's output is capped lower than a
# check run on its own so the whole result stays readable.
VERIFY_OUTPUT_BYTES = 4_000
# Less time than this left within the tool's limit: skip the check rather than start it.
MIN_VERIFY_S = 0.5
SUMMARY_KEYS = ("check", "status", "exit_code", "duration_ms")


def check_tool(args: dict, ctx: ToolContext) -> Reply:
    name = args["check"]
    before_slow_work(ctx)
    result = run_check(ctx.root, name=name, checks=ctx.checks, timeout_s=ctx.timeout_s, cancel=ctx.cancel)
    if result["status"] == "timed_out" and not _own_limit_binds(ctx.checks.get(name), ctx.timeout_s):
        raise ToolTimeout(NAME, ctx.timeout_s)
    summary = {key: result[key] for key in SUMMARY_KEYS} | {"truncated": result["truncated"]}
    if result["status"] == "cancelled":
        err = error(TOOL_CANCELLED, f"The run is stopping; check `{name}` was stopped before it finished.")
        return failed(err, f"Stopped check {name} (run cancelled)", body=result, summary=summary)
    # `ok` says the call worked, as in every tool's result; `status` says whether the check passed.
    return Reply(
        body={"ok": True, **result}, summary=summary, title=f"Ran check {name} ({status_label(result)})"
    )


def _own_limit_binds(spec: object, timeout_s: float) -> bool:
    """Did the check's declared `timeout_s` (not the tool's limit) stop it?"""
    declared = spec.get("timeout_s") if isinstance(spec, dict) else None
    return isinstance(declared, int | float) and not isinstance(declared, bool) and declared < timeout_s


def status_label(result: dict) -> str:
    status = result["status"]
    if status == "failed" and result.get("exit_code") is not None:
        return f"failed, exit {result['exit_code']}"
    return status.replace("_", " ")


def verify(ctx: ToolContext, plan: list[dict], *, deadline: float) -> list[dict]:
    """Run each check of a patch's verification plan within what is left of the tool's
    time limit. Never raises for a check: the patch has already been applied, and its
    result must reach the model and the executor whatever the checks do."""
    results = []
    for item in plan:
        name = item["check"]
        base = {"check": name, "paths": list(item.get("paths", []))}
        remaining = deadline - time.monotonic()
        if ctx.cancel():
            results.append({**base, "status": "skipped", "message": "The run is stopping."})
            continue
        if remaining < MIN_VERIFY_S:
            results.append(
                {
                    **base,
                    "status": "skipped",
                    "message": f"No time left within this call's limit; run `{name}` with {NAME}.",
                }
            )
            continue
        try:
            result = run_check(
                ctx.root,
                name=name,
                checks=ctx.checks,
                timeout_s=remaining,
                cancel=ctx.cancel,
                max_output_bytes=VERIFY_OUTPUT_BYTES,
            )
        except PolicyError as exc:  # a broken declaration: report it, keep verifying the rest
            results.append({**base, "status": "invalid", "message": exc.message})
            continue
        results.append(
            {
                **base,
                **{key: result[key] for key in SUMMARY_KEYS},
                "output": result["output"],
                "truncated": result["truncated"],
                "message": result["message"],
            }
        )
    return results


def verification_label(results: list[dict]) -> str:
    """A few words for the UI title: "checks passed", "check js-syntax failed"."""
    bad = [r for r in results if r["status"] != "passed"]
    if not bad:
        return "check passed" if len(results) == 1 else "checks passed"
    first = bad[0]
    label = f"check {first['check']} {first['status'].replace('_', ' ')}"
    if len(bad) > 1:
        label += f" (+{len(bad) - 1} more)"
    return label


TOOLS = (
    Tool(
        name=NAME,
        description=(
            "Run one of the app's declared checks (for example a syntax check of app.js) in the "
            "workspace and get its status (passed, failed, timed_out, not_found), exit code, output "
            "(capped) and duration. `check` is the check's name as the app declares it; you cannot "
            "run arbitrary commands. A failing check is a normal result: read its output, fix the "
            "code with coding_agent_apply_patch, then run the check again."
        ),
        params=(
            Param(
                "check",
                STRING,
                "Name of a declared check.",
                required=True,
                aliases=("check_name", "checkName", "name"),
            ),
        ),
        handler=check_tool,
        verb="run check",
        fallback="Couldn't run a check",
        subject=lambda args: args.get("check"),
        in_process=False,
    ),
)
