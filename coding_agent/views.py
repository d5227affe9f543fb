"""Coding-agent REST endpoints under /admin/apps/{app_id}/coding-agent/ (DESIGN.md §2)."""

from __future__ import annotations

import functools

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from coding_agent import events as run_events
from coding_agent import models_catalog, runs, sse
from coding_agent.models import AgentRun
from coding_agent.serializers import CheckpointSerializer, CreateRunSerializer, RunSerializer
from config.api import api_view
from config.errors import NotFound
from config.negotiation import raw_success
from published_apps.models import Checkpoint, PublishedApp
from published_apps.pagination import NewestFirst
from published_apps.serializers import RevisionSerializer
from published_apps.views import ERROR

VALIDATION_CODE = "CODING_AGENT_VALIDATION_FAILED"
AFTER_SEQ = OpenApiParameter(
    "after_seq", OpenApiTypes.INT, description="Only events with a greater seq (default 0)."
)


def get_run(user, app_id, run_id) -> AgentRun:
    app = PublishedApp.objects.get_for(user, app_id)
    try:
        return app.runs.get(pk=run_id)
    except (AgentRun.DoesNotExist, ValueError, ValidationError):
        raise NotFound("Run not found.")


def may_follow(user_id, app_id, run_id) -> bool:
    """Whether the user, as the database has them now, may still see the run: a stream's
    periodic re-check (removed from the app, deactivated)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    try:
        return user is not None and bool(get_run(user, app_id, run_id))
    except NotFound:
        return False


def after_seq_param(request) -> int:
    """Where a stream resumes: `Last-Event-ID` first, since EventSource sends it on each
    reconnection to the URL it first opened (whose `after_seq` is then out of date), then
    `?after_seq`, then 0."""
    field, raw = "Last-Event-ID", request.headers.get("Last-Event-ID")
    if not raw:
        field, raw = "after_seq", request.query_params.get("after_seq") or "0"
    try:
        value = int(raw)
    except ValueError:
        raise serializers.ValidationError({field: ["Must be a whole number."]})
    if value < 0:
        raise serializers.ValidationError({field: ["Must be 0 or more."]})
    return value


def _validation(view):
    view.cls.validation_error_code = VALIDATION_CODE
    return view


@_validation
@extend_schema(
    summary="Chat models a run may pick: Auto first, then active models",
    responses={
        200: inline_serializer(
            "ModelList",
            {
                "models": inline_serializer(
                    "ChatModelChoice",
                    {
                        "id": serializers.CharField(),
                        "label": serializers.CharField(),
                        "provider": serializers.CharField(allow_null=True),
                        "is_default": serializers.BooleanField(),
                        "note": serializers.CharField(allow_null=True),
                    },
                    many=True,
                )
            },
        ),
        404: ERROR,
    },
)
@api_view(["GET"])
def list_models(request, app_id):
    PublishedApp.objects.get_for(request.user, app_id)
    return Response({"models": models_catalog.list_models()})


@_validation
@extend_schema(
    methods=["POST"],
    summary="Create a run",
    request=CreateRunSerializer,
    responses={202: RunSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
)
@extend_schema(
    methods=["GET"],
    summary="Runs of the app, newest first",
    responses={200: RunSerializer(many=True), 404: ERROR},
)
@api_view(["GET", "POST"])
def runs_collection(request, app_id):
    app = PublishedApp.objects.get_for(request.user, app_id)
    if request.method != "POST":  # GET, or HEAD (config/api.py): list, never create
        paginator = NewestFirst()
        page = paginator.paginate_queryset(app.runs.all(), request)
        return paginator.get_paginated_response(RunSerializer(page, many=True).data)
    body = CreateRunSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    run = runs.start_run(
        app=app,
        user=request.user,
        input=data["input"],
        messages=data.get("messages") or [],
        model_id=data.get("model_id") or None,
        engine=data.get("engine") or "native",
    )
    return Response(RunSerializer(run).data, status=202)


@_validation
@extend_schema(summary="One run", responses={200: RunSerializer, 404: ERROR})
@api_view(["GET"])
def get_run_view(request, app_id, run_id):
    return Response(RunSerializer(get_run(request.user, app_id, run_id)).data)


@_validation
@extend_schema(
    summary="Ask a run to stop", request=None, responses={202: RunSerializer, 404: ERROR, 409: ERROR}
)
@api_view(["POST"])
def cancel_run(request, app_id, run_id):
    run = runs.cancel_run(run=get_run(request.user, app_id, run_id))
    return Response(RunSerializer(run).data, status=202)


@_validation
@extend_schema(
    summary="Persisted events after a seq, a page at a time",
    description=(
        "At most one page of the run's persisted events after `after_seq`, in order. When `has_more` "
        "is true there are more: ask again with `after_seq` set to the last event's `seq`."
    ),
    parameters=[AFTER_SEQ],
    responses={
        200: inline_serializer(
            "EventList",
            {
                "events": serializers.ListField(child=serializers.DictField()),
                "has_more": serializers.BooleanField(
                    help_text="More events follow this page: ask again after its last seq."
                ),
            },
        ),
        404: ERROR,
    },
)
@api_view(["GET"])
def list_events(request, app_id, run_id):
    run = get_run(request.user, app_id, run_id)
    page_size = run_events.EVENTS_PAGE_SIZE
    # One more than a page: whether it comes back says if more follow, without a count.
    envelopes = run_events.events_after(run, after_seq_param(request), limit=page_size + 1)
    return Response({"events": envelopes[:page_size], "has_more": len(envelopes) > page_size})


@_validation
@extend_schema(
    summary="Server-sent events of the run; resumes after Last-Event-ID or ?after_seq",
    parameters=[
        AFTER_SEQ,
        OpenApiParameter("Last-Event-ID", OpenApiTypes.INT, location=OpenApiParameter.HEADER),
    ],
    responses={(200, "text/event-stream"): OpenApiTypes.STR, 404: ERROR},
)
@raw_success
@api_view(["GET"])
def stream_run(request, app_id, run_id):
    run = get_run(request.user, app_id, run_id)
    after_seq = after_seq_param(request)
    # HEAD gets the stream's headers only: the server would drop the body anyway, but
    # only after following the run to its end.
    if request.method == "GET":
        allowed = database_sync_to_async(functools.partial(may_follow, request.user.pk, app_id, run.pk))
        events = sse.event_stream(run.pk, after_seq, allowed=allowed)
    else:
        events = sse.no_events()
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@_validation
@extend_schema(
    summary="Checkpoints of the app, newest first",
    responses={200: CheckpointSerializer(many=True), 404: ERROR},
)
@api_view(["GET"])
def list_checkpoints(request, app_id):
    app = PublishedApp.objects.get_for(request.user, app_id)
    paginator = NewestFirst()
    page = paginator.paginate_queryset(app.checkpoints.select_related("revision__parent"), request)
    return paginator.get_paginated_response(CheckpointSerializer(page, many=True).data)


@_validation
@extend_schema(
    summary="Make a new draft revision equal to the checkpoint's",
    request=None,
    responses={
        200: inline_serializer(
            "Restored", {"revision": RevisionSerializer(), "checkpoint": CheckpointSerializer()}
        ),
        404: ERROR,
        409: ERROR,
    },
)
@api_view(["POST"])
def restore_checkpoint(request, app_id, checkpoint_id):
    app = PublishedApp.objects.get_for(request.user, app_id)
    try:
        checkpoint = app.checkpoints.get(pk=checkpoint_id)
    except (Checkpoint.DoesNotExist, ValueError, ValidationError):
        raise NotFound("Checkpoint not found.")
    revision, restored = runs.restore_checkpoint(app=app, checkpoint=checkpoint, user=request.user)
    return Response(
        {"revision": RevisionSerializer(revision).data, "checkpoint": CheckpointSerializer(restored).data}
    )
