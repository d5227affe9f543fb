"""The patch engine applying patches: matching, line endings, file operations, parsing."""

from __future__ import annotations

import os
import stat

from sandbox.patching import detect_format, parse_patch
from sandbox.patching.model import ADD, DELETE, UPDATE
from tests.sandbox.patch_helpers import NUMBERS, apply, make_tree, unified

# -- success ---------------------------------------------------------------------


def test_unified_patch_modifies_the_file_and_reports_the_change(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS})
    patch = unified("n.txt", "@@ -4,3 +4,3 @@", " line 4\n-line 5\n+line five\n line 6\n")
    data = apply(tmp_path, patch)
    assert data["ok"], data
    assert (tmp_path / "n.txt").read_text() == NUMBERS.replace("line 5\n", "line five\n")
    assert data["format"] == "unified"
    assert data["changed_files"] == [
        {"path": "n.txt", "change": "modified", "from_path": None, "additions": 1, "deletions": 1}
    ]
    assert data["hunks"] == [{"path": "n.txt", "hunk": 1, "match": "exact", "offset": 0, "line": 4}]
    assert "n.txt" in data["summary"]


def test_hunk_lands_at_an_offset_and_says_so(tmp_path):
    make_tree(tmp_path, {"n.txt": "new top\nnew top 2\n" + NUMBERS})
    patch = unified("n.txt", "@@ -4,3 +4,3 @@", " line 4\n-line 5\n+line five\n line 6\n")
    data = apply(tmp_path, patch)
    assert data["hunks"][0]["match"] == "offset"
    assert data["hunks"][0]["offset"] == 2
    assert "line five" in (tmp_path / "n.txt").read_text()


def test_nearest_of_duplicate_contexts_wins(tmp_path):
    block = "a\nb\nc\n"
    make_tree(tmp_path, {"d.txt": block + "x\n" * 10 + block})
    patch = unified("d.txt", "@@ -13,3 +13,3 @@", " a\n-b\n+B\n c\n")
    data = apply(tmp_path, patch)
    assert data["ok"], data
    assert (tmp_path / "d.txt").read_text() == block + "x\n" * 10 + "a\nB\nc\n"


def test_ambiguous_context_is_refused(tmp_path):
    original = "a\nb\nc\n" + "x\n" * 3 + "a\nb\nc\n"
    make_tree(tmp_path, {"d.txt": original})
    # Stated line 4 is three lines from both copies (lines 1 and 7): no rule can choose.
    data = apply(tmp_path, unified("d.txt", "@@ -4,3 +4,3 @@", " a\n-b\n+B\n c\n"))
    assert not data["ok"]
    [fail] = data["failures"]
    assert fail["code"] == "ambiguous_context"
    assert fail["candidates"] == [1, 7]
    assert len(data["refresh_windows"]) == 2
    assert (tmp_path / "d.txt").read_text() == original


def test_crlf_file_stays_crlf(tmp_path):
    make_tree(tmp_path, {"w.txt": b"one\r\ntwo\r\nthree\r\n"})
    patch = unified("w.txt", "@@ -1,3 +1,3 @@", " one\r\n-two\r\n+TWO\r\n three\r\n")
    assert apply(tmp_path, patch)["ok"]
    assert (tmp_path / "w.txt").read_bytes() == b"one\r\nTWO\r\nthree\r\n"


def test_lf_patch_does_not_match_a_crlf_file(tmp_path):
    make_tree(tmp_path, {"w.txt": b"one\r\ntwo\r\nthree\r\n"})
    patch = unified("w.txt", "@@ -1,3 +1,3 @@", " one\n-two\n+TWO\n three\n")
    data = apply(tmp_path, patch)
    assert data["failures"][0]["code"] == "context_mismatch"
    assert "CRLF" in data["failures"][0]["message"]
    assert data["refresh_windows"][0]["line_endings"] == "crlf"


def test_codex_patch_keeps_the_targets_crlf(tmp_path):
    make_tree(tmp_path, {"w.txt": b"one\r\ntwo\r\nthree\r\n"})
    patch = "*** Begin Patch\n*** Update File: w.txt\n@@\n one\n-two\n+TWO\n+2b\n three\n*** End Patch\n"
    data = apply(tmp_path, patch)
    assert data["ok"] and data["format"] == "codex"
    assert (tmp_path / "w.txt").read_bytes() == b"one\r\nTWO\r\n2b\r\nthree\r\n"


