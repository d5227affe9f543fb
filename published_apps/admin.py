from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from config.errors import Error
from published_apps import revisions, starters
from published_apps.models import Blob, Checkpoint, PreviewSession, PublishedApp, Revision


class AppScopedAdmin(admin.ModelAdmin):
    """Rows of the apps the user may act on, as the REST API has it (owner or member;
    superusers all).

    A staff user's model permissions say what kind of row they may see, not whose: without
    this, "Can view agent run" showed every tenant's runs (their inputs, events and tool
    arguments), and the cancel action, which needs no change permission, stopped them;
    "Can view checkpoint" listed every tenant's history and restored their drafts, and
    "Can change app" let a staff user add themselves to any app's members. Actions act on
    this queryset, so they reach no further than the list does.
    """

    app_path = "app"  # the lookup from this model to its PublishedApp

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        apps = PublishedApp.objects.accessible_to(request.user).values("pk")
        return queryset.filter(**{f"{self.app_path}__in": apps})


# A plain `list_filter = ["app"]` offers every app in the database by name; this one offers
# only the apps of the rows the (scoped) queryset shows.
APP_FILTER = ("app", admin.RelatedOnlyFieldListFilter)


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
class PublishedAppAdmin(AppScopedAdmin):
    app_path = "pk"
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
            # As in the REST API, an app is made by its owner: only a superuser names another.
            owner = ["owner"] if request.user.is_superuser else []
            return ["name", *owner, "template", "members"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Handing an app to someone else would put it in another tenant's list (or take it
        # from its owner): the REST API has no way to do it, and here only a superuser does.
        return self.readonly_fields if request.user.is_superuser else [*self.readonly_fields, "owner"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = starters.create_app(
            owner=form.cleaned_data.get("owner") if request.user.is_superuser else request.user,
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
class RevisionAdmin(ReadOnlyAdmin, AppScopedAdmin):
    list_display = ["id", "app", "source", "partial", "run", "file_count", "message", "created_at"]
    list_filter = ["source", "partial", APP_FILTER]
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
class CheckpointAdmin(ReadOnlyAdmin, AppScopedAdmin):
    list_display = ["label", "app", "revision", "run", "created_at"]
    list_filter = [APP_FILTER]
    search_fields = ["label", "app__name"]
    list_select_related = ["app", "revision", "run"]
    actions = ["restore"]

    def has_add_permission(self, request):
        return False

    def has_restore_permission(self, request):
        # A restore moves the app's draft: a change to the app, which a view permission
        # never allows. Whose apps is the REST API's rule, checked in the action.
        return request.user.has_perm("published_apps.change_publishedapp")

    @admin.action(
        description="Restore the selected checkpoint (as a new draft revision)", permissions=["restore"]
    )
    def restore(self, request, queryset):
        from coding_agent import runs

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one checkpoint to restore.", messages.ERROR)
            return
        checkpoint = queryset.get()
        try:
            # The queryset is already scoped; asked again as the REST API asks, so the action
            # never rests on how the changelist happened to filter.
            app = PublishedApp.objects.get_for(request.user, checkpoint.app_id)
            revision, _ = runs.restore_checkpoint(app=app, checkpoint=checkpoint, user=request.user)
        except Error as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(
            request,
            f"Restored “{checkpoint.label}”: the draft of {checkpoint.app} is now revision {revision.pk}.",
            messages.SUCCESS,
        )


class SuperuserOnlyAdmin(ReadOnlyAdmin):
    """Rows that name no app to scope by (shared by every tenant): superusers only."""

    def has_add_permission(self, request):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Blob)
class BlobAdmin(SuperuserOnlyAdmin):
    list_display = ["sha256", "size", "created_at"]
    search_fields = ["sha256"]
    exclude = ["data"]


@admin.register(PreviewSession)
class PreviewSessionAdmin(SuperuserOnlyAdmin):
    list_display = ["key_hash", "issued_at"]
    exclude = ["session_key"]  # a session key is a login: never shown, even here
