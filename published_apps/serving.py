"""Serving an app's files: the draft preview and the published app.

App code is written by a model, so it is treated as untrusted: every response carries
a Content-Security-Policy with `sandbox`, which gives the page an opaque origin even
when opened directly, so its scripts can never read this service's cookies or call
its API as the signed-in admin.

The price of the opaque origin: browsers send no (SameSite=Lax) session cookie with the
page's own requests for its CSS and JS. So the draft preview authenticates by a signed,
per-user capability in the path, `/apps/{id}/preview/~{token}/...`, which relative URLs
inside the page keep. A signed-in request without one is redirected to it. The capability
ends with the user's access to the app, their password and, when issued to a browser
session, that session (logging out), as a session cookie would. For the same reason the page's
own fetches, ES modules and fonts are cross-origin requests (from `null`): app files
answer `Access-Control-Allow-Origin: *`, which lets them load and carries no
credentials (the preview's capability is its path, which the page already has).
"""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.encoding import escape_uri_path
from django.views.decorators.http import require_safe

from published_apps import blobs
from published_apps.models import PreviewSession, PublishedApp, Revision
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
        return HttpResponseRedirect(escape_uri_path(request.path) + "/" + _query(request))
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
# A session's row is rewritten at most this often, and outlives its newest token by as much.
PREVIEW_SESSION_REFRESH = 3600


def preview_token(app: PublishedApp, user, *, session=None) -> str:
    """A capability to the app's draft for this user, revoked by what ends their access.

    Every request checks that the user is active and may act on the app. The token carries
    a tag of the user's session auth hash, so a new password revokes it as it ends their
    sessions; issued to a browser session of the user's, it is bound to that session too,
    so logging out (or the session expiring) revokes it.
    """
    data = {"a": str(app.pk), "u": user.pk, "p": _password_tag(user)}
    key_hash = _bind_session(session, user)
    if key_hash:
        data["s"] = key_hash
    return signing.dumps(data, salt=PREVIEW_TOKEN_SALT, compress=False)


def preview_url(app: PublishedApp, user, path: str = "", *, session=None) -> str:
    """The draft preview's URL for this user (the builder frames it; links open it).

    Pass the request's session: a URL made without it works until the user's password
    changes, not only until they log out.
    """
    return _capability_url(app.pk, preview_token(app, user, session=session), path)


def _capability_url(app_id, token: str, path: str) -> str:
    # `path` is decoded: quoted again, so `a%20b%3Fx` stays one path and never becomes a query.
    return f"/apps/{app_id}/preview/~{token}/{escape_uri_path(path)}"


def _password_tag(user) -> str:
    # A tag of the hash, not the hash itself: the token travels in URLs.
    return salted_hmac(PREVIEW_TOKEN_SALT, user.get_session_auth_hash(), algorithm="sha256").hexdigest()[:32]


def _session_is_users(session, user) -> bool:
    return bool(session.session_key) and session.get(SESSION_KEY) == user._meta.pk.value_to_string(user)


def _bind_session(session, user) -> str | None:
    """The keyed hash of the session's key, recorded so that a request without the session's
    cookie can find the session; None when the session is not the user's (an API token's)."""
    if session is None or not _session_is_users(session, user):
        return None
    key = session.session_key
    # The app list makes one URL per app: record the session once per request.
    if getattr(session, "_preview_key", None) == key:
        return session._preview_key_hash
    key_hash = salted_hmac(f"{PREVIEW_TOKEN_SALT}.session", key, algorithm="sha256").hexdigest()
    now = timezone.now()
    row, created = PreviewSession.objects.get_or_create(
        key_hash=key_hash, defaults={"session_key": key, "issued_at": now}
    )
    if created:
        # Rows whose newest token has expired lead nowhere any more.
        stale = now - timedelta(seconds=PREVIEW_TOKEN_MAX_AGE + PREVIEW_SESSION_REFRESH)
        PreviewSession.objects.filter(issued_at__lt=stale).delete()
    elif row.issued_at < now - timedelta(seconds=PREVIEW_SESSION_REFRESH):
        PreviewSession.objects.filter(pk=key_hash).update(issued_at=now)
    session._preview_key, session._preview_key_hash = key, key_hash
    return key_hash


def _session_alive(key_hash: str, user) -> bool:
    """The bound session still exists (not logged out, not expired) and is still the user's."""
    row = PreviewSession.objects.filter(pk=key_hash).first()
    if row is None:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(row.session_key)
    return _session_is_users(session, user)


def _read_token(token: str, app_id) -> tuple[object | None, bool]:
    """The token's user while it is valid for this app, and whether it is bound to a session."""
    try:
        data = signing.loads(token, salt=PREVIEW_TOKEN_SALT, max_age=PREVIEW_TOKEN_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None, False
    if not isinstance(data, dict) or data.get("a") != str(app_id):
        return None, False
    user = get_user_model().objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None or not constant_time_compare(str(data.get("p")), _password_tag(user)):
        return None, False
    bound = "s" in data
    if bound and not _session_alive(str(data["s"]), user):
        return None, False
    return user, bound


def _token_user(token: str, app_id):
    return _read_token(token, app_id)[0]


@require_safe
def preview(request, app_id, path=""):
    """The draft revision, for the app's owner and members only (others get 404)."""
    token = None
    bare_token = False  # `~{token}` without its slash: relative URLs would resolve above it
    if path.startswith("~"):
        token, slash, path = path[1:].partition("/")
        bare_token = not slash
    user, bound = _read_token(token, app_id) if token else (None, False)
    # Issue a fresh one for none, a bad, expired or revoked one, and for one made without a
    # session (the builder page's) while this request has the user's session cookie: the
    # page's own requests, which carry no cookie, then carry one that logging out revokes.
    needs_token = user is None or (not bound and _session_is_users(request.session, user))
    if needs_token:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        user = request.user
    app = PublishedApp.objects.select_related("draft_revision").get_for_page(user, app_id)
    if needs_token:
        url = preview_url(app, user, path, session=request.session)
        return HttpResponseRedirect(url + _query(request))
    if bare_token:
        return HttpResponseRedirect(_capability_url(app.pk, token, path) + _query(request))
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
