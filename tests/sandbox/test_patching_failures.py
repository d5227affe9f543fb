"""The patch engine refusing patches: atomicity, diagnostics, hostile paths, binaries, malformed text."""

from __future__ import annotations

import os

import pytest

from sandbox.patching import apply_patch
from tests.sandbox.patch_helpers import NUMBERS, apply, make_tree, snapshot, unified

# -- failures ----------------------------------------------------------------------


def test_failed_patch_leaves_every_byte_unchanged(tmp_path):
    make_tree(tmp_path, {"a.txt": NUMBERS, "b.txt": NUMBERS, "c.txt": "c\n"})
    os.chmod(tmp_path / "c.txt", 0o755)
    before = snapshot(tmp_path)
    patch = (
        unified("a.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2\n+LINE 2\n line 3\n")
        + "diff --git a/new/dir/n.txt b/new/dir/n.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new/dir/n.txt\n"
        "@@ -0,0 +1 @@\n+n\n"
        "diff --git a/c.txt b/c.txt\nold mode 100755\nnew mode 100644\n"
        "diff --git a/c.txt b/d.txt\nrename from c.txt\nrename to d.txt\n"
        + unified("b.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2 (stale)\n+LINE 2\n line 3\n")
    )
    data = apply(tmp_path, patch)
    assert not data["ok"]
    assert [(f["path"], f["hunk"], f["code"]) for f in data["failures"]] == [("b.txt", 1, "context_mismatch")]
    assert snapshot(tmp_path) == before


def test_failing_codex_operation_leaves_earlier_operations_unapplied(tmp_path):
    make_tree(tmp_path, {"keep.txt": "k\n"})
    before = snapshot(tmp_path)
    patch = "*** Begin Patch\n*** Add File: created.txt\n+hello\n*** Update File: missing.txt\n@@\n-a\n+b\n*** End Patch\n"
    data = apply(tmp_path, patch)
    assert data["failures"][0]["code"] == "file_not_found"
    assert snapshot(tmp_path) == before


def test_a_write_error_mid_commit_rolls_everything_back(tmp_path, monkeypatch):
    make_tree(tmp_path, {"a.txt": "a\n", "b.txt": "b\n", "gone.txt": "g\n"})
    before = snapshot(tmp_path)
    patch = (
        unified("a.txt", "@@ -1 +1 @@", "-a\n+A\n")
        + "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-g\n"
        + unified("b.txt", "@@ -1 +1 @@", "-b\n+B\n")
        + "diff --git a/x/y.txt b/x/y.txt\nnew file mode 100644\n--- /dev/null\n+++ b/x/y.txt\n@@ -0,0 +1 @@\n+y\n"
    )
    real_replace, real_rename = os.replace, os.rename
    calls = []

    def failing(real):
        def move(src, dst, **dir_fds):
            calls.append(dst)
            if len(calls) == 2:  # the second file moved into place: the disk fills up
                raise OSError(28, "No space left on device")
            return real(src, dst, **dir_fds)

        return move

    monkeypatch.setattr(os, "replace", failing(real_replace))
    monkeypatch.setattr(os, "rename", failing(real_rename))
    with pytest.raises(OSError):
        apply_patch(tmp_path, patch)
    monkeypatch.setattr(os, "replace", real_replace)
    monkeypatch.setattr(os, "rename", real_rename)
    assert len(calls) >= 2  # the failure happened mid-commit (rollback makes moves of its own)
    assert snapshot(tmp_path) == before


def test_already_applied_hunk_is_detected(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS.replace("line 5\n", "line five\n")})
    patch = unified("n.txt", "@@ -4,3 +4,3 @@", " line 4\n-line 5\n+line five\n line 6\n")
    data = apply(tmp_path, patch)
    [fail] = data["failures"]
    assert fail["already_applied"] is True
    assert "already applied" in fail["message"]


def test_creating_a_file_that_exists_with_the_same_content_is_flagged_already_applied(tmp_path):
    make_tree(tmp_path, {"n.txt": "hi\n"})
    patch = (
        "diff --git a/n.txt b/n.txt\nnew file mode 100644\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+hi\n"
    )
    [fail] = apply(tmp_path, patch)["failures"]
    assert fail["code"] == "file_exists" and fail["already_applied"] is True


