from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class NewestFirst(CursorPagination):
    """Cursor pages, newest first: `{"results": [...], "next": url | null}` (DESIGN.md §2).

    A cursor is opaque: one that was not handed out by `next` (mistyped, cut short,
    edited) is a 400 naming `cursor`, whether it fails to decode or decodes to a position
    the database cannot compare."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-created_at"

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise _bad_cursor() from None

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, OverflowError):
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise _bad_cursor() from None

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {"results": schema, "next": {"type": "string", "nullable": True, "format": "uri"}},
        }


def _bad_cursor() -> serializers.ValidationError:
    return serializers.ValidationError(
        {"cursor": ["Not a cursor this list handed out; start again without it."]}
    )
