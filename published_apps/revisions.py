"""Revisions: snapshot a directory, materialise a revision, compare two revisions.

A revision's manifest maps each path to {sha256, size, mode}; the bytes live in Blob
rows, so a snapshot stores only content that is new.
"""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from published_apps import blobs
from published_apps.models import PublishedApp, Revision
from sandbox import manifest as manifests
from sandbox.paths import is_binary

EXEC_MODE = manifests.EXEC_MODE


def create_revision(
    *,
    app: PublishedApp,
    manifest: dict[str, dict],
    parent: Revision | None,
    source: str,
    run=None,
    message: str = "",
    partial: bool = False,
    user=None,
) -> Revision:
    """A new revision from a manifest whose blobs are already stored."""
    return Revision.objects.create(
        app=app,
        parent=parent,
        manifest=manifest,
        tree_sha256=manifests.tree_hash(manifest),
        source=source,
        run=run,
        message=message[:500],
        partial=partial,
        created_by=user,
    )


def store_directory(root: str | os.PathLike, *, known: dict[str, dict] | None = None, cache=None) -> dict:
    """Store the files of a directory as blobs and return its manifest.

    `known` is a manifest whose blobs are already stored (usually the parent revision's):
    a file whose hash appears there is not looked up again.
    """
    tree = manifests.scan(root, cache)
    known_shas = {entry["sha256"] for entry in (known or {}).values()}
    candidates = {entry["sha256"]: path for path, entry in tree.items() if entry["sha256"] not in known_shas}
    if candidates:
        new = set(candidates) - blobs.existing(candidates)
        blobs.store({sha: (Path(root) / candidates[sha]).read_bytes() for sha in new})
    return tree


def changed_manifest(
    root: str | os.PathLike, manifest: dict[str, dict], paths, *, cache: manifests.HashCache | None = None
) -> tuple[dict, dict[str, bytes]]:
    """`manifest` updated for `paths` only (re-hashed, or dropped if gone), and the blobs it
    now needs that `manifest` did not have, not yet stored: the caller stores them with its
    own write. The cheap path after an edit that names the files it touched.
    """
    cache = cache or manifests.HashCache()
    updated = dict(manifest)
    new: dict[str, bytes] = {}
    known = {entry["sha256"] for entry in manifest.values()}
    for rel in paths:
        absolute = os.path.join(root, rel)
        try:
            st = os.lstat(absolute)
        except FileNotFoundError:
            updated.pop(rel, None)
            continue
        if not stat.S_ISREG(st.st_mode):
            updated.pop(rel, None)
            continue
        digest = cache.sha256(absolute, st)
        updated[rel] = {"sha256": digest, "size": st.st_size, "mode": manifests.file_mode(st.st_mode)}
        if digest not in known:
            new[digest] = Path(absolute).read_bytes()
    return updated, new


def snapshot(
    *,
    app: PublishedApp,
    root: str | os.PathLike,
    parent: Revision | None,
    source: str,
    run=None,
    message: str = "",
    partial: bool = False,
    user=None,
    cache=None,
) -> Revision:
    """Snapshot a directory into a new revision, storing only blobs not yet stored."""
    tree = store_directory(root, known=parent.manifest if parent else None, cache=cache)
    with transaction.atomic():
        return create_revision(
            app=app,
            manifest=tree,
            parent=parent,
            source=source,
            run=run,
            message=message,
            partial=partial,
            user=user,
        )


def set_draft(app: PublishedApp, revision: Revision) -> None:
    """Point the app's draft at `revision` (a targeted update: never overwrites other fields)."""
    PublishedApp.objects.filter(pk=app.pk).update(draft_revision=revision, updated_at=timezone.now())
    app.draft_revision = revision


def materialise(revision: Revision, root: str | os.PathLike) -> None:
    """Write a revision's files into `root` (created if missing; must hold no other files)."""
    materialise_manifest(revision.manifest, root)


