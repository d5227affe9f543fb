import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.http import Http404

from config.errors import NotFound


class PublishedAppQuerySet(models.QuerySet):
    def accessible_to(self, user):
        """Apps the user may act on: owned, shared with them as a member, or all for superusers."""
        if not user or not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(Q(owner=user) | Q(members=user)).distinct()

    def get_for(self, user, app_id) -> "PublishedApp":
        """The app if the user may act on it; otherwise 404, never a hint that it exists."""
        try:
            return self.accessible_to(user).get(pk=app_id)
        except (self.model.DoesNotExist, ValueError, ValidationError):
            raise NotFound("App not found.")

    def get_for_page(self, user, app_id) -> "PublishedApp":
        """`get_for` for HTML pages, whose 404 is Django's page rather than the API's body."""
        try:
            return self.get_for(user, app_id)
        except NotFound:
            raise Http404("App not found.")


class PublishedApp(models.Model):
    """A small web app that admins build with the agent and publish at /p/{slug}/."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_apps")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="member_apps")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    template = models.CharField(max_length=50, blank=True, help_text="Starter template the app began from.")
    # Declared checks the agent may run: {name: {"argv": [...], "paths": [globs], "timeout_s": n}}.
    # Kept on the row, not in the workspace, so the agent cannot rewrite what gets executed.
    checks = models.JSONField(default=dict, blank=True)
    draft_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PublishedAppQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class Blob(models.Model):
    """File content, stored once per distinct sha256."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.sha256[:12]} ({self.size} bytes)"


class ImmutableError(Exception):
    pass


class Revision(models.Model):
    """An immutable snapshot of an app's files: a manifest of path -> {sha256, size, mode}."""

    class Source(models.TextChoices):
        TEMPLATE = "template"
        AGENT_RUN = "agent_run"
        RESTORE = "restore"
        MANUAL = "manual"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(PublishedApp, on_delete=models.CASCADE, related_name="revisions")
    # RESTRICT: a revision goes only together with its whole app.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="children"
    )
    manifest = models.JSONField(default=dict)
    # Content address of the manifest (sandbox.manifest.tree_hash): equal trees, equal hash.
    tree_sha256 = models.CharField(max_length=64, db_index=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    run = models.ForeignKey(
        "coding_agent.AgentRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions"
    )
    # Kept from a run that failed or was cancelled part-way.
    partial = models.BooleanField(default=False)
    message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["app", "-created_at"])]

    def __str__(self):
        return f"{self.app} @ {str(self.id)[:8]} ({self.source})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("Revisions are immutable; create a new one instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Revisions are history and are never deleted.")


class Checkpoint(models.Model):
    """A restorable point in an app's history, usually made at the end of a run."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(PublishedApp, on_delete=models.CASCADE, related_name="checkpoints")
    revision = models.ForeignKey(Revision, on_delete=models.RESTRICT, related_name="checkpoints")
    run = models.ForeignKey(
        "coding_agent.AgentRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="checkpoints"
    )
    label = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run"], condition=Q(run__isnull=False), name="one_checkpoint_per_run"
            )
        ]

    def __str__(self):
        return self.label


class PreviewSession(models.Model):
    """The browser session a draft preview capability was issued to, so logging out revokes it.

    The capability lives in URLs (history, server logs) and the preview page's own requests
    come without cookies, so the token carries a keyed hash of the session key, never the key,
    and this row leads from the hash back to the session, which must still exist and be the
    user's (published_apps.serving). One row per session; `issued_at` is the newest token's.
    """

    key_hash = models.CharField(max_length=64, primary_key=True)
    session_key = models.CharField(max_length=40)
    issued_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"preview session {self.key_hash[:12]}"
