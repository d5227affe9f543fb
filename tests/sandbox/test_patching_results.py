"""The patch engine's preconditions, revision token, verification plan and command line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from sandbox import manifest
from tests.sandbox.patch_helpers import NUMBERS, REPO, apply, make_tree, snapshot, unified

# -- preconditions, token, plan -------------------------------------------------------


def test_expected_sha256_mismatch_is_refused_with_the_current_hash(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS})
    patch = unified("n.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2\n+LINE 2\n line 3\n")
    stale = hashlib.sha256(b"older text").hexdigest()
    data = apply(tmp_path, patch, expected_sha256={"n.txt": stale})
    [fail] = data["failures"]
    assert fail["code"] == "context_mismatch" and fail["hunk"] is None
    assert fail["current_sha256"] == hashlib.sha256(NUMBERS.encode()).hexdigest()
    assert "changed since it was read" in fail["message"]
    assert (tmp_path / "n.txt").read_text() == NUMBERS


def test_expected_sha256_that_matches_lets_the_patch_apply(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS})
    patch = unified("n.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2\n+LINE 2\n line 3\n")
    current = hashlib.sha256(NUMBERS.encode()).hexdigest()
    assert apply(tmp_path, patch, expected_sha256={"n.txt": current.upper()})["ok"]


def test_revision_token_equals_the_tree_hash_of_a_scan(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS, "other/x.js": "x\n"})
    cache = manifest.HashCache()
    manifest.scan(tmp_path, cache)
    data = apply(
        tmp_path,
        unified("n.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2\n+LINE 2\n line 3\n"),
        hash_cache=cache,
    )
    assert data["revision_token"] == manifest.tree_hash(manifest.scan(tmp_path))


def test_files_a_patch_wrote_are_not_read_again_for_the_token_or_the_next_scan(tmp_path, monkeypatch):
    make_tree(tmp_path, {"n.txt": NUMBERS, "other/x.js": "x\n"})
    cache = manifest.HashCache()
    manifest.scan(tmp_path, cache)
    hashed = []
    real_digest = hashlib.file_digest
    monkeypatch.setattr(
        hashlib, "file_digest", lambda fh, name: hashed.append(fh.name) or real_digest(fh, name)
    )
    patch = unified("n.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2\n+LINE 2\n line 3\n")
    data = apply(tmp_path, patch, hash_cache=cache)
    # The workspace's cache knows the new file from memory, so its next scan reads nothing.
    assert manifest.tree_hash(manifest.scan(tmp_path, cache)) == data["revision_token"]
    assert hashed == []
    monkeypatch.setattr(hashlib, "file_digest", real_digest)
    assert data["revision_token"] == manifest.tree_hash(manifest.scan(tmp_path))


def test_dry_run_writes_nothing_and_predicts_the_revision_token(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS, "gone.txt": "g\n"})
    before = snapshot(tmp_path)
    patch = unified("n.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2\n+LINE 2\n line 3\n") + (
        "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-g\n"
    )
    dry = apply(tmp_path, patch, dry_run=True)
    assert dry["ok"] and dry["dry_run"] is True
    assert snapshot(tmp_path) == before
    real = apply(tmp_path, patch)
    assert real["revision_token"] == dry["revision_token"]


def test_verification_plan_lists_the_declared_checks_the_change_touches(tmp_path):
    make_tree(tmp_path, {"app.js": "a\n", "src/lib/u.js": "u\n", "style.css": "s\n"})
    checks = {
        "syntax": {"argv": ["node", "--check", "app.js"], "paths": ["*.js"]},
        "css": {"argv": ["true"], "paths": ["*.css"]},
        "src": {"argv": ["true"], "paths": ["src/**"]},
        "always": {"argv": ["true"]},
    }
    patch = unified("app.js", "@@ -1 +1 @@", "-a\n+b\n") + unified("src/lib/u.js", "@@ -1 +1 @@", "-u\n+v\n")
    data = apply(tmp_path, patch, checks=checks)
    assert data["verification_plan"] == [
        {"check": "syntax", "paths": ["app.js", "src/lib/u.js"]},
        {"check": "src", "paths": ["src/lib/u.js"]},
        {"check": "always", "paths": ["app.js", "src/lib/u.js"]},
    ]


def test_renamed_files_count_both_names_for_the_plan(tmp_path):
    make_tree(tmp_path, {"a.css": "x\n"})
    data = apply(
        tmp_path,
        "diff --git a/a.css b/b.txt\nrename from a.css\nrename to b.txt\n",
        checks={"css": {"paths": ["*.css"]}},
    )
    assert data["verification_plan"] == [{"check": "css", "paths": ["a.css"]}]


# -- command line --------------------------------------------------------------------


def run_cli(*args, stdin: bytes | None = None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "sandbox.patching", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
    )


def test_cli_exit_codes_follow_the_outcome(tmp_path):
    make_tree(tmp_path, {"n.txt": NUMBERS})
    good = tmp_path.parent / f"{tmp_path.name}-good.diff"
    good.write_text(unified("n.txt", "@@ -1,3 +1,3 @@", " line 1\n-line 2\n+LINE 2\n line 3\n"))
    proc = run_cli("apply", "--root", str(tmp_path), str(good))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True

    proc = run_cli("apply", "--root", str(tmp_path), str(good))  # now stale
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["failures"][0]["code"] in ("context_mismatch",)

    proc = run_cli("apply", "--root", str(tmp_path), "-", stdin=b"\xff\xfe not utf-8")
    assert proc.returncode == 1 and json.loads(proc.stdout)["failures"][0]["code"] == "malformed_patch"

    assert run_cli("apply", str(good)).returncode == 2
    assert run_cli("apply", "--root", str(tmp_path / "nope"), str(good)).returncode == 2
    assert run_cli("apply", "--root", str(tmp_path), str(tmp_path / "missing.diff")).returncode == 2
    assert run_cli("frobnicate").returncode == 2
    helped = run_cli("--help")
    assert helped.returncode == 0 and b"apply" in helped.stdout


def test_cli_does_not_import_django(tmp_path):
    code = "import runpy, sys; sys.argv=['x','--help']\ntry:\n runpy.run_module('sandbox.patching', run_name='__main__')\nexcept SystemExit: pass\nprint('django' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=60)
    assert proc.stdout.strip().endswith(b"False"), proc.stdout + proc.stderr


def test_the_verification_plan_matches_checks_to_changed_paths():
    from sandbox.patching.result import verification_plan

    checks = {
        "syntax": {"argv": ["node", "--check", "app.js"], "paths": ["*.js"]},
        "html": {"argv": ["true"], "paths": ["pages/*.html"]},
        "always": {"argv": ["true"]},
    }
    assert verification_plan(checks, ["src/deep/a.js"]) == [
        {"check": "syntax", "paths": ["src/deep/a.js"]},
        {"check": "always", "paths": ["src/deep/a.js"]},
    ]
    assert [p["check"] for p in verification_plan(checks, ["pages/x.html", "style.css"])] == [
        "html",
        "always",
    ]
    assert [p["check"] for p in verification_plan(checks, ["index.html"])] == ["always"]
    assert verification_plan(checks, []) == [] and verification_plan(None, ["a.js"]) == []
