"""Tools that change the workspace: apply a patch, rename, delete, and the legacy write."""

from __future__ import annotations

import os
import re
import time

from coding_agent.tools.base import (
    PATCH_REJECTED,
    SHA_MAP,
    STRING,
    TEXT,
    TOOL_INPUT_VALIDATION_FAILED,
    Param,
    Reply,
    Tool,
    ToolContext,
    before_slow_work,
    error,
    failed,
    plural,
    run_bounded,
)
from coding_agent.tools.checks import verification_label, verify
from coding_agent.tools.reading import PATH_ALIASES
from sandbox.files import delete_file, rename_file, write_file
from sandbox.patching import PatchSyntaxError, apply_patch, parse_patch

PATCH = "coding_agent_apply_patch"
FROM_ALIASES = ("fromPath", "from", "source", "src", "old_path", "oldPath")
TO_ALIASES = ("toPath", "to", "destination", "dest", "new_path", "newPath")
# Failure codes that mean "the file is not what you think": re-read it.
REFRESH_CODES = frozenset({"context_mismatch", "ambiguous_context"})
# A patch wrapped in a Markdown code fence, as models often send it.
_FENCE = re.compile(r"\A\s*```[\w+-]*[ \t]*\r?\n(?P<body>.*?\r?\n)[ \t]*```\s*\Z", re.DOTALL)
# A refused patch's error message (the model's first line and the admin's `tool.failed`
# event): the first problem, clipped in its middle to FIRST_PROBLEM_CHARS, then the list
# of all problems, cut to fit. Every failure is in full in the result's `failures`.
MAX_MESSAGE_CHARS = 1_200
FIRST_PROBLEM_CHARS = 900
_REFUSED = "Patch refused; no file was changed. "

PATCH_DESCRIPTION = """\
Edit files by applying a patch: the way to change, create, delete or move files. \
Read the lines you change first (coding_agent_read_file_range or coding_agent_collect_context); \
context and removed lines must match the file exactly, without the `N| ` line-number prefix \
that reads show. All files of one patch apply, or none do. Two formats are accepted.

1. Unified diff (git style). Line numbers may be approximate; the context decides:
--- a/index.html
+++ b/index.html
@@ -3,3 +3,3 @@
 <main>
-  <h1>Hello</h1>
+  <h1>Hello, world</h1>
 </main>
New file: `--- /dev/null` and `+++ b/new.css`; deleted file: `+++ /dev/null`.

2. *** Begin Patch format (no line numbers; `@@ text` optionally names a line above the change):
*** Begin Patch
*** Update File: app.js
@@ function greet() {
-  return "hi";
+  return "hello";
*** Add File: util.js
+export const id = (x) => x;
*** Delete File: old.js
*** End Patch
`*** Move to: new/path.js` after `*** Update File:` renames the file.

Paths are relative to the workspace root. Pass `expected_sha256` as {path: sha256} with the \
sha256 from your read to have the patch refused if the file changed since. On failure nothing \
is written and the result lists each failing hunk with the file's current lines \
(refresh_windows): rebuild the patch from those lines. On success the result lists the changed \
files, a new revision_token and the checks worth running (verification_plan)."""


def patch_tool(args: dict, ctx: ToolContext) -> Reply:
    patch = strip_fence(args["patch"])
    args["patch"] = patch
    expected = args.get("expected_sha256")
    if isinstance(expected, str):
        expected = _single_file_expectation(patch, expected)
        if isinstance(expected, Reply):
            return expected
        args["expected_sha256"] = expected
    started = time.monotonic()
    result = run_bounded(
        lambda: apply_patch(
            ctx.root, patch, expected_sha256=expected, checks=ctx.checks, hash_cache=ctx.hash_cache
        ),
        tool=PATCH,
        timeout_s=ctx.timeout_s,
        on_slow=ctx.on_slow,
    )
    data = result.as_dict()
    if not result.ok:
        return _rejected(data)
    changed = data["changed_files"]
    body = {**data}
    summary = {
        "format": data["format"],
        "changed_files": [_changed_summary(c) for c in changed],
        "revision_token": data["revision_token"],
        "verification_plan": data["verification_plan"],
    }
    title = patch_title(changed)
    if ctx.auto_verify_patch and data["verification_plan"]:
        before_slow_work(ctx)
        verification = verify(ctx, data["verification_plan"], deadline=started + ctx.timeout_s)
        body["verification"] = verification
        summary["verification"] = [
            {key: v.get(key) for key in ("check", "status", "exit_code", "duration_ms")} for v in verification
        ]
        title += f"; {verification_label(verification)}"
    return Reply(body=body, summary=summary, title=title, changed_paths=_changed_paths(changed))


