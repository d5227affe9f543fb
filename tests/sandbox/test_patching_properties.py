"""Property tests for the patch engine.

* Random edits of random text files, diffed by real `git diff --no-index` (LF, CRLF and
  no-final-newline variants, 0-3 context lines), apply to exactly the edited file.
* The same for the `*** Begin Patch` format, with patches built from difflib opcodes.
* Any patch text, random or a mutated real patch, gives a structured result, never an
  exception, and a refused patch leaves the tree byte-for-byte unchanged.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sandbox.patching import apply_patch

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A small alphabet makes repeated lines likely, which is what stresses context matching.
WORDS = st.sampled_from(["alpha", "beta", "gamma", "}", "", "  return x;", "# note", "x = 1", "\t\tindent"])


@st.composite
def edited_text(draw, *, unique: bool = False):
    """(before lines, after lines) where `after` is `before` with random line edits."""
    before = draw(st.lists(WORDS, min_size=0, max_size=40))
    if unique:
        before = [f"{i}: {w}" for i, w in enumerate(before)]
    after = list(before)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        pos = draw(st.integers(min_value=0, max_value=len(after)))
        word = draw(WORDS)
        new_line = f"new {draw(st.integers(0, 10**6))}: {word}" if unique else word
        if op == "insert":
            after.insert(pos, new_line)
        elif after and pos < len(after):
            if op == "delete":
                del after[pos]
            else:
                after[pos] = new_line + " (edited)"
    return before, after


def render(lines: list[str], eol: str, final_newline: bool) -> bytes:
    if not lines:
        return b""
    text = eol.join(lines) + (eol if final_newline else "")
    return text.encode()


def snapshot(root: Path) -> dict:
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            st_ = full.lstat()
            snap[str(full.relative_to(root))] = (st_.st_mode, None if full.is_dir() else full.read_bytes())
    return snap


def git_diff(work: Path, before: bytes, after: bytes, context: int) -> str:
    (work / "a").mkdir()
    (work / "b").mkdir()
    (work / "a" / "f.txt").write_bytes(before)
    (work / "b" / "f.txt").write_bytes(after)
    proc = subprocess.run(
        ["git", "diff", "--no-index", "--no-prefix", "--no-color", f"-U{context}", "a/f.txt", "b/f.txt"],
        cwd=work,
        capture_output=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(work)},
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout.decode()


@SETTINGS
@given(
    edited_text(),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.booleans(),
    st.integers(min_value=0, max_value=3),
)
def test_git_diff_of_a_random_edit_applies_to_the_edited_file(edit, eol, before_nl, after_nl, context):
    before_lines, after_lines = edit
    before, after = render(before_lines, eol, before_nl), render(after_lines, eol, after_nl)
    assume(before != after)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        patch = git_diff(work, before, after, context)
        root = work / "root"
        root.mkdir()
        (root / "f.txt").write_bytes(before)
        result = apply_patch(root, patch)
        assert result.ok, result.as_dict()
        assert (root / "f.txt").read_bytes() == after


def codex_patch(before: list[str], after: list[str], context: int) -> str:
    out = ["*** Begin Patch", "*** Update File: f.txt"]
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        out.append("@@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + line for line in before[i1:i2])
            if tag in ("delete", "replace"):
                out.extend("-" + line for line in before[i1:i2])
            if tag in ("insert", "replace"):
                out.extend("+" + line for line in after[j1:j2])
        if group[-1][2] == len(before) and before:
            out.append("*** End of File")
    out.append("*** End Patch")
    return "\n".join(out) + "\n"


@SETTINGS
@given(
    edited_text(unique=True),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.integers(min_value=1, max_value=3),
)
def test_codex_patch_of_a_random_edit_applies_to_the_edited_file(edit, eol, before_nl, context):
    before_lines, after_lines = edit
    assume(before_lines != after_lines and before_lines)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "f.txt").write_bytes(render(before_lines, eol, before_nl))
        result = apply_patch(root, codex_patch(before_lines, after_lines, context))
        assert result.ok, result.as_dict()
        assert result.as_dict()["format"] == "codex"
        # SPEC §1.3: new lines take the file's first line ending (LF when the file has none),
        # and an updated file always ends with one.
        first_eol = eol if len(before_lines) > 1 or before_nl else "\n"
        assert (root / "f.txt").read_bytes() == render(after_lines, first_eol, True)


MUTATIONS = st.sampled_from(["drop", "duplicate", "swap", "flip_char", "truncate", "prefix", "splice"])


def mutate(text: str, how: str, i: int, j: int) -> str:
    lines = text.split("\n")
    i, j = i % max(len(lines), 1), j % max(len(lines), 1)
    if how == "drop":
        del lines[i]
    elif how == "duplicate":
        lines.insert(i, lines[i])
    elif how == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif how == "flip_char" and lines[i]:
        k = j % len(lines[i])
        lines[i] = lines[i][:k] + ("X" if lines[i][k] != "X" else "Y") + lines[i][k + 1 :]
    elif how == "truncate":
        return text[: (i * 7 + j) % (len(text) + 1)]
    elif how == "prefix":
        lines[i] = "+-@\\ *"[j % 6] + lines[i]
    elif how == "splice":
        lines[i] = "*** Update File: ../f.txt" if j % 2 else "@@ -0,0 +1,99999 @@"
    return "\n".join(lines)


@SETTINGS
@given(edited_text(), st.integers(0, 3), MUTATIONS, st.integers(0, 200), st.integers(0, 200), st.booleans())
def test_a_mutated_patch_is_applied_or_refused_cleanly(edit, context, how, i, j, as_codex):
    before_lines, after_lines = edit
    before, after = render(before_lines, "\n", True), render(after_lines, "\n", True)
    assume(before != after)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if as_codex:
            patch = codex_patch(before_lines, after_lines, max(context, 1))
        else:
            patch = git_diff(work, before, after, context)
        root = work / "root"
        root.mkdir()
        (root / "f.txt").write_bytes(before)
        (root / "other.txt").write_bytes(b"untouched\n")
        check_structured_result(root, mutate(patch, how, i, j))


@SETTINGS
@given(
    st.text(max_size=300),
    st.sampled_from(["", "*** Begin Patch\n", "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n"]),
)
def test_random_text_is_applied_or_refused_cleanly(text, head):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "f.txt").write_bytes(b"one\ntwo\n")
        check_structured_result(root, head + text)


def check_structured_result(root: Path, patch: str) -> None:
    before = snapshot(root)
    result = apply_patch(root, patch)
    data = result.as_dict()
    assert data["ok"] is result.ok
    assert isinstance(data["summary"], str) and data["summary"]
    if result.ok:
        assert data["revision_token"]
        for change in data["changed_files"]:
            assert change["change"] in ("added", "modified", "deleted", "renamed")
    else:
        assert data["failures"]
        for failure in data["failures"]:
            assert failure["code"] in {
                "context_mismatch",
                "ambiguous_context",
                "file_exists",
                "file_not_found",
                "path_escape",
                "binary_unsupported",
                "malformed_patch",
            }
            assert failure["message"]
        assert snapshot(root) == before