def test_missing_final_newline_stays_missing_when_the_patch_leaves_the_end_alone(tmp_path):
    make_tree(tmp_path, {"n.txt": "a\nb\nc\nd\ne\nf\ng\nh"})
    patch = unified("n.txt", "@@ -1,4 +1,4 @@", " a\n-b\n+B\n c\n d\n")
    assert apply(tmp_path, patch)["ok"]
    assert (tmp_path / "n.txt").read_text() == "a\nB\nc\nd\ne\nf\ng\nh"


def test_no_newline_markers_decide_the_final_newline(tmp_path):
    make_tree(tmp_path, {"n.txt": "a\nb"})
    patch = unified("n.txt", "@@ -1,2 +1,2 @@", " a\n-b\n\\ No newline at end of file\n+b\n")
    assert apply(tmp_path, patch)["ok"]
    assert (tmp_path / "n.txt").read_text() == "a\nb\n"


def test_codex_update_inserts_with_the_first_line_ending_and_ends_with_a_newline(tmp_path):
    make_tree(tmp_path, {"m.txt": b"one\r\ntwo\nthree"})
    patch = "*** Begin Patch\n*** Update File: m.txt\n@@\n two\n-three\n+THREE\n*** End Patch"
    assert apply(tmp_path, patch)["ok"]
    assert (tmp_path / "m.txt").read_bytes() == b"one\r\ntwo\nTHREE\r\n"


def test_codex_match_kinds_report_whitespace_and_unicode_passes(tmp_path):
    make_tree(tmp_path, {"a.py": "x = 1   \ny = 2\n", "b.py": "# local \u2013 import\nz = 3\n"})
    patch = (
        "*** Begin Patch\n*** Update File: a.py\n@@\n-x = 1\n+x = 10\n"
        "*** Update File: b.py\n@@\n-# local - import\n+# local import\n*** End Patch\n"
    )
    data = apply(tmp_path, patch)
    assert [h["match"] for h in data["hunks"]] == ["whitespace", "unicode"]
    assert (tmp_path / "a.py").read_text() == "x = 10\ny = 2\n"
    assert (tmp_path / "b.py").read_text() == "# local import\nz = 3\n"


def test_codex_anchor_picks_a_later_duplicate(tmp_path):
    make_tree(tmp_path, {"c.py": "def a():\n    return 1\n\ndef b():\n    return 1\n"})
    patch = (
        "*** Begin Patch\n*** Update File: c.py\n@@ def b():\n-    return 1\n+    return 2\n*** End Patch\n"
    )
    assert apply(tmp_path, patch)["ok"]
    assert (tmp_path / "c.py").read_text() == "def a():\n    return 1\n\ndef b():\n    return 2\n"


def test_add_delete_rename_and_copy_are_reported_with_their_change_kind(tmp_path):
    make_tree(tmp_path, {"old.txt": "o\n", "gone.txt": "g\n", "src.txt": "s\n"})
    patch = (
        "diff --git a/old.txt b/new.txt\nsimilarity index 100%\nrename from old.txt\nrename to new.txt\n"
        "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-g\n"
        "diff --git a/dir/made.txt b/dir/made.txt\nnew file mode 100755\n--- /dev/null\n+++ b/dir/made.txt\n"
        "@@ -0,0 +1,2 @@\n+m\n+n\n"
        "diff --git a/src.txt b/dst.txt\ncopy from src.txt\ncopy to dst.txt\n"
    )
    data = apply(tmp_path, patch)
    assert data["ok"], data
    changes = {c["path"]: c for c in data["changed_files"]}
    assert changes["new.txt"]["change"] == "renamed" and changes["new.txt"]["from_path"] == "old.txt"
    assert changes["gone.txt"]["change"] == "deleted" and changes["gone.txt"]["deletions"] == 1
    assert changes["dir/made.txt"]["change"] == "added" and changes["dir/made.txt"]["additions"] == 2
    assert changes["dst.txt"]["change"] == "added"
    assert not (tmp_path / "old.txt").exists() and (tmp_path / "new.txt").read_text() == "o\n"
    assert not (tmp_path / "gone.txt").exists()
    assert os.stat(tmp_path / "dir/made.txt").st_mode & stat.S_IXUSR
    assert (tmp_path / "src.txt").read_text() == (tmp_path / "dst.txt").read_text() == "s\n"


