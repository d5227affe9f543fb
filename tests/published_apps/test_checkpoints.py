from published_apps import checkpoints, revisions
from published_apps.models import Revision


def change_draft(app, tmp_path, text):
    work = tmp_path / f"w{Revision.objects.count()}"
    revisions.materialise(app.draft_revision, work)
    (work / "index.html").write_text(text)
    revision = revisions.snapshot(
        app=app, root=work, parent=app.draft_revision, source=Revision.Source.MANUAL
    )
    revisions.set_draft(app, revision)
    return checkpoints.create_checkpoint(app=app, revision=revision, label=text)


def test_restore_creates_a_new_revision_equal_to_the_checkpoints(app, tmp_path):
    start = app.checkpoints.get()
    change_draft(app, tmp_path, "v2")
    changed_draft = app.draft_revision
    revision, restored = checkpoints.restore_checkpoint(checkpoint=start)
    app.refresh_from_db()
    assert revision.pk not in (start.revision_id, changed_draft.pk)
    assert revision.manifest == start.revision.manifest
    assert revision.tree_sha256 == start.revision.tree_sha256
    assert revision.source == Revision.Source.RESTORE and revision.parent == changed_draft
    assert app.draft_revision == revision
    assert restored.revision == revision
    # History is intact: the changed draft is still there.
    assert Revision.objects.filter(pk=changed_draft.pk).exists()


def test_a_restore_is_undone_by_restoring_again(app, tmp_path):
    start = app.checkpoints.get()
    v2 = change_draft(app, tmp_path, "v2")
    _, restored = checkpoints.restore_checkpoint(checkpoint=start)
    revision, _ = checkpoints.restore_checkpoint(checkpoint=v2)
    assert revision.manifest == v2.revision.manifest
    assert restored.revision.manifest == start.revision.manifest
