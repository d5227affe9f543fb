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
