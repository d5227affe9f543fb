"""Starter templates and creating an app from one (its first revision is the template)."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from config.errors import ValidationFailed
from published_apps import checkpoints, revisions
from published_apps.models import PublishedApp, Revision

STARTERS_DIR = Path(__file__).resolve().parent / "starters"
DEFAULT_STARTER = "landing"
META_FILE = "starter.json"


@dataclass(frozen=True)
class Starter:
    name: str
    label: str
    description: str
    checks: dict
    path: Path


@cache
def available_starters() -> dict[str, Starter]:
    starters = {}
    for meta_path in sorted(STARTERS_DIR.glob(f"*/{META_FILE}")):
        meta = json.loads(meta_path.read_text())
        name = meta_path.parent.name
        starters[name] = Starter(
            name=name,
            label=meta["label"],
            description=meta.get("description", ""),
            checks=meta.get("checks", {}),
            path=meta_path.parent,
        )
    return starters


def get_starter(name: str | None) -> Starter:
    starters = available_starters()
    starter = starters.get(name or DEFAULT_STARTER)
    if starter is None:
        raise ValidationFailed(
            f"Unknown template {name!r}; choose one of: {', '.join(sorted(starters))}.", field="template"
        )
    return starter


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60].strip("-") or "app"
    slug, n = base, 1
    while PublishedApp.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def clean_name(name: str | None) -> str:
    """An app's name as every way of creating one (API, page, admin) accepts it."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the app a name.", field="name")
    if len(name) > 200:
        raise ValidationFailed("The name is longer than 200 characters.", field="name")
    # NUL cannot be stored in PostgreSQL text, and no control character belongs in a name.
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise ValidationFailed("The name may not contain control characters.", field="name")
    return name


def create_app(*, owner, name: str, template: str | None = None) -> PublishedApp:
    """A new app whose first revision (and draft, and first checkpoint) is the starter template."""
    name = clean_name(name)
    starter = get_starter(template)
    manifest = revisions.store_directory(starter.path)
    manifest.pop(META_FILE, None)
    for attempt in range(5):
        try:
            with transaction.atomic():
                app = PublishedApp.objects.create(
                    owner=owner,
                    name=name,
                    slug=_unique_slug(name),
                    template=starter.name,
                    checks=starter.checks,
                )
                revision = revisions.create_revision(
                    app=app,
                    manifest=manifest,
                    parent=None,
                    source=Revision.Source.TEMPLATE,
                    message=f"Starter template: {starter.label}",
                    user=owner,
                )
                revisions.set_draft(app, revision)
                checkpoints.create_checkpoint(
                    app=app, revision=revision, label=f"Starter template: {starter.label}"
                )
                return app
        except IntegrityError:
            if attempt == 4:
                raise  # the slug kept colliding with concurrent creates
    raise AssertionError("unreachable")
