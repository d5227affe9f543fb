"""A small workspace, its checks and a ToolContext for the toolpack tests."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from coding_agent.tools import ToolContext, execute
from sandbox.index import OutlineCache
from sandbox.manifest import HashCache

FILES = {
    "index.html": "<h1>hello</h1>\n<p>one</p>\n<p>two</p>\n<p>three</p>\n",
    "old.css": "body { color: red; }\n",
    "src/app.js": "function hello() {\n  return 1;\n}\n",
    "src/util.js": "export const hello = 2;\n",
}
CHECKS = {
    "ok": {"argv": ["true"]},
    "broken": {"argv": ["sh", "-c", "echo 'bad syntax' >&2; exit 3"]},
    "slow": {"argv": ["sleep", "5"]},
    "short": {"argv": ["sleep", "5"], "timeout_s": 0.2},
}
# Checks a patch's verification plan picks by the paths it changes.
VERIFY_CHECKS = {
    "js": {"argv": ["sh", "-c", "grep -q 'return 2' src/app.js"], "paths": ["*.js"]},
    "css": {"argv": ["false"], "paths": ["*.css"]},
}
APP_PATCH = "*** Begin Patch\n*** Update File: src/app.js\n@@ function hello() {\n-  return 1;\n+  return 2;\n*** End Patch\n"


# For the argument tests: a unified patch of index.html, and a check whose `touch` leaves
# a trace, so "nothing ran" is visible in the workspace.
PATCH = "--- a/index.html\n+++ b/index.html\n@@ -1,2 +1,2 @@\n-<h1>hello</h1>\n+<h1>hello, world</h1>\n <p>one</p>\n"
MARK_CHECKS = {"mark": {"argv": ["touch", "ran.txt"]}}
# The smallest valid call of each tool.
MINIMAL = {
    "coding_agent_workspace_index": {},
    "coding_agent_read_file_range": {"path": "index.html"},
    "coding_agent_search": {"pattern": "hello"},
    "coding_agent_collect_context": {"query": "hello"},
    "coding_agent_apply_patch": {"patch": PATCH},
    "coding_agent_rename_file": {"from_path": "old.css", "to_path": "new.css"},
    "coding_agent_delete_file": {"path": "old.css"},
    "coding_agent_run_check": {"check": "mark"},
    "coding_agent_write_file": {"path": "new.txt", "content": "hi\n"},
}


def argument_context(root: Path) -> ToolContext:
    """Every tool offered, the legacy write included, with the `mark` check."""
    return context(root, checks=MARK_CHECKS, legacy_write_file=True)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def context(root: Path, **overrides) -> ToolContext:
    values = {
        "root": root,
        "checks": CHECKS,
        "hash_cache": HashCache(),
        "outline_cache": OutlineCache(),
        "timeout_s": 30,
        "cancel": lambda: False,
    }
    return ToolContext(**{**values, **overrides})


def run(ctx, name, args=None):
    outcome = execute(name, args, ctx)
    # Every outcome goes into events and the database as JSON.
    json.dumps(dataclasses.asdict(outcome))
    return outcome, json.loads(outcome.content)