def strip_fence(patch: str) -> str:
    """The patch without a surrounding Markdown code fence (```diff ... ```)."""
    match = _FENCE.match(patch)
    return match.group("body") if match else patch


def _single_file_expectation(patch: str, digest: str) -> dict | Reply | None:
    """A bare sha256 applies to the patch's only file; with several files it is ambiguous."""
    try:
        paths = list(dict.fromkeys(op.path for op in parse_patch(patch)))
    except PatchSyntaxError:
        return None  # the engine reports the malformed patch itself
    if len(paths) == 1:
        return {paths[0]: digest}
    err = error(
        TOOL_INPUT_VALIDATION_FAILED,
        f"`expected_sha256` is one digest but the patch touches {len(paths)} files; send a map "
        '{"path": "sha256", ...} naming each file you read.',
        fields=["expected_sha256"],
    )
    return failed(err, f"Couldn't apply patch to {plural(len(paths), 'file')}")


def _rejected(data: dict) -> Reply:
    failures = data["failures"]
    first = failures[0]
    refresh = [w["path"] for w in data["refresh_windows"]]
    refresh += [f["path"] for f in failures if f["code"] in REFRESH_CODES and f["path"]]
    refresh = list(dict.fromkeys(refresh))
    err = error(PATCH_REJECTED, failure_message(data["summary"], first["message"]), field="patch")
    paths = list(dict.fromkeys(f["path"] for f in failures if f["path"]))
    if len(paths) == 1:
        title = f"Couldn't edit {paths[0]}"
    elif paths:
        title = f"Couldn't apply patch to {plural(len(paths), 'file')}"
    else:
        title = "Couldn't apply patch"
    reply = failed(
        err,
        title,
        body={
            "summary": data["summary"],
            "failures": failures,
            "refresh_windows": data["refresh_windows"],
            "recommended_refresh": refresh,
        },
        summary={
            "format": data["format"],
            "failures": [{k: f[k] for k in ("path", "hunk", "code")} for f in failures],
        },
    )
    reply.diagnostics = {
        "patch_code": first["code"],
        "patch_failure_count": len(failures),
        "recommended_refresh": refresh,
    }
    return reply


def failure_message(summary: str, first: str) -> str:
    """The first problem before the list of all problems, so a long list (many files,
    long paths) never pushes out what went wrong. A long first problem (a chunk's
    lines quoted in full) loses its middle: its start says where, its end says how it
    differs and what to do."""
    if len(first) > FIRST_PROBLEM_CHARS:
        marker = " […] "
        head = FIRST_PROBLEM_CHARS // 3
        tail = FIRST_PROBLEM_CHARS - head - len(marker)
        first = first[:head].rstrip() + marker + first[-tail:].lstrip()
    message = f"{_REFUSED}First problem: {first} All problems: {summary.removeprefix(_REFUSED)}"
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


def _changed_summary(change: dict) -> dict:
    item = {k: change[k] for k in ("path", "change", "additions", "deletions")}
    if change.get("from_path"):
        item["from_path"] = change["from_path"]
    return item


def _changed_paths(changed: list[dict]) -> list[str]:
    paths = []
    for change in changed:
        if change.get("from_path"):
            paths.append(change["from_path"])
        paths.append(change["path"])
    return list(dict.fromkeys(paths))


def patch_title(changed: list[dict]) -> str:
    if not changed:
        return "Applied a patch that changed nothing"
    adds = sum(c["additions"] for c in changed)
    dels = sum(c["deletions"] for c in changed)
    if len(changed) > 1:
        return f"Edited {len(changed)} files (+{adds} \u2212{dels})"
    change = changed[0]
    counts = f" (+{adds} \u2212{dels})" if adds or dels else ""
    if change["change"] == "added":
        return f"Created {change['path']} (+{adds})"
    if change["change"] == "deleted":
        return f"Deleted {change['path']}"
    if change["change"] == "renamed":
        return f"Renamed {change['from_path']} \u2192 {change['path']}{counts}"
    return f"Edited {change['path']}{counts}"


