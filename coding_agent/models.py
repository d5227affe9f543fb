import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.env import http_url_problem

ACTIVE_STATUSES = ("queued", "running")


def validate_base_url(value: str) -> None:
    """An http(s) URL with a host, which may be a single name (`http://ollama:11434/v1`).

    Django's URLValidator wants a dotted domain, yet a model server's address inside Docker
    Compose or Kubernetes is often just a service name. The chat model field, hence the admin
    form and `manage.py add_chat_model`, use this one validator.
    """
    if problem := http_url_problem(
        value, credentials_hint="keys belong in the environment, named by api_key_env"
    ):
        raise ValidationError(
            "Enter an http:// or https:// URL with a host, such as http://ollama:11434/v1 (%(problem)s).",
            code="invalid",
            params={"problem": problem},
        )


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
    base_url = models.CharField(
        max_length=200,  # the column URLField made
        blank=True,
        validators=[validate_base_url],
        help_text="Endpoint, e.g. http://ollama:11434/v1 for a self-hosted server; empty = the provider's own.",
    )
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

    # Fields the current full_clean() was told to leave alone (see full_clean).
    _not_judged: frozenset[str] = frozenset()

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):
        # A ModelForm excludes the fields it could not read (invalid JSON, say). The row
        # still holds their old values, so clean() must not judge them: it would show a
        # second, wrong error next to the real one.
        self._not_judged = frozenset(exclude or ())
        try:
            super().full_clean(exclude, validate_unique, validate_constraints)
        finally:
            del self._not_judged

    def clean(self):
        """The rules of `models_catalog.chat_model_problems`: one set for the admin site and
        `manage.py add_chat_model`."""
        from coding_agent.models_catalog import chat_model_problems  # the catalog imports this module

        if problems := chat_model_problems(self, skip=self._not_judged):
            raise ValidationError(problems)

    def validate_constraints(self, exclude=None):
        # One default at a time is kept by models_catalog.set_default, which moves it in one
        # transaction: ticking "default" on a second row moves the default, it is no error.
        super().validate_constraints(exclude={*(exclude or ()), "is_default"})


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