def test_mode_change_sets_and_clears_the_executable_bit(tmp_path):
    make_tree(tmp_path, {"run.sh": "echo\n"})
    os.chmod(tmp_path / "run.sh", 0o644)
    assert apply(tmp_path, "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n")["ok"]
    assert stat.S_IMODE(os.stat(tmp_path / "run.sh").st_mode) == 0o755
    assert apply(tmp_path, "diff --git a/run.sh b/run.sh\nold mode 100755\nnew mode 100644\n")["ok"]
    assert stat.S_IMODE(os.stat(tmp_path / "run.sh").st_mode) == 0o644


def test_modified_file_keeps_its_mode(tmp_path):
    make_tree(tmp_path, {"tool": "a\n"})
    os.chmod(tmp_path / "tool", 0o750)
    assert apply(tmp_path, unified("tool", "@@ -1 +1 @@", "-a\n+b\n"))["ok"]
    assert stat.S_IMODE(os.stat(tmp_path / "tool").st_mode) == 0o750


def test_c_quoted_names_and_names_with_a_trailing_tab_are_read(tmp_path):
    make_tree(tmp_path, {"donn\u00e9es/x.txt": "a\n", "my notes.txt": "b\n"})
    patch = (
        'diff --git "a/donn\\303\\251es/x.txt" "b/donn\\303\\251es/x.txt"\n'
        '--- "a/donn\\303\\251es/x.txt"\n+++ "b/donn\\303\\251es/x.txt"\n@@ -1 +1 @@\n-a\n+A\n'
        "diff --git a/my notes.txt b/my notes.txt\n--- a/my notes.txt\t\n+++ b/my notes.txt\t\n"
        "@@ -1 +1 @@\n-b\n+B\n"
    )
    assert apply(tmp_path, patch)["ok"]
    assert (tmp_path / "donn\u00e9es/x.txt").read_text() == "A\n"
    assert (tmp_path / "my notes.txt").read_text() == "B\n"


def test_a_missing_a_b_prefix_is_explained(tmp_path):
    make_tree(tmp_path, {"src/app.js": "a\n"})
    data = apply(tmp_path, "--- src/app.js\n+++ src/app.js\n@@ -1 +1 @@\n-a\n+b\n")
    [fail] = data["failures"]
    assert fail["code"] == "file_not_found" and fail["path"] == "app.js"
    assert "`--- a/src/app.js`" in fail["message"]


def test_mbox_series_applies_its_patches_in_sequence(tmp_path):
    make_tree(tmp_path, {"f.txt": "one\ntwo\nthree\n"})
    first = unified("f.txt", "@@ -1,3 +1,3 @@", " one\n-two\n+TWO\n three\n")
    second = unified("f.txt", "@@ -1,3 +1,3 @@", " one\n TWO\n-three\n+THREE\n")
    mbox = (
        "From 1111 Mon Sep 17 00:00:00 2001\nSubject: [PATCH 1/2] a\n\n---\n f.txt | 2 +-\n\n"
        + first
        + "-- \n2.39.5\n\nFrom 2222 Mon Sep 17 00:00:00 2001\nSubject: [PATCH 2/2] b\n\n---\n"
        + second
        + "-- \n2.39.5\n"
    )
    data = apply(tmp_path, mbox)
    assert data["ok"], data
    assert (tmp_path / "f.txt").read_text() == "one\nTWO\nTHREE\n"
    assert data["changed_files"][0]["additions"] == 2


def test_zero_context_hunks_apply_by_their_line_numbers(tmp_path):
    make_tree(tmp_path, {"f.txt": NUMBERS})
    patch = unified("f.txt", "@@ -3 +3 @@", "-line 3\n+LINE 3\n") + "@@ -10,0 +11 @@\n+after 10\n"
    assert apply(tmp_path, patch)["ok"]
    text = (tmp_path / "f.txt").read_text()
    assert "LINE 3\n" in text and "line 10\nafter 10\nline 11\n" in text


def test_hunk_without_leading_context_at_line_one_is_anchored_to_the_start(tmp_path):
    make_tree(tmp_path, {"t.txt": "extra\na\nb\nc\nd\n"})
    data = apply(tmp_path, unified("t.txt", "@@ -1,3 +1,4 @@", "+NEW\n a\n b\n c\n"))
    assert data["failures"][0]["code"] == "context_mismatch"
    assert "start of the file" in data["failures"][0]["message"]


