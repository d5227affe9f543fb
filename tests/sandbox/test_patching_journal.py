"""The commit's journal: temporary files written on threads when creating files is slow,
with the same result, and every one of them rolled back when any step fails."""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

import pytest

from sandbox.patching import apply_patch, journal
from sandbox.patching.journal import Journal, _by_directory
from tests.sandbox.patch_helpers import apply, make_tree, snapshot, unified

DIRS = [f"pkg{d}" for d in range(6)]
FILES = {f"{d}/m{i}.txt": f"{d} {i}\n" for d in DIRS for i in range(5)}
PATCH = "".join(unified(rel, "@@ -1 +1 @@", f"-{text}+{text[:-1]} changed\n") for rel, text in FILES.items())
AFTER = {rel: f"{text[:-1]} changed\n" for rel, text in FILES.items()}


@pytest.fixture
def creators(monkeypatch):
    """rel -> the thread that created its temporary file."""
    seen: dict[str, int] = {}
    real = Journal._write_job

    def write_job(self, job, temps):
        seen[job[0]] = threading.get_ident()
        return real(self, job, temps)

    monkeypatch.setattr(Journal, "_write_job", write_job)
    return seen


def read_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_slow_creation_spreads_whole_directories_over_threads(tmp_path, monkeypatch, creators):
    monkeypatch.setattr(journal, "SLOW_CREATE_S", 0.0)  # every creation counts as slow
    monkeypatch.setattr(journal, "WAYS", 3)
    make_tree(tmp_path, FILES)
    data = apply(tmp_path, PATCH)
    assert data["ok"] and [c["path"] for c in data["changed_files"]] == list(FILES)
    assert read_tree(tmp_path) == AFTER  # no temporary file is left behind
    assert len(set(creators.values())) == 3
    probed = list(FILES)[: journal.PROBE]
    assert {creators[rel] for rel in probed} == {threading.get_ident()}
    for d in DIRS:  # a directory's files after the probe come from one thread
        assert len({creators[rel] for rel in FILES if rel.startswith(d) and rel not in probed}) <= 1


def test_cheap_creation_stays_on_the_callers_thread(tmp_path, monkeypatch, creators):
    monkeypatch.setattr(journal, "SLOW_CREATE_S", 60.0)
    monkeypatch.setattr(journal, "WAYS", 3)
    make_tree(tmp_path, FILES)
    assert apply(tmp_path, PATCH)["ok"]
    assert set(creators.values()) == {threading.get_ident()}
    assert read_tree(tmp_path) == AFTER


def test_a_failure_on_a_writer_thread_rolls_back_every_file(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "SLOW_CREATE_S", 0.0)
    monkeypatch.setattr(journal, "WAYS", 3)
    make_tree(tmp_path, FILES)
    before = snapshot(tmp_path)
    real = Journal._create
    main = threading.get_ident()
    failed = []

    def create(self, name, entry, dir_fd):
        if threading.get_ident() != main and not failed:
            failed.append(name)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, name, entry, dir_fd)

    monkeypatch.setattr(Journal, "_create", create)
    with pytest.raises(OSError) as err:
        apply_patch(tmp_path, PATCH)
    assert err.value.errno == errno.ENOSPC and failed
    assert snapshot(tmp_path) == before  # every temporary file is gone, every file as it was
    assert [t for t in threading.enumerate() if t.name == "patch-writer"] == []


def test_shares_keep_directories_whole_and_balance_their_sizes():
    jobs = (
        [("a", "", None, 10)] * 5
        + [("b", "", None, 11)] * 3
        + [("c", "", None, 12)] * 2
        + [("d", "", None, 13)]
    )
    shares = _by_directory(jobs, 2)
    assert sorted(len(s) for s in shares) == [5, 6]
    for share in shares:
        for fd in {job[3] for job in share}:
            assert sum(job[3] == fd for job in share) == sum(job[3] == fd for job in jobs)
    assert _by_directory(jobs[:5], 4) == [jobs[:5]]  # one directory: one share, however many threads


def test_an_interrupt_while_waiting_for_the_writers_still_rolls_back_all_they_wrote(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "SLOW_CREATE_S", 0.0)
    monkeypatch.setattr(journal, "WAYS", 2)
    make_tree(tmp_path, FILES)
    before = snapshot(tmp_path)
    real_create, real_join = Journal._create, threading.Thread.join
    main = threading.get_ident()
    interrupted = []

    def slow_create(self, name, entry, dir_fd):
        if threading.get_ident() != main:
            time.sleep(0.02)  # the writer is still at work when the interrupt comes
        return real_create(self, name, entry, dir_fd)

    def join(thread, timeout=None):
        if thread.name == "patch-writer" and not interrupted:
            interrupted.append(thread)
            raise KeyboardInterrupt
        return real_join(thread, timeout)

    monkeypatch.setattr(Journal, "_create", slow_create)
    monkeypatch.setattr(threading.Thread, "join", join)
    with pytest.raises(KeyboardInterrupt):
        apply_patch(tmp_path, PATCH)
    assert interrupted and not interrupted[0].is_alive()
    assert snapshot(tmp_path) == before
