"""Run workspaces: a directory per run, materialised from the files the run should see.

The durable state of a run's files is a manifest in the database (the base revision's,
then the one recorded after each tool call that changed files). Any worker can rebuild
the directory from it; a directory left on this machine is reused when its tree hash
still matches, so a resumed run does not rewrite files it already has.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from published_apps import revisions
from sandbox import manifest as manifests
from sandbox.index import OutlineCache


@dataclass
class Workspace:
    root: Path
    hash_cache: manifests.HashCache = field(default_factory=manifests.HashCache)
    outline_cache: OutlineCache = field(init=False)

    def __post_init__(self):
        # Per workspace, sharing its hash cache: both live and die with the run.
        self.outline_cache = OutlineCache(hashes=self.hash_cache)

    def manifest(self) -> dict[str, dict]:
        return manifests.scan(self.root, self.hash_cache)

    def token(self) -> str:
        """The revision token: tree hash of the files as they are now."""
        return manifests.tree_hash(self.manifest())


def run_root(run_id: uuid.UUID | str) -> Path:
    return Path(settings.WORKSPACES_DIR) / "runs" / str(run_id)


def open_workspace(run_id: uuid.UUID | str, manifest: dict[str, dict]) -> Workspace:
    """The run's workspace holding exactly the files of `manifest` (reused if it already does)."""
    workspace = Workspace(root=run_root(run_id))
    if workspace.root.is_dir():
        if manifests.tree_hash(workspace.manifest()) == manifests.tree_hash(manifest):
            return workspace
        shutil.rmtree(workspace.root)
        workspace = Workspace(root=workspace.root)
    staging = workspace.root.with_name(workspace.root.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        revisions.materialise_manifest(manifest, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # lost content, a full disk: leave nothing behind
        raise
    staging.rename(workspace.root)  # a half-written directory is never mistaken for the workspace
    return workspace


def remove_workspace(run_id: uuid.UUID | str) -> None:
    shutil.rmtree(run_root(run_id), ignore_errors=True)
