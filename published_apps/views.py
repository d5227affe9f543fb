"""Apps REST endpoints (DESIGN.md §2): parse, call one domain function, serialize."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from config.api import api_view
from config.errors import NotFound
from config.negotiation import raw_success
from published_apps import blobs, publishing, revisions, serving, starters
from published_apps.models import PublishedApp, Revision
from published_apps.pagination import NewestFirst
from published_apps.serializers import (
    AppSerializer,
    CreateAppSerializer,
    FileEntrySerializer,
    RevisionSerializer,
)
from sandbox.paths import PolicyError, normalize

ERROR = inline_serializer(
    "Error",
    {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "field": serializers.CharField(required=False),
        "fields": serializers.ListField(child=serializers.CharField(), required=False),
    },
)
REVISION_PARAM = OpenApiParameter(
    "revision", OpenApiTypes.UUID, description="Revision id (default: the draft)."
)


def get_revision(app: PublishedApp, revision_id: str | None) -> Revision:
    """A revision of this app by id, or the draft; anything else is 404."""
    if not revision_id:
        if app.draft_revision is None:
            raise NotFound("The app has no draft revision.")
        return app.draft_revision
    try:
        return app.revisions.get(pk=revision_id)
    except (Revision.DoesNotExist, ValueError, ValidationError):
        raise NotFound("Revision not found.")


@extend_schema(
    methods=["GET"],
    summary="List the caller's apps",
    operation_id="apps_list",
    responses={200: inline_serializer("AppList", {"results": AppSerializer(many=True)})},
)
@extend_schema(
    methods=["POST"],
    summary="Create an app from a starter template",
    request=CreateAppSerializer,
    responses={201: AppSerializer, 400: ERROR},
)
@api_view(["GET", "POST"])
def apps(request):
    if request.method == "POST":
        body = CreateAppSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        app = starters.create_app(owner=request.user, **body.validated_data)
        return Response(AppSerializer(app, context={"request": request}).data, status=201)
    queryset = PublishedApp.objects.accessible_to(request.user).order_by("-created_at")
    return Response({"results": AppSerializer(queryset, many=True, context={"request": request}).data})


@extend_schema(summary="Get one app", responses={200: AppSerializer, 404: ERROR})
@api_view(["GET"])
def get_app(request, app_id):
    app = PublishedApp.objects.get_for(request.user, app_id)
    return Response(AppSerializer(app, context={"request": request}).data)


@extend_schema(
    summary="List an app's revisions, newest first",
    responses={200: RevisionSerializer(many=True), 404: ERROR},
)
@api_view(["GET"])
def list_revisions(request, app_id):
    app = PublishedApp.objects.get_for(request.user, app_id)
    paginator = NewestFirst()
    page = paginator.paginate_queryset(app.revisions.select_related("parent"), request)
    return paginator.get_paginated_response(RevisionSerializer(page, many=True).data)


@extend_schema(
    summary="Manifest of a revision (default: the draft)",
    operation_id="apps_files_list",
    parameters=[REVISION_PARAM],
    responses={200: inline_serializer("FileList", {"results": FileEntrySerializer(many=True)}), 404: ERROR},
)
@api_view(["GET"])
def list_files(request, app_id):
    app = PublishedApp.objects.get_for(request.user, app_id)
    revision = get_revision(app, request.query_params.get("revision"))
    entries = [{"path": path, **entry} for path, entry in sorted(revision.manifest.items())]
    return Response(
        {"results": FileEntrySerializer(entries, many=True).data, "revision_id": str(revision.id)}
    )


@extend_schema(
    summary="One file's content (raw bytes)",
    parameters=[REVISION_PARAM],
    responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERROR},
)
@raw_success
@api_view(["GET"])
def get_file(request, app_id, path):
    app = PublishedApp.objects.get_for(request.user, app_id)
    revision = get_revision(app, request.query_params.get("revision"))
    try:
        rel = normalize(path)
    except PolicyError as exc:
        raise NotFound(exc.message)
    entry = revision.manifest.get(rel)
    if entry is None:
        raise NotFound(f"No file {rel!r} in this revision.")
    etag = f'"{entry["sha256"]}"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        blobs.read(entry["sha256"], name=rel), content_type=serving.content_type_for(rel)
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    # Raw file bytes are data for the client, never a page to run on this origin.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["ETag"] = etag
    return response


@extend_schema(
    summary="Unified diff between two revisions (default: against the parent)",
    parameters=[
        OpenApiParameter("against", OpenApiTypes.UUID, description="Base revision (default: the parent).")
    ],
    responses={(200, "text/plain"): OpenApiTypes.STR, 404: ERROR},
)
@raw_success
@api_view(["GET"])
def diff_revision(request, app_id, revision_id):
    app = PublishedApp.objects.get_for(request.user, app_id)
    revision = get_revision(app, str(revision_id))
    against_id = request.query_params.get("against")
    base = get_revision(app, against_id) if against_id else revision.parent
    return HttpResponse(revisions.diff_text(base, revision), content_type="text/plain; charset=utf-8")


@extend_schema(
    summary="Publish the draft revision", request=None, responses={200: AppSerializer, 404: ERROR, 409: ERROR}
)
@api_view(["POST"])
def publish_app(request, app_id):
    app = PublishedApp.objects.get_for(request.user, app_id)
    app = publishing.publish(app=app)
    return Response(AppSerializer(app, context={"request": request}).data)
