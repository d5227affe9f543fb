"""Checkpoints: restorable points in an app's history. Restoring never rewrites history."""

from __future__ import annotations

from django.db import transaction

from published_apps import blobs, revisions
from published_apps.models import Checkpoint, PublishedApp, Revision

RESTORED = "Restored: "


def create_checkpoint(*, app: PublishedApp, revision: Revision, label: str, run=None) -> Checkpoint:
    return Checkpoint.objects.create(app=app, revision=revision, run=run, label=label[:200])


def restore_checkpoint(*, checkpoint: Checkpoint, user=None) -> tuple[Revision, Checkpoint]:
    """Make a *new* draft revision equal to the checkpoint's, and a checkpoint of it.

    The previous draft stays in history, so a restore is undone by restoring again.
    Callers that must refuse a restore during a run lock the app row first.
    """
    source = checkpoint.revision
    # Restoring a restore brings back the same files: name them after what was restored,
    # so undo and redo do not grow "Restored: Restored: …" until the title is cut off.
    title = checkpoint.label
    if source.source == Revision.Source.RESTORE:
        title = title.removeprefix(RESTORED)
    # A draft whose bytes are gone could be neither previewed nor worked on: refuse it here,
    # naming the files, rather than leave the app on it.
    names = revisions.file_names(source.manifest)
    blobs.require(names, names=names)
    with transaction.atomic():
        app = PublishedApp.objects.select_for_update().get(pk=checkpoint.app_id)
        revision = revisions.create_revision(
            app=app,
            manifest=source.manifest,
            parent=app.draft_revision,
            source=Revision.Source.RESTORE,
            message=f"Restored checkpoint: {title}",
            user=user,
        )
        revisions.set_draft(app, revision)
        restored = create_checkpoint(app=app, revision=revision, label=f"{RESTORED}{title}")
    return revision, restored
