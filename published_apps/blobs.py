"""Content-addressed file storage: the same bytes are stored once, keyed by sha256.

Bytes are checked against their address whenever they are read: a blob that is missing
or no longer matches its sha256 is an error that says which files it holds, never a
crash and never someone else's (or damaged) content served as the file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping

from config.errors import Error
from published_apps.models import Blob

log = logging.getLogger(__name__)

# Keep IN (...) lists well under every backend's bound-parameter limit.
CHUNK = 500


class BlobUnavailable(Error):
    # 410: the bytes are gone for good unless an operator puts them back; asking again
    # will not help, and nothing the client sent was wrong.
    code = "CONTENT_UNAVAILABLE"
    status = 410
    message = "The stored content of this file is missing or damaged."

    def __init__(self, shas: Iterable[str], *, names: Mapping[str, str] | None = None):
        self.shas = sorted(set(shas))
        files = sorted({(names or {}).get(sha, f"sha256 {sha[:12]}…") for sha in self.shas})
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        super().__init__(
            f"The stored content of {shown} is missing or damaged; restore a checkpoint "
            "that does not have it, or ask an operator to check the blob storage."
        )


def existing(shas: Iterable[str]) -> set[str]:
    shas = list(dict.fromkeys(shas))
    found: set[str] = set()
    for i in range(0, len(shas), CHUNK):
        found.update(Blob.objects.filter(sha256__in=shas[i : i + CHUNK]).values_list("sha256", flat=True))
    return found


def require(shas: Iterable[str], *, names: Mapping[str, str] | None = None) -> None:
    """Raise BlobUnavailable unless every blob is stored (presence only; reads check the bytes)."""
    shas = set(shas)
    missing = shas - existing(shas)
    if missing:
        log.error("blobs missing from storage: %s", sorted(missing)[:20])
        raise BlobUnavailable(missing, names=names)


def store(contents: dict[str, bytes]) -> int:
    """Store blobs given as {sha256: bytes}, writing only those not stored yet; returns how many were new."""
    if not contents:
        return 0
    stored = existing(contents)
    missing = {sha: data for sha, data in contents.items() if sha not in stored}
    store_new(missing)
    return len(missing)


def store_new(contents: dict[str, bytes]) -> None:
    """Store blobs the caller believes are new, in one statement per batch.

    Duplicates are ignored: a concurrent snapshot may store the same bytes first.
    """
    if contents:
        Blob.objects.bulk_create(
            [Blob(sha256=sha, size=len(data), data=data) for sha, data in contents.items()],
            ignore_conflicts=True,
            batch_size=CHUNK,
        )


def fetch(shas: Iterable[str], *, names: Mapping[str, str] | None = None) -> dict[str, bytes]:
    """{sha256: bytes} for every sha, each checked against its address. `names` (sha -> a
    file path) only words the error."""
    shas = list(dict.fromkeys(shas))
    out: dict[str, bytes] = {}
    for i in range(0, len(shas), CHUNK):
        for sha, data in Blob.objects.filter(sha256__in=shas[i : i + CHUNK]).values_list("sha256", "data"):
            out[sha] = bytes(data)
    missing = set(shas) - out.keys()
    damaged = {sha for sha, data in out.items() if hashlib.sha256(data).hexdigest() != sha}
    if missing or damaged:
        log.error("blobs unavailable: missing %s, damaged %s", sorted(missing)[:20], sorted(damaged)[:20])
        raise BlobUnavailable(missing | damaged, names=names)
    return out


def read(sha: str, *, name: str | None = None) -> bytes:
    return fetch([sha], names={sha: name} if name else None)[sha]
