"""One error type for the whole service, and the one DRF handler that renders it.

Domain functions raise `Error` subclasses whose `code` and `status` are class
attributes; views never build error bodies themselves. Every 4xx answers
`{"code", "message", "field"?, "fields"?}` (DESIGN.md §2).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback


class Error(Exception):
    code = "ERROR"
    status = 400
    message = "The request could not be completed."

    def __init__(
        self, message: str | None = None, *, field: str | None = None, fields: list[str] | None = None
    ):
        self.message = message or self.message
        self.field = field
        self.fields = fields
        super().__init__(self.message)

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.fields:
            body["fields"] = self.fields
        return body


class ValidationFailed(Error):
    code = "VALIDATION_FAILED"
    status = 400
    message = "The request body is not valid."


class NotFound(Error):
    code = "NOT_FOUND"
    status = 404
    message = "Not found."


class Conflict(Error):
    code = "CONFLICT"
    status = 409


def validation_error(exc: drf.ValidationError, code: str = ValidationFailed.code) -> dict:
    """Flatten DRF's nested validation detail into the contract's body."""
    detail = exc.detail
    if isinstance(detail, dict):
        keys = sorted(str(k) for k in detail)
        messages = []
        for key in keys:
            for where, text in _problems(detail[key], "" if key == "non_field_errors" else key):
                messages.append(f"{where}: {text}" if where else text)
        # DRF's `non_field_errors` (a body that is not an object, say) names no field.
        fields = [key for key in keys if key != "non_field_errors"]
        body = {"code": code, "message": "; ".join(messages) or ValidationFailed.message}
        if fields:
            body["fields"] = fields
        if len(fields) == 1:
            body["field"] = fields[0]
        return body
    problems = _problems(detail, "")
    return {"code": code, "message": problems[0][1] if problems else ValidationFailed.message}


def _problems(detail, where: str) -> list[tuple[str, str]]:
    """(location, first message) for each field at fault, down nested serializers and lists:
    `messages[0].role` rather than DRF's dict of ErrorDetail reprs."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            if key == "non_field_errors":
                found += _problems(value, where)
            elif isinstance(key, int):  # a ListSerializer's items, by index
                found += _problems(value, f"{where}[{key}]")
            else:
                found += _problems(value, f"{where}.{key}" if where else str(key))
        return found
    if isinstance(detail, list):
        if detail and all(isinstance(item, str) for item in detail):
            return [(where, str(detail[0]))]
        found = []
        for index, item in enumerate(detail):
            if item:  # valid items of a list come back as empty dicts
                found += _problems(item, f"{where}[{index}]")
        return found
    return [(where, str(detail))]


def exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error in one shape, keeping the atomic-request rollback."""
    view = context.get("view")
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, Error):
        body, status = exc.as_dict(), exc.status
    elif isinstance(exc, drf.ValidationError):
        code = getattr(view, "validation_error_code", ValidationFailed.code)
        body, status = validation_error(exc, code), exc.status_code
    elif isinstance(exc, drf.ParseError):
        code = getattr(view, "validation_error_code", ValidationFailed.code)
        body, status = {"code": code, "message": f"The body is not valid JSON: {exc.detail}"}, 400
    elif isinstance(exc, drf.APIException):
        code = {
            drf.NotAuthenticated: "NOT_AUTHENTICATED",
            drf.AuthenticationFailed: "AUTHENTICATION_FAILED",
            drf.PermissionDenied: "PERMISSION_DENIED",
            drf.NotFound: NotFound.code,
            drf.MethodNotAllowed: "METHOD_NOT_ALLOWED",
            drf.NotAcceptable: "NOT_ACCEPTABLE",
            drf.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
            drf.Throttled: "THROTTLED",
        }.get(type(exc), str(exc.default_code).upper())
        body, status = {"code": code, "message": str(exc.detail)}, exc.status_code
    else:
        return None  # a bug: let Django answer 500 and log it

    headers = {}
    if isinstance(exc, drf.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    set_rollback()
    return Response(body, status=status, headers=headers)


API_PREFIXES = ("/admin/", "/api/")  # the REST API lives under /admin/apps


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES) or request.path in ("/admin", "/api")


def _is_served_app(request) -> bool:
    """A published app or a draft preview: the app's own space, not the builder's pages."""
    path = request.path
    return path.startswith("/p/") or (path.startswith("/apps/") and "/preview/" in path)


def not_found(request, exception=None):
    """handler404: a path no view matched (an id that is not a UUID, a mistyped endpoint)
    answers the API's JSON body under the API's prefixes; the builder's pages answer a page
    with the site's header and a way back; an app's own paths, a plain page."""
    if _is_api(request):
        message = "No such endpoint or resource."
        if not request.path.startswith("/admin/apps"):
            message += " The REST API is under /admin/apps; the Django admin site is at /django-admin/."
        return JsonResponse(NotFound(message).as_dict(), status=404)
    if _is_served_app(request):
        return defaults.page_not_found(request, exception)
    return defaults.page_not_found(request, exception, template_name="errors/not_found.html")


def bad_request(request, exception=None):
    """handler400: what Django refuses before a view runs (a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, a malformed header) answers the API's JSON under its
    prefixes; a body too large is a 413 that says what to send instead."""
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        message = f"The request body is over the server's limit of {limit_mb:g} MB."
        if request.path.endswith("/coding-agent/runs"):
            message += (
                " Send fewer or shorter prior `messages`: only the most recent ones within "
                "APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS characters reach the agent anyway."
            )
        return JsonResponse({"code": "REQUEST_TOO_LARGE", "message": message}, status=413)
    return JsonResponse({"code": "BAD_REQUEST", "message": "The request could not be read."}, status=400)


def server_error(request):
    """handler500: the API's JSON body under its prefixes (the error is logged as usual)."""
    if _is_api(request):
        body = {"code": "SERVER_ERROR", "message": "The server failed on this request; it has been logged."}
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
