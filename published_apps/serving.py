"""Serving an app's files: the draft preview and the published app.

App code is written by a model, so it is treated as untrusted: every response carries
a Content-Security-Policy with `sandbox`, which gives the page an opaque origin even
when opened directly, so its scripts can never read this service's cookies or call
its API as the signed-in admin.

The price of the opaque origin: browsers send no (SameSite=Lax) session cookie with the
page's own requests for its CSS and JS. So the draft preview authenticates by a signed,
per-user capability in the path, `/apps/{id}/preview/~{token}/...`, which relative URLs
inside the page keep. A signed-in request without one is redirected to it. For the same reason the page's
own fetches, ES modules and fonts are cross-origin requests (from `null`): app files
answer `Access-Control-Allow-Origin: *`, which lets them load and carries no
credentials (the preview's capability is its path, which the page already has).
"""

from __future__ import annotations

import mimetypes

from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from published_apps import blobs
from published_apps.models import PublishedApp, Revision
from sandbox.paths import PolicyError, normalize

# Types whose guess differs between platforms' mime tables, or that we want explicit.
CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".map": "application/json",
}
# Python's own table, not the host's /etc/mime.types: one host maps `.ts` to
# `text/vnd.trolltech.linguist`, another to nothing. Anything unknown is octet-stream.
_BUILTIN_TYPES = mimetypes.MimeTypes()
TEXT_TYPES = ("text/", "application/json", "application/manifest+json", "image/svg+xml")

APP_CSP = "; ".join(
    [
        "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads",
        "default-src 'self' data: blob:",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'self'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


def content_type_for(path: str) -> str:
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    content_type = (
        CONTENT_TYPES.get(suffix) or _BUILTIN_TYPES.guess_type(path)[0] or "application/octet-stream"
    )
    if content_type.startswith(TEXT_TYPES):
        content_type += "; charset=utf-8"
    return content_type


def find_entry(revision: Revision, path: str) -> tuple[str, dict] | None:
    """The manifest entry a URL path names: `""` and `dir/` mean their index.html."""
    if path in ("", "/") or path.endswith("/"):
        path = path + "index.html"
    try:
        rel = normalize(path)
    except PolicyError:
        return None
    entry = revision.manifest.get(rel)
    if entry is not None:
        return rel, entry
    index = revision.manifest.get(f"{rel}/index.html")
    return (f"{rel}/index.html", index) if index is not None else None


def file_response(request, revision: Revision, path: str, *, cache_control: str) -> HttpResponse:
    found = find_entry(revision, path)
    if found is None:
        raise Http404("No such file in this app.")
    rel, entry = found
    if path and not path.endswith("/") and rel == f"{path.strip('/')}/index.html":
        # `/p/site/docs` -> `/p/site/docs/` so relative links inside the page resolve.
        return HttpResponseRedirect(request.path + "/" + _query(request))
    etag = f'"{entry["sha256"]}"'
    # If-None-Match as RFC 9110 reads it: weak tags (a proxy's gzip), lists and `*`.
    response = get_conditional_response(request, etag=etag)
    if response is None:
        try:
            response = HttpResponse(blobs.read(entry["sha256"], name=rel), content_type=content_type_for(rel))
        except blobs.BlobUnavailable as exc:
            return _app_headers(
                HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
            )
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return _app_headers(response)


def _app_headers(response: HttpResponse) -> HttpResponse:
    """What every answer from an app's own space carries (see the module's docstring)."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Content-Security-Policy"] = APP_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "same-origin"
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response


PREVIEW_TOKEN_SALT = "published_apps.preview"
PREVIEW_TOKEN_MAX_AGE = 12 * 3600


def preview_token(app: PublishedApp, user) -> str:
    return signing.dumps({"a": str(app.pk), "u": user.pk}, salt=PREVIEW_TOKEN_SALT, compress=False)


def preview_url(app: PublishedApp, user, path: str = "") -> str:
    """The draft preview's URL for this user (the builder frames it; links open it)."""
    return f"/apps/{app.pk}/preview/~{preview_token(app, user)}/{path}"


def _token_user(token: str, app_id):
    try:
        data = signing.loads(token, salt=PREVIEW_TOKEN_SALT, max_age=PREVIEW_TOKEN_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if data.get("a") != str(app_id):
        return None
    return get_user_model().objects.filter(pk=data.get("u"), is_active=True).first()


@require_safe
def preview(request, app_id, path=""):
    """The draft revision, for the app's owner and members only (others get 404)."""
    token = None
    bare_token = False  # `~{token}` without its slash: relative URLs would resolve above it
    if path.startswith("~"):
        token, slash, path = path[1:].partition("/")
        bare_token = not slash
    user = _token_user(token, app_id) if token else None
    needs_token = user is None  # none, or a bad or expired one: issue a fresh one
    if needs_token:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        user = request.user
    app = PublishedApp.objects.select_related("draft_revision").get_for_page(user, app_id)
    if needs_token or bare_token:
        return HttpResponseRedirect(preview_url(app, user, path) + _query(request))
    if app.draft_revision is None:
        raise Http404("The app has no draft yet.")
    return file_response(request, app.draft_revision, path, cache_control="no-cache")


def _query(request) -> str:
    query = request.META.get("QUERY_STRING")
    return f"?{query}" if query else ""


@require_safe
def published(request, slug, path=""):
    """The published revision, public to everyone at /p/{slug}/."""
    app = get_object_or_404(PublishedApp.objects.select_related("published_revision"), slug=slug)
    if app.published_revision is None:
        raise Http404("This app has not been published yet.")
    # Revalidated on every use (a 304 by ETag is cheap): with a max-age, a browser would
    # pair a newly published page with the scripts and styles it cached from the last one.
    return file_response(request, app.published_revision, path, cache_control="public, no-cache")
