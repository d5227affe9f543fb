"""Content-addressed file storage: the same bytes are stored once, keyed by sha256."""

from __future__ import annotations

from collections.abc import Iterable

from published_apps.models import Blob

# Keep IN (...) lists well under every backend's bound-parameter limit.
CHUNK = 500


def existing(shas: Iterable[str]) -> set[str]:
    shas = list(dict.fromkeys(shas))
    found: set[str] = set()
    for i in range(0, len(shas), CHUNK):
        found.update(Blob.objects.filter(sha256__in=shas[i : i + CHUNK]).values_list("sha256", flat=True))
    return found


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


def fetch(shas: Iterable[str]) -> dict[str, bytes]:
    shas = list(dict.fromkeys(shas))
    out: dict[str, bytes] = {}
    for i in range(0, len(shas), CHUNK):
        for sha, data in Blob.objects.filter(sha256__in=shas[i : i + CHUNK]).values_list("sha256", "data"):
            out[sha] = bytes(data)
    missing = set(shas) - out.keys()
    if missing:
        raise Blob.DoesNotExist(f"blobs missing from storage: {sorted(missing)[:5]}")
    return out


def read(sha: str) -> bytes:
    return bytes(Blob.objects.values_list("data", flat=True).get(sha256=sha))