def test_context_mismatch_says_what_was_expected_and_shows_the_current_lines(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS.replace("line 10\n", "line ten\n")})
    patch = unified("n.txt", "@@ -9,3 +9,3 @@", " line 9\n-line 10\n+line 10!\n line 11\n")
    data = apply(tmp_path, patch)
    [fail] = data["failures"]
    assert fail == {**fail, "path": "n.txt", "hunk": 1, "code": "context_mismatch", "already_applied": False}
    assert "'line 10'" in fail["message"] and "'line ten'" in fail["message"]
    [win] = data["refresh_windows"]
    assert win["path"] == "n.txt" and win["hunk"] == 1
    assert win["start_line"] <= 10 <= win["end_line"]
    assert "    10\tline ten" in win["text"]
    assert win["end_line"] - win["start_line"] < 60
    assert "1 problem" in data["summary"]


def test_paths_that_leave_the_workspace_are_refused(tmp_path):
    root = make_tree(tmp_path / "root", {"a.txt": "a\n", "inner/b.txt": "b\n"})
    make_tree(tmp_path / "outside", {"v.txt": "v\n"})
    os.symlink("../outside", root / "out")
    os.symlink("inner", root / "alias")
    before = snapshot(tmp_path)
    for path in ["../outside/v.txt", "/etc/passwd", ".git/config", "out/v.txt", "alias/b.txt", "out"]:
        patch = f"*** Begin Patch\n*** Add File: {path}\n+x\n*** End Patch\n"
        data = apply(root, patch)
        assert data["failures"][0]["code"] == "path_escape", path
    data = apply(root, unified("../outside/v.txt", "@@ -1 +1 @@", "-v\n+w\n"))
    assert data["failures"][0]["code"] == "path_escape"
    assert snapshot(tmp_path) == before


def test_a_file_cannot_replace_a_directory(tmp_path):
    make_tree(tmp_path, {"d/x.txt": "x\n"})
    data = apply(tmp_path, "*** Begin Patch\n*** Add File: d\n+x\n*** End Patch\n")
    assert data["failures"][0]["code"] == "file_exists"
    patch = "diff --git a/d b/d\nnew file mode 100644\n--- /dev/null\n+++ b/d\n@@ -0,0 +1 @@\n+x\n"
    assert apply(tmp_path, patch)["failures"][0]["code"] == "file_exists"
    data = apply(tmp_path, "*** Begin Patch\n*** Delete File: d\n*** End Patch\n")
    assert data["failures"][0]["code"] == "file_not_found" and "directory" in data["failures"][0]["message"]


def test_a_patch_may_not_create_a_symlink(tmp_path):
    patch = "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc\n\\ No newline at end of file\n"
    assert apply(tmp_path, patch)["failures"][0]["code"] == "path_escape"
    assert not os.path.lexists(tmp_path / "l")


def test_binary_files_and_binary_patches_are_refused(tmp_path):
    make_tree(tmp_path, {"img.png": b"\x89PNG\x00\x01", "latin.txt": b"caf\xe9\n"})
    data = apply(tmp_path, unified("latin.txt", "@@ -1 +1 @@", "-caf\n+cafe\n"))
    assert data["failures"][0]["code"] == "binary_unsupported"
    assert apply(tmp_path, "diff --git a/img.png b/img.png\nBinary files a/img.png and b/img.png differ\n")[
        "failures"
    ][0]["code"] == ("binary_unsupported")
    git_binary = "diff --git a/img.png b/img.png\nindex 1..2 100644\nGIT binary patch\nliteral 5\nMcmZ?\n\nliteral 0\nHcmV?d00001\n\n"
    assert apply(tmp_path, git_binary)["failures"][0]["code"] == "binary_unsupported"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "please change the port",
        "*** Begin Patch\n*** End Patch\n",
        "*** Begin Patch\n*** Frobnicate File: x\n*** End Patch",
        "*** Begin Patch\n*** Update File: a.txt\n",
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,5 +1,5 @@\n a\n",
        "--- a/a.txt\n+++ b/a.txt\n@@ garbage @@\n-a\n+b\n",
        "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n+c\n",
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\nxa\n",
        '--- "a/unterminated\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n',
    ],
)
def test_malformed_patches_are_refused_with_a_structured_failure(tmp_path, text):
    make_tree(tmp_path, {"a.txt": "a\n"})
    before = snapshot(tmp_path)
    data = apply(tmp_path, text)
    assert not data["ok"]
    assert data["failures"][0]["code"] in ("malformed_patch", "path_escape")
    assert data["failures"][0]["message"]
    assert snapshot(tmp_path) == before


def test_body_longer_than_its_header_counts_is_malformed_not_truncated(tmp_path):
    make_tree(tmp_path, {"a.txt": "a\n"})
    data = apply(tmp_path, "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n+c\n")
    assert data["failures"][0]["code"] == "malformed_patch"
    assert "1 old and 1 new" in data["failures"][0]["message"]
