"""App history as a demanding user meets it: lost or damaged blobs, diffs of awkward file
names, publishing and caching, restore titles."""

import subprocess

import pytest

from coding_agent import runs
from published_apps import checkpoints, publishing, revisions
from published_apps.models import Blob, Revision
from sandbox import manifest
from tests.conftest import wait_for_run


def edit_draft(app, tmp_path, files: dict[str, bytes]):
    """A new draft revision with `files` written over the current draft's, and its checkpoint."""
    work = tmp_path / f"w{Revision.objects.count()}"
    revisions.materialise(app.draft_revision, work)
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    revision = revisions.snapshot(
        app=app, root=work, parent=app.draft_revision, source=Revision.Source.MANUAL
    )
    revisions.set_draft(app, revision)
    return checkpoints.create_checkpoint(app=app, revision=revision, label="edit")


def index_sha(revision) -> str:
    return revision.manifest["index.html"]["sha256"]


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_a_lost_or_damaged_blob_answers_410_naming_the_file_and_never_other_bytes(
    damage, api, browser_client, client, app
):
    publishing.publish(app=app)
    sha = index_sha(app.draft_revision)
    if damage == "missing":
        Blob.objects.filter(sha256=sha).delete()
    else:
        Blob.objects.filter(sha256=sha).update(data=b"<h1>not this app's page</h1>")
    base = f"/admin/apps/{app.id}"
    for response in (
        api.get(f"{base}/files/index.html"),
        api.get(f"{base}/revisions/{app.draft_revision_id}/diff"),
    ):
        assert response.status_code == 410
        assert response.json()["code"] == "CONTENT_UNAVAILABLE"
        assert "index.html" in response.json()["message"]
    for response in (
        client.get(f"/p/{app.slug}/"),
        browser_client.get(f"/apps/{app.id}/preview/", follow=True),
    ):
        assert response.status_code == 410
        assert b"index.html" in response.content and b"not this app" not in response.content
        assert response["Content-Security-Policy"].startswith("sandbox")
    # Other files of the revision are still served.
    assert api.get(f"{base}/files/app.js").status_code == 200


def test_restoring_a_checkpoint_whose_content_is_lost_is_refused_and_keeps_the_draft(api, app, tmp_path):
    start = app.checkpoints.get()
    edit_draft(app, tmp_path, {"index.html": b"<h1>v2</h1>\n"})
    Blob.objects.filter(sha256=index_sha(start.revision)).delete()
    response = api.post(f"/admin/apps/{app.id}/coding-agent/checkpoints/{start.id}/restore")
    assert response.status_code == 410, response.content
    assert response.json()["code"] == "CONTENT_UNAVAILABLE" and "index.html" in response.json()["message"]
    app.refresh_from_db()
    assert app.draft_revision.source == Revision.Source.MANUAL
    assert not Revision.objects.filter(source=Revision.Source.RESTORE).exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_on_a_draft_whose_blob_is_damaged_fails_naming_the_file(inprocess, app, user, agent_model):
    agent_model([{"text": "Nothing to do."}])
    Blob.objects.filter(sha256=index_sha(app.draft_revision)).update(data=b"tampered")
    run = wait_for_run(runs.start_run(app=app, user=user, input="Change the headline"))
    assert run.status == "failed"
    assert "index.html" in run.error_message and "missing or damaged" in run.error_message
    assert run.result_revision is None


AWKWARD_NAMES = ['say "hi".txt', "two\nlines.txt", "tab\there.txt", "back\\slash.txt", "café menu.txt"]


def test_diffs_quote_names_as_git_does_and_git_applies_them(app, tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    for n, name in enumerate(AWKWARD_NAMES):
        (root / name).write_bytes(f"file {n}\n".encode())
    first = revisions.snapshot(app=app, root=root, parent=None, source=Revision.Source.MANUAL)
    (root / AWKWARD_NAMES[0]).write_bytes(b"changed\n")  # modified
    (root / AWKWARD_NAMES[1]).rename(root / "renamed\n.txt")  # renamed
    (root / AWKWARD_NAMES[2]).unlink()  # deleted
    (root / "new\r.txt").write_bytes(b"new\n")  # added
    second = revisions.snapshot(app=app, root=root, parent=first, source=Revision.Source.MANUAL)

    diff = revisions.diff_text(first, second)
    assert 'diff --git "a/say \\"hi\\".txt" "b/say \\"hi\\".txt"\n' in diff
    assert 'rename from "two\\nlines.txt"\nrename to "renamed\\n.txt"\n' in diff
    assert '--- "a/tab\\there.txt"\n+++ /dev/null\n' in diff
    assert '+++ "b/new\\r.txt"\n' in diff
    # No name spills onto a line of its own, where it would read as part of the diff.
    assert not any(line.startswith(("lines.txt", ".txt", "here.txt")) for line in diff.split("\n"))

    work = tmp_path / "work"
    revisions.materialise(first, work)
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (tmp_path / "change.diff").write_text(diff)
    subprocess.run(["git", "apply", str(tmp_path / "change.diff")], cwd=work, check=True)
    assert manifest.scan(work) == second.manifest


def test_an_added_or_deleted_binary_file_is_shown_against_dev_null(app, tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "old.bin").write_bytes(b"\x00\x01")
    first = revisions.snapshot(app=app, root=root, parent=None, source=Revision.Source.MANUAL)
    (root / "old.bin").unlink()
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    second = revisions.snapshot(app=app, root=root, parent=first, source=Revision.Source.MANUAL)
    diff = revisions.diff_text(first, second)
    assert "Binary files /dev/null and b/logo.png differ\n" in diff
    assert "Binary files a/old.bin and /dev/null differ\n" in diff


def test_a_published_app_revalidates_so_a_new_publish_is_seen_at_once(api, client, app, tmp_path):
    publishing.publish(app=app)
    old = client.get(f"/p/{app.slug}/app.js")
    assert old.status_code == 200
    # Every use is checked with the server: a max-age would let a browser pair the page of
    # the next publish with the script it cached from this one.
    assert "no-cache" in old["Cache-Control"] and "max-age" not in old["Cache-Control"]

    edit_draft(app, tmp_path, {"app.js": b"console.log('v2');\n"})
    api.post(f"/admin/apps/{app.id}/publish")
    again = client.get(f"/p/{app.slug}/app.js", HTTP_IF_NONE_MATCH=old["ETag"])
    assert again.status_code == 200 and again.content == b"console.log('v2');\n"
    assert again["ETag"] != old["ETag"]
    # A file the publish did not change still answers 304 to the tag it had.
    page = client.get(f"/p/{app.slug}/")
    assert client.get(f"/p/{app.slug}/", HTTP_IF_NONE_MATCH=page["ETag"]).status_code == 304


def test_undo_and_redo_by_restoring_keeps_checkpoint_titles_from_stacking(app, tmp_path):
    start = app.checkpoints.get()
    edited = edit_draft(app, tmp_path, {"index.html": b"<h1>v2</h1>\n"})
    _, undo = checkpoints.restore_checkpoint(checkpoint=start)
    _, redo = checkpoints.restore_checkpoint(checkpoint=edited)
    _, undo_again = checkpoints.restore_checkpoint(checkpoint=undo)
    assert undo.label == undo_again.label == f"Restored: {start.label}"
    assert redo.label == "Restored: edit"
    assert undo_again.revision.manifest == start.revision.manifest
    assert undo_again.revision.message == f"Restored checkpoint: {start.label}"
