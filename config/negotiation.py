"""Content negotiation for endpoints whose success is not JSON (files, diffs, SSE).

DRF refuses a request with 406 when no renderer matches its `Accept` header, yet these
views answer with their own `HttpResponse` (raw bytes, a diff, an event stream) and use a
renderer only for errors. So a client asking for `text/plain`, `text/event-stream` or
`application/octet-stream` gets what it asked for, and an error is JSON, labelled so.
"""

from rest_framework.negotiation import BaseContentNegotiation


class ErrorsAsJson(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


def raw_success(view):
    """For an `@api_view` function: never 406; errors render with its first renderer (JSON)."""
    view.cls.content_negotiation_class = ErrorsAsJson
    return view
