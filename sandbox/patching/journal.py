"""Writing a patch's changes, all or nothing.

`Journal` records each step of a commit (a temporary file created, a file replaced or
unlinked, a directory made or removed) so that `rollback` can undo them in reverse
order when a later step fails. New content goes to a temporary file beside its target
and is renamed into place.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.patching.workspace import Entry

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_temp_ids = itertools.count()
# `Journal.write_temps`: files created before deciding, the per-file time above which
# the rest go on threads, and how many threads at most (one per processor, up to 4).
PROBE = 8
SLOW_CREATE_S = 40e-6
WAYS = max(1, min(4, os.cpu_count() or 1))


class Journal:
    """What commit did so far, undone in reverse order if a later step fails.

    New content goes through its directory's file descriptor, opened once per directory:
    each temporary file is created, renamed and its old file unlinked by name within
    that directory instead of resolving the whole path again for every system call.
    Directories are opened with O_NOFOLLOW, so one swapped for a link after the patch
    was checked is refused rather than written through.
    """

    def __init__(self, root: str):
        self.root = root
        self.undo: list[tuple] = []
        self.keys: dict[str, tuple[int, int, int]] = {}  # rel -> (size, mtime_ns, inode) of its temp
        self._dirs: set[str] = set()
        self._fds: dict[str, int] = {}  # relative directory ("" = root) -> open descriptor
        self._pid = os.getpid()

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def _dir_fd(self, parent: str) -> int:
        fd = self._fds.get(parent)
        if fd is None:
            path = self._abs(parent) if parent else self.root
            self._makedirs(path)
            flags = os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC | (_O_NOFOLLOW if parent else 0)
            fd = self._fds[parent] = os.open(path, flags)
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def write_temps(self, items: list[tuple[str, Entry]]) -> dict[str, str]:
        """A temporary file beside each target, holding its new content: rel -> its name.

        Creating a file can cost far more than writing it. On ext4 without a journal each
        new inode skips every recently deleted one in its group: 0.1-0.6 ms per file on a
        disk that has just freed many files, against 15 us on tmpfs. That is processor
        time in the kernel, which threads can share; a directory's creations are
        serialised by its lock, so threads take whole directories. When the first `PROBE` files show that
        creating is slow, the other directories are spread over up to `WAYS` threads,
        this one included. Where creating is cheap, handing files to threads would cost
        more than it saves, and everything stays on this thread.
        """
        jobs = []
        for rel, entry in items:  # directories first, on this thread: the journal undoes them in order
            parent, _, name = rel.rpartition("/")
            jobs.append((rel, name, entry, self._dir_fd(parent)))
        temps: dict[str, str] = {}
        started = time.perf_counter()
        for job in jobs[:PROBE]:
            self._write_job(job, temps)
        rest = jobs[PROBE:]
        slow = time.perf_counter() - started > SLOW_CREATE_S * PROBE
        shares = _by_directory(rest, WAYS) if rest and slow else [rest]
        if len(shares) == 1:
            for job in rest:
                self._write_job(job, temps)
        else:
            self._write_shares(shares, temps)
        return temps

    def _write_job(self, job: tuple, temps: dict[str, str]) -> None:
        rel, name, entry, dir_fd = job
        temps[rel], self.keys[rel] = self._create(name, entry, dir_fd)

    def _write_shares(self, shares: list[list[tuple]], temps: dict[str, str]) -> None:
        """Each share on its own thread, the first on this one. Every temporary file any of
        them created is in `undo` (a list append is atomic), so a failure anywhere rolls
        back all of them; the first error is raised once every thread has stopped."""
        errors: list[BaseException] = []

        def write(share: list[tuple]) -> None:
            try:
                for job in share:
                    if errors:
                        return  # another share failed: the commit is rolled back anyway
                    self._write_job(job, temps)
            except BaseException as err:  # handed to the caller's thread below
                errors.append(err)

        threads = [threading.Thread(target=write, args=(share,), name="patch-writer") for share in shares[1:]]
        for thread in threads:
            thread.start()
        write(shares[0])
        for thread in threads:
            # Even an interrupt waits for the writers: one still creating files after the
            # rollback had run would leave them behind. It stops them at their next file.
            while thread.is_alive():
                try:
                    thread.join()
                except BaseException as err:
                    errors.append(err)
        if errors:
            raise errors[0]

    def _create(self, name: str, entry: Entry, dir_fd: int | None) -> tuple[str, tuple[int, int, int]]:
        """A new temporary file beside `name` (in `dir_fd`, or beside the path `name`
        without one) holding `entry`: its name and stat key."""
        # O_EXCL with a per-process counter: mkstemp's random names cost more than the write.
        head, sep, tail = name.rpartition("/")
        while True:
            tmp = f"{head}{sep}.{tail}.{self._pid}.{next(_temp_ids)}.patch-tmp"
            try:
                fd = os.open(
                    tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, entry.mode, dir_fd=dir_fd
                )
            except FileExistsError:
                continue
            self.undo.append(("temp", tmp, dir_fd))
            try:
                _write_pieces(fd, entry.pieces)
                if entry.mode & _umask():
                    os.fchmod(fd, entry.mode)  # the umask took bits away at creation
                st = os.fstat(fd)
            finally:
                os.close(fd)
            return tmp, (st.st_size, st.st_mtime_ns, st.st_ino)

    def _makedirs(self, directory: str) -> None:
        if directory in self._dirs:
            return
        missing = []
        while not os.path.isdir(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        for d in reversed(missing):
            os.mkdir(d)
            self.undo.append(("mkdir", d))
        self._dirs.update(missing)
        self._dirs.add(directory)

    def unlink(self, rel: str, before: Entry) -> None:
        os.unlink(self._abs(rel))
        self.undo.append(("unlinked", rel, before))

    def replace(self, tmp: str, rel: str, before: Entry | None) -> None:
        parent, _, name = rel.rpartition("/")
        dir_fd = self._fds[parent]
        if before is not None:
            # Unlink, then rename into the free name. Renaming over an existing file makes
            # ext4 (auto_da_alloc) start writeback of the new data at once: 2.5-4x slower
            # here. The journal holds `before` in memory, so a failure still rolls back.
            os.unlink(name, dir_fd=dir_fd)
            self.undo.append(("replaced", rel, before))
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        self.undo.append(("replaced", rel, before))

    def prune_dirs(self, rel: str) -> None:
        """Remove directories a deletion left empty, as git does (never the root)."""
        directory = os.path.dirname(self._abs(rel))
        root = os.path.abspath(self.root)
        while os.path.abspath(directory) != root:
            try:
                os.rmdir(directory)
            except OSError:
                return
            self.undo.append(("rmdir", directory))
            directory = os.path.dirname(directory)

    def rollback(self) -> None:
        for action in reversed(self.undo):
            try:
                kind = action[0]
                if kind == "temp":
                    try:
                        os.unlink(action[1], dir_fd=action[2])
                    except FileNotFoundError:
                        pass  # already renamed into place; its "replaced" entry undoes that
                elif kind == "mkdir":
                    os.rmdir(action[1])
                elif kind == "rmdir":
                    os.mkdir(action[1])
                elif kind in ("unlinked", "replaced"):
                    rel, before = action[1], action[2]
                    if before is None:
                        os.unlink(self._abs(rel))
                    else:
                        self._restore(rel, before)
            except OSError:
                continue  # keep undoing the rest; the first error is re-raised by commit

    def _restore(self, rel: str, before: Entry) -> None:
        # By path, not through a descriptor: undoing a removal may have just recreated
        # the directory, and a descriptor would still point at the removed one.
        tmp, _ = self._create(self._abs(rel), before, None)
        os.replace(tmp, self._abs(rel))


def _by_directory(jobs: list[tuple], ways: int) -> list[list[tuple]]:
    """`jobs` split into at most `ways` shares of whole directories, largest first onto
    the lightest share; only the shares that got work."""
    groups: dict[int, list[tuple]] = {}
    for job in jobs:
        groups.setdefault(job[3], []).append(job)  # by directory descriptor
    shares: list[list[tuple]] = [[] for _ in range(max(1, min(ways, len(groups))))]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shares, key=len).extend(group)
    return [share for share in shares if share]


_UMASK: list[int] = []


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, racing threads)."""
    if not _UMASK:
        mask = 0o777  # unknown: always fchmod
        try:
            with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("Umask:"):
                        mask = int(line.split()[1], 8)
                        break
        except (OSError, ValueError):
            pass
        _UMASK.append(mask)
    return _UMASK[0]


def _write_pieces(fd: int, pieces: list[bytes]) -> None:
    batch = 512  # well under IOV_MAX
    for i in range(0, len(pieces), batch):
        group = pieces[i : i + batch]
        done = os.writev(fd, group)
        wanted = sum(map(len, group))
        if done < wanted:  # a short write: finish this group the plain way
            view = memoryview(b"".join(group))[done:]
            while view:
                view = view[os.write(fd, view) :]
