import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

ACTIVE_STATUSES = ("queued", "running")


class ChatModel(models.Model):
    """A chat model a run may use. Admin-editable; holds the *name* of the key's env var, never a key."""

    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic"
        SCRIPTED = "scripted", "Scripted (plays a JSON script)"

    id = models.SlugField(max_length=100, primary_key=True)
    label = models.CharField(max_length=200)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    model_name = models.CharField(max_length=200, blank=True)
    base_url = models.URLField(blank=True)
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Name of the environment variable that holds the API key (never the key itself).",
    )
    script = models.JSONField(null=True, blank=True, help_text="Scripted provider: a list of turns.")
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_chat_model"
            )
        ]

    def __str__(self):
        return f"{self.label} ({self.id})"

    def clean(self):
        """Provider-specific rules, shared by the admin site and `manage.py add_chat_model`."""
        # Imported here: the catalog imports this module.
        from coding_agent.models_catalog import AUTO_ID, api_key_env_problem, needs_api_key
        from coding_agent.scripted import validate_script

        errors = {}
        if self.id == AUTO_ID:
            errors["id"] = f"'{AUTO_ID}' is reserved for automatic model choice."
        if self.provider == self.Provider.SCRIPTED:
            if problems := validate_script(self.script):
                errors["script"] = problems
        elif self.provider in (self.Provider.OPENAI, self.Provider.ANTHROPIC):
            if not self.model_name:
                errors["model_name"] = "A model name is required for this provider."
            if problem := api_key_env_problem(self.api_key_env):
                errors["api_key_env"] = problem
            elif not self.api_key_env and needs_api_key(self):
                errors["api_key_env"] = "Name the environment variable that holds the API key."
        if self.is_default and not self.is_active:
            errors["is_default"] = "An inactive model cannot be the default."
        if errors:
            from django.core.exceptions import ValidationError

            raise ValidationError(errors)


class AgentRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Engine(models.TextChoices):
        NATIVE = "native"
        OPENCODE = "opencode"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("published_apps.PublishedApp", on_delete=models.CASCADE, related_name="runs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    input = models.TextField()
    messages = models.JSONField(default=list, blank=True, help_text="Prior turns sent with the run.")
    requested_model_id = models.CharField(max_length=100, null=True, blank=True, help_text="Null = Auto.")  # noqa: DJ001 (null means Auto)
    resolved_model_id = models.CharField(max_length=100, db_index=True)
    model_resolution = models.CharField(max_length=300, blank=True, help_text="Why this model was chosen.")
    execution_engine = models.CharField(max_length=20, choices=Engine.choices, default=Engine.NATIVE)
    engine_run_ref = models.CharField(max_length=200, blank=True)
    base_revision = models.ForeignKey(
        "published_apps.Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    result_revision = models.ForeignKey(
        "published_apps.Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checkpoint = models.ForeignKey(
        "published_apps.Checkpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    usage = models.JSONField(default=dict, blank=True)
    compaction = models.JSONField(
        null=True, blank=True, help_text="How prior messages were compacted, if at all."
    )
    final_text = models.TextField(blank=True)
    # Durable state of the run's files: the manifest recorded after the last tool call that
    # changed files (null = the base revision's). A resuming worker rebuilds from it.
    workspace_manifest = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # Last time the run was handed to an executor; a queued run nobody claimed for a while
    # (its task message lost) is handed out again by the sweeper.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempt = models.PositiveIntegerField(default=0)
    # Highest seq handed out; RunEvent.seq is allocated by incrementing this under the row lock.
    last_seq = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["app", "-created_at"])]
        constraints = [
            # One active run per app, enforced by the database so concurrent creates cannot race.
            models.UniqueConstraint(
                fields=["app"], condition=Q(status__in=ACTIVE_STATUSES), name="one_active_run_per_app"
            )
        ]

    def __str__(self):
        return f"run {str(self.id)[:8]} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def error(self) -> dict | None:
        if not self.error_code:
            return None
        return {"code": self.error_code, "message": self.error_message}


class RunEvent(models.Model):
    """One envelope of a run's event stream; `seq` is gapless per run (DESIGN.md §3)."""

    run = models.ForeignKey(AgentRun, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    event = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    diagnostics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_event_seq_per_run")]

    def __str__(self):
        return f"{self.seq} {self.event}"


class ToolCall(models.Model):
    """Ledger of tool executions keyed by the model's tool-call id: a finished call is never run twice."""

    class Status(models.TextChoices):
        STARTED = "started"
        COMPLETED = "completed"
        FAILED = "failed"

    run = models.ForeignKey(AgentRun, on_delete=models.CASCADE, related_name="tool_calls")
    tool_call_id = models.CharField(max_length=200)
    tool = models.CharField(max_length=100)
    args = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.STARTED)
    result = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "started_at"]
        constraints = [
            models.UniqueConstraint(fields=["run", "tool_call_id"], name="unique_tool_call_per_run")
        ]

    def __str__(self):
        return f"{self.tool} {self.tool_call_id} ({self.status})"