def materialise_manifest(manifest: dict[str, dict], root: str | os.PathLike) -> None:
    """Write the files a manifest names (blobs already stored) into `root`."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    contents = blobs.fetch((entry["sha256"] for entry in manifest.values()), names=file_names(manifest))
    for rel, entry in manifest.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(contents[entry["sha256"]])
        os.chmod(target, 0o755 if entry.get("mode") == EXEC_MODE else 0o644)


def file_names(manifest: dict[str, dict]) -> dict[str, str]:
    """sha256 -> a path holding it, to name files in errors."""
    return {entry["sha256"]: path for path, entry in sorted(manifest.items(), reverse=True)}


def changed_files(old: dict[str, dict], new: dict[str, dict]) -> list[dict]:
    """Per-path changes from manifest `old` to `new`; a deleted and an added path with equal bytes is a rename."""
    added = [p for p in new if p not in old]
    deleted = [p for p in old if p not in new]
    changes = []
    deleted_by_sha: dict[str, list[str]] = {}
    for path in deleted:
        deleted_by_sha.setdefault(old[path]["sha256"], []).append(path)
    renamed_from: set[str] = set()
    for path in added:
        sources = deleted_by_sha.get(new[path]["sha256"])
        if sources:
            source = sources.pop(0)
            renamed_from.add(source)
            changes.append({"path": path, "change": "renamed", "from_path": source})
        else:
            changes.append({"path": path, "change": "added"})
    for path in deleted:
        if path not in renamed_from:
            changes.append({"path": path, "change": "deleted"})
    for path in new:
        if path in old and (
            old[path]["sha256"] != new[path]["sha256"] or old[path].get("mode") != new[path].get("mode")
        ):
            changes.append({"path": path, "change": "modified"})
    return sorted(changes, key=lambda c: c["path"])


def changes_from_parent(revision: Revision) -> list[dict]:
    """What a revision changed, compared with its parent (everything is added for a first one)."""
    return changed_files(revision.parent.manifest if revision.parent_id else {}, revision.manifest)


def _lines(data: bytes) -> list[str]:
    """Lines as diff and git see them: split at "\n" only. (`str.splitlines` also splits at
    form feeds, "\x1c" and U+2028, which a diff would then mark as missing newlines.)"""
    text = data.decode("utf-8")
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


# C escapes git uses in quoted names; other control characters are written in octal.
_GIT_ESCAPES = dict(zip('\a\b\t\n\v\f\r"\\', 'abtnvfr"\\', strict=True))


def _git_name(prefix: str, path: str) -> str:
    """`prefix + path` as git writes a name in a diff header: C-quoted when it holds a quote,
    a backslash or a control character. Written raw, a newline in a name would end the
    header line, and the rest of the name would read as lines of the diff. (Other
    characters, UTF-8 included, stay as they are; `git apply` reads them either way.)"""
    name = prefix + path
    if not any(ch in _GIT_ESCAPES or ch < " " or ch == "\x7f" for ch in name):
        return name
    quoted = []
    for ch in name:
        if ch in _GIT_ESCAPES:
            quoted.append("\\" + _GIT_ESCAPES[ch])
        elif ch < " " or ch == "\x7f":
            quoted.append(f"\\{ord(ch):03o}")
        else:
            quoted.append(ch)
    return '"' + "".join(quoted) + '"'


def diff_text(old: Revision | None, new: Revision, *, context: int = 3) -> str:
    """A unified diff (git style, a/ b/ prefixes) from `old` (None = empty tree) to `new`."""
    old_manifest = old.manifest if old else {}
    changes = changed_files(old_manifest, new.manifest)
    shas = set()
    for change in changes:
        if change["path"] in new.manifest:
            shas.add(new.manifest[change["path"]]["sha256"])
        source = change.get("from_path", change["path"])
        if source in old_manifest:
            shas.add(old_manifest[source]["sha256"])
    contents = blobs.fetch(shas, names={**file_names(old_manifest), **file_names(new.manifest)})
    out: list[str] = []
    for change in changes:
        path, kind = change["path"], change["change"]
        source = change.get("from_path", path)
        before = contents[old_manifest[source]["sha256"]] if kind != "added" else b""
        after = contents[new.manifest[path]["sha256"]] if kind != "deleted" else b""
        out.append(f"diff --git {_git_name('a/', source)} {_git_name('b/', path)}\n")
        if kind == "renamed":
            old_mode, new_mode = old_manifest[source].get("mode"), new.manifest[path].get("mode")
            if old_mode != new_mode:
                out.append(f"old mode {old_mode}\nnew mode {new_mode}\n")
            out.append(f"rename from {_git_name('', source)}\nrename to {_git_name('', path)}\n")
            continue
        if kind == "added":
            out.append(f"new file mode {new.manifest[path].get('mode', manifests.FILE_MODE)}\n")
        elif kind == "deleted":
            out.append(f"deleted file mode {old_manifest[path].get('mode', manifests.FILE_MODE)}\n")
        elif old_manifest[path].get("mode") != new.manifest[path].get("mode"):
            out.append(
                f"old mode {old_manifest[path].get('mode')}\nnew mode {new.manifest[path].get('mode')}\n"
            )
        if before == after:
            continue
        fromfile = "/dev/null" if kind == "added" else _git_name("a/", source)
        tofile = "/dev/null" if kind == "deleted" else _git_name("b/", path)
        # The patch engine's rule for text (UTF-8, no NUL): anything else would only show
        # as replacement characters, in a diff that applies to nothing.
        if is_binary(before) or is_binary(after):
            out.append(f"Binary files {fromfile} and {tofile} differ\n")
            continue
        old_lines, new_lines = _lines(before), _lines(after)
        for line in difflib.unified_diff(old_lines, new_lines, fromfile, tofile, n=context):
            if not line.endswith("\n"):
                line += "\n\\ No newline at end of file\n"
            out.append(line)
    return "".join(out)
