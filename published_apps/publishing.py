"""Publishing: pin the draft revision as the one served at {APPS_PUBLISH_BASE_URL}/p/{slug}/."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.errors import Conflict
from published_apps.models import PublishedApp


class NothingToPublish(Conflict):
    code = "APP_NOTHING_TO_PUBLISH"
    message = "The app has no draft revision to publish."


def publish(*, app: PublishedApp) -> PublishedApp:
    with transaction.atomic():
        app = PublishedApp.objects.select_for_update().get(pk=app.pk)
        if app.draft_revision_id is None:
            raise NothingToPublish()
        app.published_revision_id = app.draft_revision_id
        app.published_at = timezone.now()
        app.save(update_fields=["published_revision", "published_at", "updated_at"])
    return app


def publish_url(app: PublishedApp, request=None) -> str | None:
    """Where the published app is served, or None before the first publish."""
    if app.published_revision_id is None:
        return None
    path = f"/p/{app.slug}/"
    base = settings.APPS_PUBLISH_BASE_URL
    if base:
        return base.rstrip("/") + path
    return request.build_absolute_uri(path) if request is not None else path
