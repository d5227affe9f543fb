"""Human titles for a tool call that is still running ("Reading index.html lines 1–40…").

Finished calls get their titles from their handlers; a running call has only what the
model sent, so it is normalised the same way `execute` will normalise it.
"""

from __future__ import annotations

from typing import Any

from coding_agent.tools.arguments import ArgumentError, normalise
from coding_agent.tools.registry import find_tool


def _short(value: Any, limit: int = 48) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _patch_paths(patch: Any) -> list[str]:
    from sandbox.patching import PatchSyntaxError, parse_patch

    if not isinstance(patch, str):
        return []
    try:
        return list(dict.fromkeys(op.path for op in parse_patch(patch)))
    except (PatchSyntaxError, ValueError):
        return []


def _read(a: dict) -> str:
    if not a.get("path"):
        return "Reading a file"
    if a.get("start_line") and a.get("end_line"):
        return f"Reading {_short(a['path'])} lines {a['start_line']}–{a['end_line']}"
    return f"Reading {_short(a['path'])}"


def _patch(a: dict) -> str:
    paths = _patch_paths(a.get("patch"))
    if len(paths) == 1:
        return f"Editing {_short(paths[0])}"
    return f"Editing {len(paths)} files" if paths else "Applying a patch"


def _index(a: dict) -> str:
    title = f"Indexing {_short(a['path_prefix'])}" if a.get("path_prefix") else "Indexing the workspace"
    offset = a.get("offset")
    if isinstance(offset, int) and not isinstance(offset, bool) and offset > 0:
        title += f" from file {offset + 1}"
    return title


TITLES = {
    "workspace_index": _index,
    "read_file_range": _read,
    "search": lambda a: f"Searching for “{_short(a['pattern'], 40)}”" if a.get("pattern") else "Searching",
    "collect_context": lambda a: (
        f"Collecting context for “{_short(a['query'], 40)}”" if a.get("query") else "Collecting context"
    ),
    "apply_patch": _patch,
    "rename_file": lambda a: (
        f"Renaming {_short(a['from_path'])} → {_short(a['to_path'])}"
        if a.get("from_path") and a.get("to_path")
        else "Renaming a file"
    ),
    "delete_file": lambda a: f"Deleting {_short(a['path'])}" if a.get("path") else "Deleting a file",
    "write_file": lambda a: f"Writing {_short(a['path'])}" if a.get("path") else "Writing a file",
    "run_check": lambda a: f"Running check {_short(a['check'])}" if a.get("check") else "Running a check",
}


def running_title(name: Any, raw_args: Any) -> str:
    tool = find_tool(name)
    if tool is None:
        return f"Running {_short(name or 'a tool')}…"
    try:
        values = normalise(tool, raw_args).values
    except ArgumentError as exc:
        values = exc.partial
    title = TITLES.get(tool.short_name)
    return (title(values) if title else f"Running {tool.short_name.replace('_', ' ')}") + "…"
