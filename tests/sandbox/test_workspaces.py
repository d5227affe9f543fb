"""Run workspaces: materialised from a manifest, reused while they still match it."""

import os

import pytest

from sandbox import manifest as manifests
from sandbox.workspaces import open_workspace, remove_workspace, run_root


@pytest.fixture
def workspaces_dir(settings, tmp_path):
    settings.WORKSPACES_DIR = tmp_path / "workspaces"
    return settings.WORKSPACES_DIR


def test_a_workspace_holds_exactly_the_manifests_files(workspaces_dir, app):
    workspace = open_workspace("run-1", app.draft_revision.manifest)
    assert workspace.root == run_root("run-1")
    assert workspace.manifest() == app.draft_revision.manifest
    assert workspace.token() == app.draft_revision.tree_sha256
    assert not any(p.name.endswith(".staging") for p in workspaces_dir.rglob("*"))


def test_a_matching_workspace_is_reused_without_rewriting_files(workspaces_dir, app):
    first = open_workspace("run-1", app.draft_revision.manifest)
    index = first.root / "index.html"
    before = os.stat(index).st_mtime_ns
    again = open_workspace("run-1", app.draft_revision.manifest)
    assert again.root == first.root and os.stat(index).st_mtime_ns == before


def test_a_workspace_that_drifted_is_rebuilt_from_the_manifest(workspaces_dir, app):
    first = open_workspace("run-1", app.draft_revision.manifest)
    (first.root / "index.html").write_text("uncommitted edit")
    (first.root / "stray.js").write_text("1;")
    rebuilt = open_workspace("run-1", app.draft_revision.manifest)
    assert manifests.tree_hash(rebuilt.manifest()) == app.draft_revision.tree_sha256
    assert not (rebuilt.root / "stray.js").exists()


def test_a_half_materialised_workspace_is_never_used(workspaces_dir, app):
    staging = run_root("run-1").with_name("run-1.staging")
    staging.mkdir(parents=True)
    (staging / "partial.txt").write_text("left over by a crash")
    workspace = open_workspace("run-1", app.draft_revision.manifest)
    assert not (workspace.root / "partial.txt").exists() and not staging.exists()


def test_remove_workspace(workspaces_dir, app):
    workspace = open_workspace("run-1", app.draft_revision.manifest)
    remove_workspace("run-1")
    assert not workspace.root.exists()
    remove_workspace("run-1")  # idempotent


def test_a_workspace_that_cannot_be_built_leaves_no_staging_directory(workspaces_dir, app):
    from published_apps.blobs import BlobUnavailable
    from published_apps.models import Blob

    Blob.objects.filter(sha256=app.draft_revision.manifest["index.html"]["sha256"]).delete()
    with pytest.raises(BlobUnavailable):
        open_workspace("run-1", app.draft_revision.manifest)
    assert list(workspaces_dir.rglob("*")) == [workspaces_dir / "runs"]
