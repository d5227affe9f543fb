import os
import stat

import pytest

from published_apps import blobs, revisions
from published_apps.models import Blob, ImmutableError, Revision
from sandbox import manifest


def write_tree(root, files: dict[str, bytes], executable=()):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if rel in executable:
            path.chmod(0o755)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    write_tree(
        root,
        {
            "index.html": b"<h1>hi</h1>\n",
            "empty.txt": b"",
            "bin/run.sh": b"#!/bin/sh\necho ok\n",
            "deep/a/b/c.js": b"export const c = 1;\n",
            "crlf.txt": b"one\r\ntwo\r\n",
            "no-newline.css": b"body{}",
        },
        executable={"bin/run.sh"},
    )
    return root


def test_snapshot_and_materialise_round_trip_keeps_bytes_modes_and_empty_files(app, tree, tmp_path):
    revision = revisions.snapshot(app=app, root=tree, parent=None, source=Revision.Source.MANUAL)
    out = tmp_path / "out"
    revisions.materialise(revision, out)
    assert manifest.scan(out) == manifest.scan(tree) == revision.manifest
    assert (out / "empty.txt").read_bytes() == b""
    assert (out / "crlf.txt").read_bytes() == b"one\r\ntwo\r\n"
    assert os.stat(out / "bin/run.sh").st_mode & stat.S_IXUSR
    assert not os.stat(out / "index.html").st_mode & stat.S_IXUSR
    assert revision.manifest["bin/run.sh"]["mode"] == "100755"
    assert revision.tree_sha256 == manifest.tree_hash(revision.manifest)


def test_same_bytes_are_stored_once(app, tmp_path):
    root = tmp_path / "same"
    write_tree(root, {"a.txt": b"same\n", "b.txt": b"same\n", "c/d.txt": b"same\n"})
    before = Blob.objects.count()
    revisions.snapshot(app=app, root=root, parent=None, source=Revision.Source.MANUAL)
    revisions.snapshot(app=app, root=root, parent=None, source=Revision.Source.MANUAL)
    assert Blob.objects.count() == before + 1
    assert blobs.store({manifest.sha256_bytes(b"same\n"): b"same\n"}) == 0


def test_a_2000_file_revision_with_3_changed_files_writes_3_blobs(app, tmp_path):
    root = tmp_path / "big"
    write_tree(root, {f"dir{i % 40}/file{i}.txt": f"content {i}\n".encode() for i in range(2000)})
    first = revisions.snapshot(app=app, root=root, parent=None, source=Revision.Source.MANUAL)
    assert len(first.manifest) == 2000
    for i in (5, 500, 1999):
        (root / f"dir{i % 40}/file{i}.txt").write_text(f"changed {i}\n")
    before = Blob.objects.count()
    second = revisions.snapshot(app=app, root=root, parent=first, source=Revision.Source.MANUAL)
    assert Blob.objects.count() - before == 3
    changed = revisions.changed_files(first.manifest, second.manifest)
    assert [c["path"] for c in changed] == ["dir20/file500.txt", "dir39/file1999.txt", "dir5/file5.txt"]
    assert {c["change"] for c in changed} == {"modified"}


def test_changed_files_detects_added_deleted_modified_renamed_and_mode_changes():
    a = {
        "x": {"sha256": "1", "mode": "100644"},
        "old": {"sha256": "2", "mode": "100644"},
        "gone": {"sha256": "3", "mode": "100644"},
        "run": {"sha256": "4", "mode": "100644"},
    }
    b = {
        "x": {"sha256": "9", "mode": "100644"},
        "new": {"sha256": "2", "mode": "100644"},
        "added": {"sha256": "5", "mode": "100644"},
        "run": {"sha256": "4", "mode": "100755"},
    }
    assert revisions.changed_files(a, b) == [
        {"path": "added", "change": "added"},
        {"path": "gone", "change": "deleted"},
        {"path": "new", "change": "renamed", "from_path": "old"},
        {"path": "run", "change": "modified"},
        {"path": "x", "change": "modified"},
    ]


def test_diff_text_is_a_unified_diff_that_git_can_apply(app, tree, tmp_path):
    import subprocess

    first = revisions.snapshot(app=app, root=tree, parent=None, source=Revision.Source.MANUAL)
    (tree / "index.html").write_bytes(b"<h1>hello</h1>\n<p>new</p>\n")
    (tree / "no-newline.css").write_bytes(b"body{color:red}")
    (tree / "added.js").write_bytes(b"let a = 1;\n")
    (tree / "empty.txt").unlink()
    second = revisions.snapshot(app=app, root=tree, parent=first, source=Revision.Source.MANUAL)
    diff = revisions.diff_text(first, second)
    assert "-<h1>hi</h1>\n+<h1>hello</h1>\n+<p>new</p>\n" in diff
    assert "\\ No newline at end of file" in diff
    assert "new file mode 100644" in diff and "deleted file mode 100644" in diff

    # The diff is real: git applies it to the first revision's files and gets the second's.
    work = tmp_path / "work"
    revisions.materialise(first, work)
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (tmp_path / "change.diff").write_text(diff)
    subprocess.run(["git", "apply", str(tmp_path / "change.diff")], cwd=work, check=True)
    scanned = manifest.scan(work)
    assert {p: e["sha256"] for p, e in scanned.items()} == {
        p: e["sha256"] for p, e in second.manifest.items()
    }


def test_diff_text_splits_lines_only_at_newlines_and_shows_other_encodings_as_binary(app, tree, tmp_path):
    import os
    import subprocess

    (tree / "feed.txt").write_bytes("page one\x0cpage two\nsep\u2028arator\nend\n".encode())
    (tree / "my notes.txt").write_bytes(b"a\n")
    (tree / "latin.txt").write_bytes(b"caf\xe9\n")
    first = revisions.snapshot(app=app, root=tree, parent=None, source=Revision.Source.MANUAL)
    (tree / "feed.txt").write_bytes("page one\x0cpage 2\nsep\u2028arator\nend\n".encode())
    (tree / "my notes.txt").write_bytes(b"b\n")
    (tree / "latin.txt").write_bytes(b"caf\xe8\n")
    os.chmod(tree / "bin/run.sh", 0o644)
    os.rename(tree / "bin/run.sh", tree / "run.sh")
    second = revisions.snapshot(app=app, root=tree, parent=first, source=Revision.Source.MANUAL)
    diff = revisions.diff_text(first, second)
    assert "-page one\x0cpage two\n+page one\x0cpage 2\n" in diff and "No newline" not in diff
    assert "Binary files a/latin.txt and b/latin.txt differ" in diff and "\ufffd" not in diff
    assert "old mode 100755\nnew mode 100644\nrename from bin/run.sh\nrename to run.sh\n" in diff

    work = tmp_path / "work"
    revisions.materialise(first, work)
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    text_only = diff.split("diff --git a/latin.txt")[0] + "diff --git a/my" + diff.split("diff --git a/my")[1]
    (tmp_path / "change.diff").write_text(text_only)
    subprocess.run(["git", "apply", str(tmp_path / "change.diff")], cwd=work, check=True)
    assert (work / "feed.txt").read_bytes() == (tree / "feed.txt").read_bytes()
    assert (work / "run.sh").exists() and not os.access(work / "run.sh", os.X_OK)


def test_revisions_are_immutable_and_never_deleted(app):
    revision = app.draft_revision
    revision.message = "rewritten"
    with pytest.raises(ImmutableError):
        revision.save()
    with pytest.raises(ImmutableError):
        revision.delete()
    assert Revision.objects.get(pk=revision.pk).message != "rewritten"
