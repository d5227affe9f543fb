from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import F
from django.utils import timezone

from coding_agent import models_catalog, runs
from coding_agent.models import AgentRun, ChatModel, RunEvent, ToolCall
from published_apps.admin import AppScopedAdmin


class OptionalJSONField(forms.JSONField):
    """No script shows an empty box, not the JSON `null` (which then reads as an error)."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class ChatModelForm(forms.ModelForm):
    """Its rules are the model's (ChatModel.clean), so it refuses what add_chat_model refuses,
    and a blank label defaults to the id, as there."""

    script = OptionalJSONField(required=False, help_text=ChatModel._meta.get_field("script").help_text)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].required = False
        self.fields["label"].help_text = "Shown in the model picker; blank means the id."

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("label") or "").strip() and cleaned.get("id"):
            cleaned["label"] = cleaned["id"]
            self.instance.label = cleaned["id"]
        return cleaned

    class Meta:
        model = ChatModel
        fields = [
            "id",
            "label",
            "provider",
            "model_name",
            "base_url",
            "api_key_env",
            "script",
            "is_active",
            "is_default",
        ]


@admin.register(ChatModel)
class ChatModelAdmin(admin.ModelAdmin):
    form = ChatModelForm
    list_display = ["id", "label", "provider", "model_name", "is_active", "is_default", "updated_at"]
    list_filter = ["provider", "is_active", "is_default"]
    search_fields = ["id", "label", "model_name"]

    def save_model(self, request, obj, form, change):
        # Ticking "default" moves the default here (one transaction) instead of tripping
        # the one-default constraint.
        make_default = obj.is_default
        if make_default:
            obj.is_default = False
        super().save_model(request, obj, form, change)
        if make_default:
            models_catalog.set_default(obj)


class RunEventInline(admin.TabularInline):
    """The run's event timeline, in seq order.

    A run's events are milliseconds apart, so minutes ("8:47 a.m." on every row) say nothing.
    Each row shows its wall-clock time to the millisecond, which matches the log lines of the
    server and workers, and its offset from the run's creation, which reads as durations
    (queue wait, model latency, tool time) without subtracting. The date is the run's.
    """

    model = RunEvent
    fields = ["seq", "event", "time", "since_start", "payload"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["seq"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(run_created_at=F("run__created_at"))

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="time")
    def time(self, event: RunEvent) -> str:
        return timezone.localtime(event.created_at).strftime("%H:%M:%S.%f")[:-3]

    @admin.display(description="since start")
    def since_start(self, event: RunEvent) -> str:
        return stopwatch(event.created_at - event.run_created_at)


def stopwatch(elapsed: timedelta) -> str:
    """`+0:01.345`, `+12:03.500`, `+1:02:03.000`: minutes and seconds to the millisecond."""
    sign = "-" if elapsed < timedelta(0) else "+"  # clocks of two machines may disagree
    ms = round(abs(elapsed).total_seconds() * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    clock = f"{minutes:02d}:{seconds:02d}.{ms:03d}" if hours else f"{minutes}:{seconds:02d}.{ms:03d}"
    return f"{sign}{hours}:{clock}" if hours else f"{sign}{clock}"


class ToolCallInline(admin.TabularInline):
    model = ToolCall
    fields = ["tool_call_id", "tool", "status", "started_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AgentRun)
class AgentRunAdmin(AppScopedAdmin):
    actions = ["cancel_runs"]
    list_display = [
        "id",
        "app",
        "status",
        "execution_engine",
        "resolved_model_id",
        "error_code",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "execution_engine", "resolved_model_id", "error_code", "created_at"]
    search_fields = ["id", "app__name", "input"]
    list_select_related = ["app"]
    inlines = [ToolCallInline, RunEventInline]
    readonly_fields = [f.name for f in AgentRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # A run's row belongs to its worker. Saving the page would write back the whole
        # row as it was when the page loaded (its event counter, lease, status), and the
        # worker's next event would then collide with one it already wrote.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request, queryset):
        asked, finished = 0, 0
        for run in queryset:
            try:
                runs.cancel_run(run=run)
                asked += 1
            except runs.RunFinished:
                finished += 1
        if asked:
            self.message_user(request, f"Asked {asked} run(s) to stop.", messages.SUCCESS)
        if finished:
            self.message_user(request, f"{finished} run(s) had already finished.", messages.WARNING)


@admin.register(RunEvent)
class RunEventAdmin(AppScopedAdmin):
    app_path = "run__app"
    list_display = ["run", "seq", "event", "created_at"]
    list_filter = ["event"]
    search_fields = ["run__id"]
    readonly_fields = ["run", "seq", "event", "payload", "diagnostics", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ToolCall)
class ToolCallAdmin(AppScopedAdmin):
    app_path = "run__app"
    list_display = ["run", "tool_call_id", "tool", "status", "started_at", "finished_at"]
    list_filter = ["tool", "status"]
    search_fields = ["run__id", "tool_call_id"]
    readonly_fields = ["run", "tool_call_id", "tool", "args", "status", "result", "started_at", "finished_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
