from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from coding_agent.engines import ENGINES
from coding_agent.models import AgentRun
from published_apps import revisions
from published_apps.models import Checkpoint
from published_apps.serializers import ChangedFileSerializer, TextField


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["user", "assistant"])
    content = TextField(allow_blank=True, trim_whitespace=False)


class CreateRunSerializer(serializers.Serializer):
    input = TextField(trim_whitespace=False, max_length=100_000)
    messages = MessageSerializer(many=True, required=False)
    model_id = TextField(required=False, allow_null=True, allow_blank=True, max_length=100)
    engine = serializers.ChoiceField(choices=list(ENGINES), required=False, default="native")

    def validate_input(self, value):
        if not value.strip():
            raise serializers.ValidationError("Write an instruction for the agent.")
        return value


class RunErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class RunSerializer(serializers.ModelSerializer):
    app_id = serializers.UUIDField(read_only=True)
    base_revision_id = serializers.UUIDField(read_only=True, allow_null=True)
    result_revision_id = serializers.UUIDField(read_only=True, allow_null=True)
    checkpoint_id = serializers.UUIDField(read_only=True, allow_null=True)
    error = serializers.SerializerMethodField()

    class Meta:
        model = AgentRun
        fields = [
            "id",
            "app_id",
            "status",
            "input",
            "requested_model_id",
            "resolved_model_id",
            "model_resolution",
            "execution_engine",
            "engine_run_ref",
            "base_revision_id",
            "result_revision_id",
            "checkpoint_id",
            "error",
            "usage",
            "final_text",
            "compaction",
            "last_seq",
            "cancel_requested_at",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_error(self, run) -> RunErrorSerializer(allow_null=True):
        return run.error


class CheckpointSerializer(serializers.ModelSerializer):
    revision_id = serializers.UUIDField(read_only=True)
    run_id = serializers.UUIDField(read_only=True, allow_null=True)
    parent_revision_id = serializers.SerializerMethodField()
    changed_files = serializers.SerializerMethodField()
    partial = serializers.BooleanField(source="revision.partial", read_only=True)
    source = serializers.CharField(source="revision.source", read_only=True)

    class Meta:
        model = Checkpoint
        fields = [
            "id",
            "label",
            "revision_id",
            "parent_revision_id",
            "run_id",
            "source",
            "partial",
            "changed_files",
            "created_at",
        ]

    def get_parent_revision_id(self, checkpoint) -> str | None:
        parent = checkpoint.revision.parent_id
        return str(parent) if parent else None

    @extend_schema_field(ChangedFileSerializer(many=True))
    def get_changed_files(self, checkpoint) -> list[dict]:
        return revisions.changes_from_parent(checkpoint.revision)