def test_hunks_may_come_out_of_order(tmp_path):
    make_tree(tmp_path, {"f.txt": NUMBERS})
    patch = unified("f.txt", "@@ -14,3 +14,3 @@", " line 14\n-line 15\n+LINE 15\n line 16\n")
    patch += "@@ -2,3 +2,3 @@\n line 2\n-line 3\n+LINE 3\n line 4\n"
    data = apply(tmp_path, patch)
    assert [h["line"] for h in data["hunks"]] == [14, 2]
    assert (tmp_path / "f.txt").read_text() == NUMBERS.replace("line 15\n", "LINE 15\n").replace(
        "line 3\n", "LINE 3\n"
    )


def test_many_failing_hunks_are_reported_within_a_bound(tmp_path):
    make_tree(tmp_path, {"f.txt": "".join(f"row {i}\n" for i in range(1000))})
    patch = unified("f.txt", "@@ -2,3 +2,3 @@", " row 1\n-gone 2\n+new 2\n row 3\n")
    for i in range(10, 1000, 10):
        patch += f"@@ -{i + 1},3 +{i + 1},3 @@\n row {i}\n-gone {i + 1}\n+new {i + 1}\n row {i + 2}\n"
    data = apply(tmp_path, patch)
    assert 8 < len(data["failures"]) <= 40
    assert len(data["refresh_windows"]) == 8  # full diagnostics for the first few only
    assert "not analysed further" in data["failures"][-1]["message"]
    assert "Checking stopped" in data["summary"]


def test_overlapping_hunks_are_refused(tmp_path):
    make_tree(tmp_path, {"f.txt": NUMBERS})
    patch = unified("f.txt", "@@ -3,3 +3,3 @@", " line 3\n-line 4\n+LINE 4\n line 5\n")
    patch += "@@ -5,3 +5,3 @@\n line 5\n-line 6\n+LINE 6\n line 7\n"
    data = apply(tmp_path, patch)
    assert not data["ok"] and data["failures"][0]["hunk"] == 2
    assert "overlaps" in data["failures"][0]["message"]
    assert (tmp_path / "f.txt").read_text() == NUMBERS


# -- parsing API -------------------------------------------------------------------


def test_both_formats_parse_into_the_same_model():
    uni = parse_patch(unified("a.txt", "@@ -1,2 +1,2 @@", " keep\n-old\n+new\n"))
    cod = parse_patch("*** Begin Patch\n*** Update File: a.txt\n@@\n keep\n-old\n+new\n*** End Patch")
    assert [(op.kind, op.path) for op in uni] == [(op.kind, op.path) for op in cod] == [(UPDATE, "a.txt")]
    assert [k for k, _ in uni[0].hunks[0].lines] == [k for k, _ in cod[0].hunks[0].lines] == [" ", "-", "+"]
    assert uni[0].hunks[0].old_lines == ["keep\n", "old\n"]
    assert cod[0].hunks[0].old_lines == ["keep", "old"]


def test_format_is_detected_from_the_text():
    assert detect_format("*** Begin Patch\n*** End Patch") == "codex"
    assert detect_format("  \n *** Begin Patch\n") == "codex"
    assert detect_format("diff --git a/x b/x\n") == "unified"
    assert detect_format("") == "unified"
    assert detect_format("```\n*** Begin Patch\n*** Delete File: a\n*** End Patch\n```") == "codex"
    assert detect_format("--- a/d.md\n+++ b/d.md\n@@ -1 +1 @@\n *** Begin Patch\n") == "unified"


def test_a_fenced_codex_patch_gets_the_codex_parsers_message(tmp_path):
    data = apply(tmp_path, "```\n*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch\n```\n")
    assert data["format"] == "codex"
    assert "first line of the patch must be '*** Begin Patch'" in data["failures"][0]["message"]


def test_diff_ruN_epoch_dates_mean_creation_and_deletion():
    ops = parse_patch(
        "--- a/born.txt\t1970-01-01 00:00:00.000000000 +0000\n+++ b/born.txt\t2024-01-02 03:04:05 +0000\n"
        "@@ -0,0 +1 @@\n+x\n"
        "--- a/gone.txt\t2024-01-02 03:04:05 +0100\n+++ b/gone.txt\t1970-01-01 01:00:00 +0100\n"
        "@@ -1 +0,0 @@\n-y\n"
    )
    assert [(op.kind, op.path) for op in ops] == [(ADD, "born.txt"), (DELETE, "gone.txt")]
