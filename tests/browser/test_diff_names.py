"""The checkpoint diff names files as they are, however git quotes them in the diff."""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import expect

from published_apps import checkpoints, revisions
from published_apps.models import Revision
from tests.browser.builder import open_builder

pytestmark = pytest.mark.browser

AWKWARD = ['say "hi".txt', "two\nlines.txt", "tab\there.txt", "back\\slash.txt", "café menu.txt"]

# What each file section says: [data-path, kind shown, path shown].
SECTIONS = """() => [...document.querySelectorAll('#diff-view .diff-file')].map((s) => [
    s.dataset.path,
    s.querySelector('.change-kind').textContent,
    s.querySelector('.diff-path').textContent,
])"""


def parse(page, diff: str):
    """parseDiff, the builder's own module, run in the page: [[path, from, kind, adds, dels, lines]]."""
    return page.evaluate(
        """async (diff) => {
            const { parseDiff } = await import('/static/builder/checkpoints.js');
            return parseDiff(diff).map((f) => [f.path, f.from, f.kind, f.adds, f.dels, f.lines.map((l) => l.text)]);
        }""",
        diff,
    )


def awkward_checkpoint(app, root):
    """A checkpoint whose run modified, renamed, deleted and added files with awkward names."""
    root.mkdir()
    for n, name in enumerate(AWKWARD):
        (root / name).write_bytes(f"file {n}\n".encode())
    first = revisions.snapshot(app=app, root=root, parent=None, source=Revision.Source.MANUAL)
    (root / AWKWARD[0]).write_bytes(b"changed\n")
    (root / AWKWARD[1]).rename(root / "renamed\n.txt")
    (root / AWKWARD[2]).unlink()
    (root / "new\r.txt").write_bytes(b"new\n")
    (root / AWKWARD[4]).write_bytes(b"file 4\nun caf\xc3\xa9\n")
    second = revisions.snapshot(app=app, root=root, parent=first, source=Revision.Source.MANUAL)
    revisions.set_draft(app, second)
    return checkpoints.create_checkpoint(app=app, revision=second, label="Awkward names")


def test_the_checkpoint_diff_names_files_whose_names_git_quotes(embedded_server, login, app, tmp_path):
    checkpoint = awkward_checkpoint(app, tmp_path / "src")
    assert '"a/two\\nlines.txt"' in revisions.diff_text(checkpoint.revision.parent, checkpoint.revision)
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    page.get_by_role("tab", name="Checkpoints").click()
    expect(page.locator("#checkpoint-list > .checkpoint").first).to_contain_text("Awkward names")
    expect(page.locator("#diff-view .diff-file")).to_have_count(5)
    sections = sorted(page.evaluate(SECTIONS))
    assert sections == sorted(
        [
            ['say "hi".txt', "changed", 'say "hi".txt'],
            ["renamed\n.txt", "renamed", "two\nlines.txt → renamed\n.txt"],
            ["tab\there.txt", "deleted", "tab\there.txt"],
            ["new\r.txt", "added", "new\r.txt"],
            ["café menu.txt", "changed", "café menu.txt"],
        ]
    )
    counts = page.locator('#diff-view .diff-file[data-path="café menu.txt"] .diff-count')
    expect(counts).to_have_text(["+1", "\u22120"])
    assert page.errors == []


def test_parse_diff_unquotes_the_names_real_git_writes(embedded_server, login, app, tmp_path):
    """git's own output, with its default quoting: non-ASCII as octal UTF-8 bytes, and an
    unquoted name holding a space ended with a tab on the ---/+++ lines."""
    work = tmp_path / "repo"
    work.mkdir()

    def git(*args) -> str:
        env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
        done = subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)
        return done.stdout.decode()

    names = [*AWKWARD, "plain space.txt"]
    git("init", "-q")
    for n, name in enumerate(names):
        (work / name).write_text(f"file {n}\nshared line one\nshared line two\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    (work / names[0]).write_text("file 0\nshared line one\nchanged\n")
    (work / names[1]).rename(work / "naïve\nrenamed.txt")
    (work / names[2]).unlink()
    (work / "emoji 🙂.txt").write_text("new\n")
    (work / names[4]).write_text("file 4\nshared line one\nshared line two\n-- an SQL comment\n")
    (work / names[5]).write_text("file 5\n")
    git("add", "-A")
    diff = git("diff", "--cached", "-M")
    assert '"a/caf\\303\\251 menu.txt"' in diff and "--- a/plain space.txt\t" in diff

    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    files = {path: (source, kind, adds, dels) for path, source, kind, adds, dels, _ in parse(page, diff)}
    assert files == {
        'say "hi".txt': ('say "hi".txt', "modified", 1, 1),
        "naïve\nrenamed.txt": ("two\nlines.txt", "renamed", 0, 0),
        "tab\there.txt": ("tab\there.txt", "deleted", 0, 3),
        "emoji 🙂.txt": ("emoji 🙂.txt", "added", 1, 0),
        "café menu.txt": ("café menu.txt", "modified", 1, 0),
        "plain space.txt": ("plain space.txt", "modified", 0, 2),
    }
    assert page.errors == []


def test_parse_diff_reads_headers_only_before_the_first_hunk(embedded_server, login, app):
    """Lines of a hunk that look like headers are lines of the file."""
    diff = (
        "diff --git a/q.sql b/q.sql\n"
        "--- a/q.sql\n"
        "+++ b/q.sql\n"
        "@@ -1,2 +1,2 @@\n"
        "--- old comment\n"
        "+++ new comment\n"
        " rename from x\n"
        'diff --git a/one side.txt "b/other\\\\side.txt"\n'
        "rename from one side.txt\n"
        'rename to "other\\\\side.txt"\n'
    )
    page = open_builder(login(embedded_server.url), embedded_server.url, app)
    assert parse(page, diff) == [
        [
            "q.sql",
            "q.sql",
            "modified",
            1,
            1,
            ["@@ -1,2 +1,2 @@", "--- old comment", "+++ new comment", " rename from x"],
        ],
        ["other\\side.txt", "one side.txt", "renamed", 0, 0, []],
    ]
    assert page.errors == []
