from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from published_apps import publishing, revisions, serving
from published_apps.models import PublishedApp, Revision
from published_apps.starters import available_starters


class TextField(serializers.CharField):
    """A CharField that takes only JSON strings: DRF's would turn `5` or `true` into "5"."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AppSerializer(serializers.ModelSerializer):
    draft_revision_id = serializers.UUIDField(read_only=True, allow_null=True)
    published_revision_id = serializers.UUIDField(read_only=True, allow_null=True)
    publish_url = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()
    builder_url = serializers.SerializerMethodField()

    class Meta:
        model = PublishedApp
        fields = [
            "id",
            "name",
            "slug",
            "template",
            "draft_revision_id",
            "published_revision_id",
            "publish_url",
            "preview_url",
            "builder_url",
            "published_at",
            "created_at",
        ]

    def get_publish_url(self, app) -> str | None:
        return publishing.publish_url(app, self.context.get("request"))

    def get_preview_url(self, app) -> str:
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return f"/apps/{app.id}/preview/"
        return serving.preview_url(app, request.user, session=request.session)

    def get_builder_url(self, app) -> str:
        return f"/apps/{app.id}/builder"


class CreateAppSerializer(serializers.Serializer):
    name = TextField(max_length=200, trim_whitespace=True)
    template = serializers.ChoiceField(choices=[], required=False, allow_null=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = sorted(available_starters())


class ChangedFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    change = serializers.ChoiceField(choices=["added", "modified", "deleted", "renamed"])
    from_path = serializers.CharField(required=False)


class RevisionSerializer(serializers.ModelSerializer):
    parent_id = serializers.UUIDField(read_only=True, allow_null=True)
    run_id = serializers.UUIDField(read_only=True, allow_null=True)
    changed_files = serializers.SerializerMethodField()

    class Meta:
        model = Revision
        fields = [
            "id",
            "parent_id",
            "source",
            "run_id",
            "message",
            "partial",
            "tree_sha256",
            "created_at",
            "changed_files",
        ]

    @extend_schema_field(ChangedFileSerializer(many=True))
    def get_changed_files(self, revision) -> list[dict]:
        return revisions.changes_from_parent(revision)


class FileEntrySerializer(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    mode = serializers.CharField()
