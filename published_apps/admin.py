from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from config.errors import Error
from published_apps import revisions, starters
from published_apps.models import Blob, Checkpoint, PublishedApp, Revision


class AddAppForm(forms.ModelForm):
    """A new app as every other way makes one: its first revision is a starter template."""

    template = forms.ChoiceField(help_text="The app's first revision, draft and checkpoint.")

    class Meta:
        model = PublishedApp
        fields = ["name", "owner", "members"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(s.name, s.label) for s in starters.available_starters().values()]
        self.fields["template"].choices = choices
        self.fields["template"].initial = starters.DEFAULT_STARTER

    def clean_name(self):
        try:
            return starters.clean_name(self.cleaned_data.get("name"))
        except Error as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(PublishedApp)
class PublishedAppAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "owner", "template", "draft_revision", "published_revision", "created_at"]
    list_filter = ["template", "created_at"]
    search_fields = ["name", "slug", "owner__username"]
    filter_horizontal = ["members"]
    raw_id_fields = ["owner"]
    # History moves only by runs, restores and publishing: a revision typed in here could
    # be another app's (another tenant's), served under this app's name.
    readonly_fields = [
        "id",
        "template",
        "draft_revision",
        "published_revision",
        "created_at",
        "updated_at",
        "published_at",
        "preview_link",
    ]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AddAppForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "owner", "template", "members"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = starters.create_app(
            owner=form.cleaned_data["owner"],
            name=form.cleaned_data["name"],
            template=form.cleaned_data["template"],
        )
        # The admin goes on with `obj` (members, the log entry, the redirect): make it the new row.
        obj.__dict__.update({k: v for k, v in created.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = created._state.db

    @admin.display(description="Preview")
    def preview_link(self, app):
        return format_html('<a href="/apps/{}/preview/" target="_blank">Open draft preview</a>', app.id)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History rows are immutable: viewable, never edited or deleted from the admin."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Revision)
class RevisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "app", "source", "partial", "run", "file_count", "message", "created_at"]
    list_filter = ["source", "partial", "app"]
    search_fields = ["id", "app__name", "message", "tree_sha256"]
    list_select_related = ["app", "run"]
    readonly_fields = ["changes"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Files")
    def file_count(self, revision):
        return len(revision.manifest)

    @admin.display(description="Changed files")
    def changes(self, revision):
        rows = revisions.changes_from_parent(revision)
        return ", ".join(f"{c['change']} {c['path']}" for c in rows) or "—"


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["label", "app", "revision", "run", "created_at"]
    list_filter = ["app"]
    search_fields = ["label", "app__name"]
    list_select_related = ["app", "revision", "run"]
    actions = ["restore"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Restore the selected checkpoint (as a new draft revision)")
    def restore(self, request, queryset):
        from coding_agent import runs

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one checkpoint to restore.", messages.ERROR)
            return
        checkpoint = queryset.get()
        try:
            revision, _ = runs.restore_checkpoint(
                app=checkpoint.app, checkpoint=checkpoint, user=request.user
            )
        except Error as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(
            request,
            f"Restored “{checkpoint.label}”: the draft of {checkpoint.app} is now revision {revision.pk}.",
            messages.SUCCESS,
        )


@admin.register(Blob)
class BlobAdmin(ReadOnlyAdmin):
    list_display = ["sha256", "size", "created_at"]
    search_fields = ["sha256"]
    exclude = ["data"]

    def has_add_permission(self, request):
        return False
