"""The patch engine frees replaced files off the caller's path: it unlinks them while it
still holds the descriptor it read them through, and closes that in the background."""

from __future__ import annotations

import os

import pytest

from sandbox.patching import apply_patch
from sandbox.patching.closer import Closer, closer
from tests.sandbox.patch_helpers import apply, make_tree, snapshot, unified

DELETE_B = (
    "diff --git a/b.txt b/b.txt\ndeleted file mode 100644\n--- a/b.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-b\n"
)


def open_under(root) -> dict[int, str]:
    """This process's descriptors of files under root: fd -> what /proc says it is."""
    root = os.path.realpath(root)
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the listing's own descriptor, closed by now
        if target.startswith(root + "/"):
            out[int(name)] = target
    return out


@pytest.fixture
def handed(monkeypatch):
    """Descriptors the engine hands to the closer, kept open here instead of closed."""
    fds: list[int] = []
    monkeypatch.setattr(closer, "close_later", fds.extend)
    yield fds
    for fd in fds:
        os.close(fd)


def test_a_replaced_or_deleted_file_is_unlinked_while_held_and_closed_after_the_result(tmp_path, handed):
    make_tree(tmp_path, {"a.txt": "a\n", "b.txt": "b\n"})
    data = apply(tmp_path, unified("a.txt", "@@ -1 +1 @@", "-a\n+A\n") + DELETE_B)
    assert data["ok"]
    assert (tmp_path / "a.txt").read_text() == "A\n" and not (tmp_path / "b.txt").exists()
    # The old files are gone from the tree but still open: their last close frees them.
    old = {os.pread(fd, 100, 0): os.fstat(fd).st_nlink for fd in handed}
    assert old == {b"a\n": 0, b"b\n": 0}
    assert sorted(os.readlink(f"/proc/self/fd/{fd}") for fd in handed) == [
        f"{os.path.realpath(tmp_path)}/a.txt (deleted)",
        f"{os.path.realpath(tmp_path)}/b.txt (deleted)",
    ]
    assert set(open_under(tmp_path)) == set(handed)  # nothing else is left open


def test_the_closer_closes_every_descriptor_it_is_handed(tmp_path):
    make_tree(tmp_path, {f"d{i}/f.txt": f"{i}\n" for i in range(20)})
    patch = "".join(unified(f"d{i}/f.txt", "@@ -1 +1 @@", f"-{i}\n+{i}!\n") for i in range(20))
    assert apply(tmp_path, patch)["ok"]
    assert closer.drain(timeout=30)
    assert open_under(tmp_path) == {}
    assert (tmp_path / "d7" / "f.txt").read_text() == "7!\n"


def test_a_refused_patch_gives_back_what_it_read_and_leaves_the_tree(tmp_path, handed):
    make_tree(tmp_path, {"a.txt": "a\n", "b.txt": "b\n"})
    before = snapshot(tmp_path)
    data = apply(
        tmp_path, unified("a.txt", "@@ -1 +1 @@", "-a\n+A\n") + unified("b.txt", "@@ -1 +1 @@", "-x\n+X\n")
    )
    assert not data["ok"]
    assert len(handed) == 2 and all(os.fstat(fd).st_nlink == 1 for fd in handed)
    assert snapshot(tmp_path) == before
    assert set(open_under(tmp_path)) == set(handed)


def test_an_error_mid_commit_rolls_back_and_gives_back_every_descriptor(tmp_path, handed, monkeypatch):
    make_tree(tmp_path, {"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n"})
    before = snapshot(tmp_path)
    real_rename = os.rename
    moved = []

    def failing_rename(src, dst, **dir_fds):
        moved.append(dst)
        if len(moved) == 2:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst, **dir_fds)

    monkeypatch.setattr(os, "rename", failing_rename)
    patch = "".join(
        unified(n, "@@ -1 +1 @@", f"-{n[0]}\n+{n[0].upper()}\n") for n in ("a.txt", "b.txt", "c.txt")
    )
    with pytest.raises(OSError):
        apply_patch(tmp_path, patch)
    monkeypatch.setattr(os, "rename", real_rename)
    assert snapshot(tmp_path) == before
    assert len(handed) == 3
    assert set(open_under(tmp_path)) == set(handed)


def test_a_patch_holds_at_most_its_share_of_descriptors(tmp_path, handed, monkeypatch):
    monkeypatch.setattr(closer, "hold_limit", 2)
    make_tree(tmp_path, {f"f{i}.txt": f"{i}\n" for i in range(5)})
    patch = "".join(unified(f"f{i}.txt", "@@ -1 +1 @@", f"-{i}\n+{i}!\n") for i in range(5))
    assert apply(tmp_path, patch)["ok"]
    assert len(handed) == 2  # the other three were closed as they were read, and freed at commit
    assert set(open_under(tmp_path)) == set(handed)
    assert [(tmp_path / f"f{i}.txt").read_text() for i in range(5)] == [f"{i}!\n" for i in range(5)]


def test_the_hold_limit_is_a_quarter_of_the_open_file_limit():
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    expected = min(1024, (soft if soft != resource.RLIM_INFINITY else 4096) // 4)
    assert Closer().hold_limit == expected


def test_drain_waits_for_the_background_threads(tmp_path):
    own = Closer()
    fds = [os.open(tmp_path, os.O_RDONLY) for _ in range(3 * Closer.CHUNK + 1)]
    own.close_later(list(fds))
    assert own.drain(timeout=30)
    assert len(own._threads) == min(Closer.THREADS, 4)  # four chunks, spread over the threads
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)
    assert own.drain(timeout=0)  # nothing pending: at once


def test_a_forked_child_closes_its_copies_of_queued_descriptors(tmp_path):
    own = Closer()
    (tmp_path / "f.txt").write_text("f\n")
    fd, busy = (os.open(tmp_path / "f.txt", os.O_RDONLY) for _ in range(2))
    own._chunks.append([fd])  # queued, and one being closed: as at a fork mid-way
    own._busy[0] = [busy]
    pid = os.fork()
    if pid == 0:  # the child: the hook closes its copy; the parent's stays open
        code = 1
        try:
            own.after_fork_in_child()
            code = sum(_is_open(n) for n in (fd, busy))
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _is_open(fd) and _is_open(busy)  # still open here
    os.close(fd)
    os.close(busy)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
