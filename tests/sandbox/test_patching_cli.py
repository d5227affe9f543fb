"""The patch engine's command line: what its help promises, and a closed output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.patching.__main__ import main

REPO = Path(__file__).resolve().parents[2]
PATCH = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "f.txt").write_text("a\nb\n")
    (tmp_path / "p.diff").write_text(PATCH)
    return tmp_path


def help_of(capsys, *argv) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["apply"]], ids=["top-level", "apply"])
def test_the_help_states_every_exit_status(capsys, argv):
    help_text = help_of(capsys, *argv)
    assert "exit status:\n" in help_text
    for line in (
        "  0    applied (with --dry-run: it would apply; nothing written); the result JSON on stdout\n",
        "  1    refused, nothing changed; the failure JSON (ok: false, failures, summary) on stdout.\n",
        "  2    usage error or unreadable input; the reason on stderr, nothing on stdout: a bad option,\n",
        "  141  stdout closed before the JSON was written (e.g. | head); nothing on stderr",
    ):
        assert line in help_text


def test_a_checks_file_that_is_not_a_json_object_is_refused_as_unreadable_input(workspace, capsys):
    (workspace / "checks.json").write_text("[1, 2]")
    status = main(
        [
            "apply",
            "--root",
            str(workspace / "root"),
            "--checks",
            str(workspace / "checks.json"),
            str(workspace / "p.diff"),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.startswith("error: --checks ") and "must hold a JSON object of checks" in err
    assert err.count("\n") == 1
    assert (workspace / "root" / "f.txt").read_text() == "a\nb\n"


def test_a_dry_run_that_would_apply_exits_0_and_writes_nothing(workspace, capsys):
    status = main(["apply", "--root", str(workspace / "root"), "--dry-run", str(workspace / "p.diff")])
    assert status == 0 and json.loads(capsys.readouterr().out)["ok"] is True
    assert (workspace / "root" / "f.txt").read_text() == "a\nb\n"


@pytest.mark.parametrize("digest", ["0" * 64, "zz"], ids=["stale", "not-a-digest"])
def test_an_expected_sha256_that_does_not_match_is_a_refusal_with_its_failure_json(workspace, capsys, digest):
    status = main(
        [
            "apply",
            "--root",
            str(workspace / "root"),
            "--expected-sha256",
            f"f.txt={digest}",
            str(workspace / "p.diff"),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert status == 1 and result["ok"] is False and result["failures"][0]["path"] == "f.txt"
    assert (workspace / "root" / "f.txt").read_text() == "a\nb\n"


def test_a_closed_output_ends_quietly_with_status_141(workspace):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONUNBUFFERED", None)  # block-buffered, as in a shell pipeline
    read_end, write_end = os.pipe()
    os.close(read_end)  # `python -m sandbox.patching apply … | true`
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "sandbox.patching",
                "apply",
                "--root",
                str(workspace / "root"),
                "--dry-run",
            ]
            + [str(workspace / "p.diff")],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == b""
    assert proc.returncode == 141
