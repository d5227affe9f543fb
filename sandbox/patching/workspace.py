"""The workspace as a patch sees it: an in-memory overlay over the files, then one commit.

Every operation of a patch reads and writes the overlay, so later operations see
earlier ones (an mbox series, or Add then Update of one file) while the disk stays
untouched. `commit` writes each new file to a temporary file in its own directory and
renames it into place; if anything fails part-way, the journal (`journal.py`) puts every
replaced, created or deleted file and every created or removed directory back. The
descriptors files were read through stay open until `release`, so the blocks of a file
the commit replaces or deletes are freed by a background close (`closer`), after the
result.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

from sandbox import paths
from sandbox.patching.closer import closer
from sandbox.patching.journal import Journal
from sandbox.patching.model import BINARY_UNSUPPORTED, FILE_EXISTS, FILE_NOT_FOUND, PATH_ESCAPE

NEW_FILE_MODE = 0o644


class OpFailure(Exception):
    """A file-level refusal: the contract code plus a message a model can act on."""

    def __init__(self, code: str, message: str, path: str | None, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.extra = extra


def policy_failure(err: paths.PolicyError, path: str | None) -> OpFailure:
    code = {
        paths.FILE_NOT_FOUND: FILE_NOT_FOUND,
        paths.NOT_A_FILE: FILE_NOT_FOUND,
        paths.FILE_BINARY: BINARY_UNSUPPORTED,
        paths.FILE_EXISTS: FILE_EXISTS,
    }.get(err.code, PATH_ESCAPE)
    # The policy names the argument (`path`); a patch failure names the file instead.
    detail = err.message.replace(f"`{err.field}`", "the path")
    return OpFailure(code, f"`{path}` is refused: {detail}", path)


class Entry:
    """A file's content and permission bits. A patched large file stays a list of
    pieces (unchanged slices and new hunks) until something needs it whole; commit
    writes the pieces with writev, sparing a full-size copy."""

    __slots__ = ("_data", "pieces", "size", "mode", "_text")

    def __init__(self, data: bytes | None, mode: int, text: str | None = None, *, pieces=None):
        self._data = data
        self.pieces: list[bytes] = [data] if pieces is None else pieces
        self.size = len(data) if pieces is None else sum(map(len, pieces))
        self.mode = mode
        self._text = text

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = b"".join(self.pieces)
            self.pieces = [self._data]
        return self._data

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for piece in self.pieces:
            digest.update(piece)
        return digest.hexdigest()

    def same_bytes(self, other: Entry) -> bool:
        return self.size == other.size and self.data == other.data

    def check_text(self, rel: str) -> None:
        """Refuse a binary file: `paths.is_binary`'s rule (NUL in the first 8 KiB, or not
        UTF-8). ASCII needs no decoding; the unified path then works on bytes throughout."""
        if self._text is not None or (self.data.isascii() and b"\x00" not in self.data[:8192]):
            return
        self.text(rel)

    def text(self, rel: str) -> str:
        if self._text is None:
            # Same rule as `paths.is_binary`, decoding once instead of twice: on a large
            # file the second decode is measurable.
            try:
                if b"\x00" in self.data[:8192]:
                    raise ValueError
                self._text = self.data.decode("utf-8")
            except ValueError:
                raise OpFailure(
                    BINARY_UNSUPPORTED,
                    f"`{rel}` is a binary file (or not UTF-8); patches can only edit text files.",
                    rel,
                ) from None
        return self._text

    @classmethod
    def from_text(cls, text: str, mode: int) -> Entry:
        return cls(text.encode("utf-8"), mode, text)


_MISSING = object()
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _O_CLOEXEC


class Overlay:
    def __init__(self, root: str | os.PathLike):
        self.root = os.fspath(root)
        self._prefix = os.path.join(self.root, "")  # root + separator: prefix + rel is the path
        self.state: dict[str, Entry | None] = {}  # None: deleted by this patch
        self.original: dict[str, Entry | None] = {}  # disk content at first touch
        self._dirs: set[str] = set()  # relative paths known to be real directories on disk
        self._live_dirs: dict[str, int] = {}  # directory -> files the patch puts below it
        self._ancestors: dict[str, tuple[str, ...]] = {}  # "a/b" -> ("a", "a/b")
        self._held: list[int] = []  # descriptors of the files read, until `release`

    # -- paths --

    def check_path(self, raw: str) -> str:
        """Canonical relative path, refusing escapes and any symbolic link on the way.

        Stricter than the read policy: like git ("beyond a symbolic link"), a patch never
        writes through or onto a link, even one that stays inside the root. The common
        case costs one lstat per new directory; anything unusual is handed to
        `paths.resolve` so the refusal carries the policy's own wording.
        """
        try:
            rel = paths.normalize(raw)
        except paths.PolicyError as err:
            raise policy_failure(err, raw) from None
        parent = rel.rpartition("/")[0]
        # A directory enters `_dirs` only after every directory above it did, so a known
        # parent leaves just the name itself to look at (the usual case after the first
        # file of a directory).
        parts = [rel] if not parent or parent in self._dirs else _ancestors(rel) + [rel]
        last_index = len(parts) - 1
        for i, prefix in enumerate(parts):
            last = i == last_index
            if not last and prefix in self._dirs:
                continue
            try:
                st = os.lstat(self._prefix + prefix)
            except (FileNotFoundError, NotADirectoryError):
                break
            if stat.S_ISDIR(st.st_mode):
                self._dirs.add(prefix)
            elif stat.S_ISLNK(st.st_mode) or not last:
                self._refuse_link_or_file(raw, rel)
        return rel

    def _refuse_link_or_file(self, raw: str, rel: str) -> None:
        try:
            paths.resolve(self.root, raw)
        except paths.PolicyError as err:
            raise policy_failure(err, raw) from None
        raise OpFailure(
            PATH_ESCAPE,
            f"`{rel}` is or goes through a symbolic link; patches do not write through links.",
            rel,
        )

    # -- reading --

    def get(self, rel: str) -> Entry | None:
        """The file as the patch so far left it; None if it does not exist."""
        if rel in self.state:
            return self.state[rel]
        entry = self._read_disk(rel)
        self.original[rel] = entry
        return entry

    def _read_disk(self, rel: str) -> Entry | None:
        # One open + fstat instead of lstat + open(): O_NOFOLLOW refuses a link that
        # appeared since check_path, O_NONBLOCK keeps a FIFO from blocking the read.
        try:
            fd = os.open(self._prefix + rel, _READ_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise OpFailure(PATH_ESCAPE, f"`{rel}` is a symbolic link; patches do not follow links.", rel)
            raise
        hold = False
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise OpFailure(FILE_NOT_FOUND, f"`{rel}` is a directory, not a file.", rel)
            if not stat.S_ISREG(st.st_mode):
                raise OpFailure(FILE_NOT_FOUND, f"`{rel}` is not a regular file.", rel)
            chunks, got = [], 0
            while not st.st_size or got < st.st_size:  # size 0: read to EOF to be sure
                chunk = os.read(fd, max(st.st_size - got, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            hold = len(self._held) < closer.hold_limit
        finally:
            if hold:  # until `release`: should the commit unlink it, the blocks are freed later
                self._held.append(fd)
            else:
                os.close(fd)
        return Entry(chunks[0] if len(chunks) == 1 else b"".join(chunks), stat.S_IMODE(st.st_mode))

    def require(self, rel: str) -> Entry:
        entry = self.get(rel)
        if entry is None:
            gone = rel in self.state
            raise OpFailure(
                FILE_NOT_FOUND,
                f"`{rel}` does not exist"
                + (" (an earlier part of this patch removed it)." if gone else " in the workspace."),
                rel,
                already_applied=False,
            )
        return entry

    def is_dir(self, rel: str) -> bool:
        """A directory on disk (seen by `check_path`) or one this patch fills with files."""
        if self.state.get(rel) is not None:
            return False
        return rel in self._dirs or bool(self._live_dirs.get(rel))

    def exists(self, rel: str) -> bool:
        if rel in self.state:
            return self.state[rel] is not None
        return os.path.lexists(self._prefix + rel)

    def release(self) -> None:
        """Give up the descriptors of the files read. A file the commit replaced or
        deleted is freed by the last close, which `closer` makes in the background."""
        held, self._held = self._held, []
        closer.close_later(held)

    # -- writing --

    def put(self, rel: str, entry: Entry) -> None:
        if self.state.get(rel) is None:
            self._check_room(rel)
            self._count_dirs(rel, 1)
        if rel not in self.original:
            self.original[rel] = self._read_disk(rel)
        self.state[rel] = entry

    def delete(self, rel: str) -> None:
        if rel not in self.original:
            self.original[rel] = self._read_disk(rel)
        if self.state.get(rel) is not None:
            self._count_dirs(rel, -1)
        self.state[rel] = None

    def _parents(self, rel: str) -> tuple[str, ...]:
        """The directories above `rel`, outermost first; shared by the files of a directory."""
        parent = rel.rpartition("/")[0]
        hit = self._ancestors.get(parent)
        if hit is None:
            hit = self._ancestors[parent] = tuple(_ancestors(rel))
        return hit

    def _count_dirs(self, rel: str, step: int) -> None:
        live = self._live_dirs
        for d in self._parents(rel):
            live[d] = live.get(d, 0) + step

    def _check_room(self, rel: str) -> None:
        """A new file may not sit below a file, nor on top of a directory."""
        if rel in self._dirs or self._live_dirs.get(rel):
            raise OpFailure(FILE_EXISTS, f"`{rel}` is a directory; a file cannot replace it.", rel)
        state = self.state
        for parent in self._parents(rel):
            if state.get(parent) is not None:
                raise OpFailure(FILE_EXISTS, f"`{parent}` is a file, so `{rel}` cannot be created.", rel)

    def changes(self) -> dict[str, Entry | None]:
        """Paths whose final state differs from the disk (None = delete)."""
        out = {}
        for rel, entry in self.state.items():
            before = self.original.get(rel, _MISSING)
            if entry is None and before is None:
                continue
            unchanged = entry is not None and isinstance(before, Entry)
            if unchanged and entry.mode == before.mode and entry.same_bytes(before):
                continue
            out[rel] = entry
        return out

    # -- commit --

    def commit(self, changes: dict[str, Entry | None]) -> dict[str, tuple[int, int, int]]:
        """Write `changes` (from `changes()`), all or nothing. Returns each written file's
        stat key (size, mtime_ns, inode), taken from the file just written."""
        journal = Journal(self.root)
        try:
            temps = journal.write_temps([(rel, entry) for rel, entry in changes.items() if entry is not None])
            for rel, entry in changes.items():
                if entry is None:
                    journal.unlink(rel, self.original[rel])
            for rel, entry in changes.items():  # in patch order, whichever thread wrote the file
                if entry is not None:
                    journal.replace(temps[rel], rel, self.original.get(rel))
            for rel, entry in changes.items():
                if entry is None:
                    journal.prune_dirs(rel)
        except BaseException:
            journal.rollback()
            raise
        finally:
            journal.close()
        return journal.keys


def _ancestors(rel: str) -> list[str]:
    """`a/b/c` -> [`a`, `a/b`]."""
    parts = rel.split("/")
    return ["/".join(parts[:k]) for k in range(1, len(parts))]