def _patch_subject(args: dict) -> str | None:
    """The file a failed patch was about, when it names exactly one."""
    try:
        paths = {op.path for op in parse_patch(strip_fence(args.get("patch") or ""))}
    except PatchSyntaxError:
        return None
    return next(iter(paths)) if len(paths) == 1 else None


def rename_tool(args: dict, ctx: ToolContext) -> Reply:
    result = rename_file(ctx.root, from_path=args["from_path"], to_path=args["to_path"])
    ctx.hash_cache.forget(os.path.join(ctx.root, result["from_path"]))
    return Reply(
        body={"ok": True, **result},
        summary=result,
        title=f"Renamed {result['from_path']} \u2192 {result['to_path']}",
        changed_paths=[result["from_path"], result["to_path"]],
    )


def delete_tool(args: dict, ctx: ToolContext) -> Reply:
    result = delete_file(ctx.root, path=args["path"])
    ctx.hash_cache.forget(os.path.join(ctx.root, result["path"]))
    return Reply(
        body={"ok": True, **result},
        summary=result,
        title=f"Deleted {result['path']}",
        changed_paths=[result["path"]],
    )


def write_tool(args: dict, ctx: ToolContext) -> Reply:
    result = write_file(ctx.root, path=args["path"], content=args["content"])
    verb = "Created" if result["change"] == "added" else "Wrote"
    return Reply(
        body={"ok": True, **result},
        summary=result,
        title=f"{verb} {result['path']} ({plural(result['lines'], 'line')})",
        changed_paths=[result["path"]],
    )


TOOLS = (
    Tool(
        name=PATCH,
        description=PATCH_DESCRIPTION,
        params=(
            Param(
                "patch",
                TEXT,
                "The patch text: a unified diff or a `*** Begin Patch` ... `*** End Patch` block.",
                required=True,
                aliases=("diff", "patch_text", "patchText", "unified_diff"),
            ),
            Param(
                "expected_sha256",
                SHA_MAP,
                "Optional {path: sha256} from your reads; a file whose content changed since is refused.",
                aliases=("expectedSha256", "expected_sha", "expectedSha", "sha256"),
            ),
        ),
        handler=patch_tool,
        verb="edit",
        fallback="Couldn't apply patch",
        subject=_patch_subject,
        in_process=False,  # bounds the engine itself, then verifies in the caller's thread
    ),
    Tool(
        name="coding_agent_rename_file",
        description=(
            "Move or rename one file. `from_path` and `to_path` are relative to the workspace root; "
            "the destination must not exist (missing directories are created, emptied ones removed). "
            "Update references to the old name (imports, <script src>, <link href>) with "
            "coding_agent_apply_patch."
        ),
        params=(
            Param(
                "from_path",
                STRING,
                "Current path of the file, relative to the workspace root.",
                required=True,
                aliases=FROM_ALIASES,
            ),
            Param(
                "to_path",
                STRING,
                "New path of the file, relative to the workspace root.",
                required=True,
                aliases=TO_ALIASES,
            ),
        ),
        handler=rename_tool,
        verb="rename",
        fallback="Couldn't rename a file",
        subject=lambda args: args.get("from_path"),
    ),
    Tool(
        name="coding_agent_delete_file",
        description=(
            "Delete one file. `path` is relative to the workspace root. Remove references to it from "
            "other files with coding_agent_apply_patch."
        ),
        params=(
            Param(
                "path",
                STRING,
                "Path of the file to delete, relative to the workspace root.",
                required=True,
                aliases=PATH_ALIASES,
            ),
        ),
        handler=delete_tool,
        verb="delete",
        fallback="Couldn't delete a file",
    ),
    Tool(
        name="coding_agent_write_file",
        description=(
            "Create a file or replace a whole file with `content`. `path` is relative to the "
            "workspace root. Prefer coding_agent_apply_patch for changes to existing files: it "
            "checks that the lines you change are still there and keeps the rest of the file intact."
        ),
        params=(
            Param(
                "path",
                STRING,
                "Path of the file to write, relative to the workspace root.",
                required=True,
                aliases=PATH_ALIASES,
            ),
            Param(
                "content",
                TEXT,
                "The complete new text of the file.",
                required=True,
                aliases=("text", "contents", "file_content", "fileContent"),
                allow_empty=True,
            ),
        ),
        handler=write_tool,
        verb="write",
        fallback="Couldn't write a file",
        legacy=True,
    ),
)
