"""The public apply_patch conformance corpus, run through our command line.

Every case of `unified/`, `codex/` and `codex_extra/` must pass, codex scenarios judged
atomically (the runner's default). The corpus lives outside the repository: PATCH_CORPUS_DIR
names it, else `<repo>/../shared/patch_corpus` or `/work/shared/patch_corpus` is used. Where
none exists the test is skipped, except under REQUIRE_PATCH_CORPUS=1 (set by .ci/run), where a
missing corpus is a failure: CI always runs it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = [REPO.parent / "shared" / "patch_corpus", Path("/work/shared/patch_corpus")]
CORPUS = Path(
    os.environ.get("PATCH_CORPUS_DIR")
    or next((c for c in CANDIDATES if (c / "run_corpus.py").is_file()), CANDIDATES[0])
)
REQUIRED = os.environ.get("REQUIRE_PATCH_CORPUS") == "1"
EXPECTED_CASES = {"unified": 68, "codex": 23, "codex_extra": 9}  # codex/ has two scenarios numbered 020

pytestmark = pytest.mark.skipif(
    not REQUIRED and not (CORPUS / "run_corpus.py").is_file(),
    reason=f"patch corpus not found at {CORPUS} (set PATCH_CORPUS_DIR)",
)


def test_every_corpus_case_passes(tmp_path):
    results_file = tmp_path / "results.json"
    apply_cmd = f"{shlex.quote(sys.executable)} -m sandbox.patching apply --root {{root}} {{patch}}"
    # The runner's cwd is each case's sandbox, so the package is found through PYTHONPATH.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [
            sys.executable,
            str(CORPUS / "run_corpus.py"),
            "--apply-cmd",
            apply_cmd,
            "--json",
            str(results_file),
            *(str(CORPUS / folder) for folder in EXPECTED_CASES),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    results = json.loads(results_file.read_text())
    failed = [f"{r['name']}: {r['why']}" for r in results if not r["ok"]]
    assert not failed, "\n".join(failed) + "\n" + proc.stdout[-2000:]
    counts = {folder: sum(r["name"].startswith(folder + "/") for r in results) for folder in EXPECTED_CASES}
    assert counts == EXPECTED_CASES
    assert proc.returncode == 0, proc.stdout[-2000:]
