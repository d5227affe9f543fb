"""The result of applying a patch, in the shape the toolpack hands to the model."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field


@dataclass
class PatchResult:
    ok: bool
    format: str | None
    changed_files: list[dict] = field(default_factory=list)
    hunks: list[dict] = field(default_factory=list)
    revision_token: str | None = None
    verification_plan: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    refresh_windows: list[dict] = field(default_factory=list)
    summary: str = ""
    dry_run: bool = False

    def as_dict(self) -> dict:
        if self.ok:
            data = {
                "ok": True,
                "format": self.format,
                "changed_files": [dict(c) for c in self.changed_files],
                "hunks": [dict(h) for h in self.hunks],
                "revision_token": self.revision_token,
                "verification_plan": [dict(p, paths=list(p["paths"])) for p in self.verification_plan],
                "summary": self.summary,
            }
            if self.dry_run:
                data["dry_run"] = True
            return data
        return {
            "ok": False,
            "format": self.format,
            "failures": [dict(f) for f in self.failures],
            "refresh_windows": [dict(w) for w in self.refresh_windows],
            "summary": self.summary,
        }


def verification_plan(checks: dict | None, changed_paths: list[str]) -> list[dict]:
    """The declared checks whose `paths` globs match a changed path (no `paths`: every change).

    A glob without a slash matches file names anywhere (`*.js` matches `src/a.js`, `app.js`
    matches `lib/app.js`); one with a slash matches the whole relative path.
    """
    plan = []
    if not checks or not changed_paths:
        return plan
    for name, spec in checks.items():
        patterns = spec.get("paths") if isinstance(spec, dict) else None
        if not patterns:
            matched = list(changed_paths)
        else:
            if isinstance(patterns, str):
                patterns = [patterns]
            matched = [p for p in changed_paths if any(_glob_matches(g, p) for g in patterns)]
        if matched:
            plan.append({"check": name, "paths": matched})
    return plan


def _glob_matches(glob: str, path: str) -> bool:
    if "/" not in glob:
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], glob)
    return fnmatch.fnmatchcase(path, glob)


def success_summary(changed: list[dict], hunks: list[dict], dry_run: bool) -> str:
    if not changed:
        return "The patch applied but changed nothing."
    parts = []
    for c in changed[:10]:
        label = f"{c['change']} {c['path']}"
        if c.get("from_path"):
            label += f" (from {c['from_path']})"
        if c["additions"] or c["deletions"]:
            label += f" +{c['additions']} -{c['deletions']}"
        parts.append(label)
    if len(changed) > 10:
        parts.append(f"and {len(changed) - 10} more")
    fuzzy = [h for h in hunks if h["match"] not in ("exact", "offset")]
    moved = [h for h in hunks if h["match"] == "offset"]
    verb = "Would apply" if dry_run else "Applied"
    text = f"{verb} {len(hunks)} hunk(s) to {len(changed)} file(s): " + ", ".join(parts) + "."
    if moved:
        text += f" {len(moved)} hunk(s) matched at an offset from their stated line."
    if fuzzy:
        text += f" {len(fuzzy)} chunk(s) matched only after whitespace/unicode normalisation."
    return text


def failure_summary(failures: list[dict]) -> str:
    items = []
    for f in failures[:8]:
        where = f["path"] or "patch"
        if f["hunk"] is not None:
            where += f" hunk {f['hunk']}"
        items.append(f"{where}: {f['code']}" + (" (already applied)" if f.get("already_applied") else ""))
    if len(failures) > 8:
        items.append(f"and {len(failures) - 8} more")
    return f"Patch refused; no file was changed. {len(failures)} problem(s): " + "; ".join(items) + "."
