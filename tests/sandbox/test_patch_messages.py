"""The patch engine's failure messages: advice the model can follow, claims it can trust."""

from __future__ import annotations

import hashlib

from tests.sandbox.patch_helpers import NUMBERS, apply, make_tree, snapshot, unified


def test_lf_hunk_on_a_crlf_file_advises_crlf_lines_or_the_begin_patch_format(tmp_path):
    make_tree(tmp_path, {"w.txt": b"a\r\nb\r\nc\r\n"})
    data = apply(tmp_path, unified("w.txt", "@@ -1,3 +1,3 @@", " a\n-b\n+B\n c\n"))
    [fail] = data["failures"]
    assert fail["code"] == "context_mismatch"
    assert "matches except for its line endings" in fail["message"]
    assert "\\r\\n" in fail["message"] and "*** Begin Patch" in fail["message"]
    assert "Re-read the current lines" not in fail["message"]


def test_crlf_hunk_on_an_lf_file_advises_lf_lines_or_the_begin_patch_format(tmp_path):
    make_tree(tmp_path, {"w.txt": "a\nb\nc\n"})
    data = apply(tmp_path, unified("w.txt", "@@ -1,3 +1,3 @@", " a\r\n-b\r\n+B\r\n c\r\n"))
    message = data["failures"][0]["message"]
    assert "matches except for its line endings" in message and "LF" in message
    assert "*** Begin Patch" in message
    assert "Re-read the current lines" not in message


def test_a_hunk_that_differs_in_text_still_asks_for_a_reread(tmp_path):
    make_tree(tmp_path, {"w.txt": b"a\r\nb\r\nc\r\n"})
    data = apply(tmp_path, unified("w.txt", "@@ -1,3 +1,3 @@", " a\n-x\n+B\n c\n"))
    message = data["failures"][0]["message"]
    assert "matches except for its line endings" not in message
    assert "Re-read the current lines" in message


def test_deleting_a_directory_says_so_and_claims_nothing_applied(tmp_path):
    make_tree(tmp_path, {"sub/x.txt": "x\n"})
    before = snapshot(tmp_path)
    for patch in (
        "*** Begin Patch\n*** Delete File: sub\n*** End Patch\n",
        "diff --git a/sub b/sub\ndeleted file mode 100644\n--- a/sub\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n",
    ):
        data = apply(tmp_path, patch)
        [fail] = data["failures"]
        assert fail["code"] == "file_not_found"
        assert "is a directory" in fail["message"]
        assert "already" not in fail["message"] and fail["already_applied"] is False
        assert "already applied" not in data["summary"]
    assert snapshot(tmp_path) == before


def test_deleting_a_missing_file_says_it_does_not_exist(tmp_path):
    for patch in (
        "*** Begin Patch\n*** Delete File: nope.txt\n*** End Patch\n",
        "diff --git a/nope.txt b/nope.txt\ndeleted file mode 100644\n--- a/nope.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n",
    ):
        data = apply(tmp_path, patch)
        [fail] = data["failures"]
        assert "does not exist" in fail["message"]
        assert "already" not in fail["message"] and fail["already_applied"] is False
        assert "already applied" not in data["summary"]


def test_deleting_a_file_the_same_patch_already_deleted_is_flagged_already_applied(tmp_path):
    make_tree(tmp_path, {"a.txt": "a\n"})
    data = apply(tmp_path, "*** Begin Patch\n*** Delete File: a.txt\n*** Delete File: a.txt\n*** End Patch\n")
    [fail] = data["failures"]
    assert fail["already_applied"] is True
    assert "earlier part of this patch" in fail["message"]
    assert (tmp_path / "a.txt").exists()


def test_an_expected_sha256_that_is_not_a_digest_is_not_called_a_change(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS})
    patch = unified("n.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2\n+LINE 2\n line 3\n")
    data = apply(tmp_path, patch, expected_sha256={"n.txt": "abc"})
    [fail] = data["failures"]
    assert "changed since it was read" not in fail["message"]
    assert "not a sha256 digest" in fail["message"]
    assert fail["code"] == "malformed_patch"  # a bad request, not evidence that the file changed
    assert fail["current_sha256"] == hashlib.sha256(NUMBERS.encode()).hexdigest()
