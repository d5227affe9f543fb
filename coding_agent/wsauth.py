"""Websocket authentication: the session cookie (browser) or `Authorization: Token …` (REST clients)."""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


@database_sync_to_async
def user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """An `Authorization: Token <key>` header, when present, decides who the user is."""

    async def __call__(self, scope, receive, send):
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                kind, _, key = value.decode("latin1").partition(" ")
                if kind.lower() == "token" and key.strip():
                    scope["user"] = await user_for_token(key.strip())
        return await super().__call__(scope, receive, send)


class OriginCheck:
    """Refuse cross-site websocket hijacking: a browser always sends Origin, and it must be ours.

    Ours means what Django's CSRF check means by it: the origin of the page is the host and
    port the socket was opened on (its `Host` header), or one of CSRF_TRUSTED_ORIGINS. A host
    name in ALLOWED_HOSTS is not enough: cookies ignore ports, so a page served by anything
    else on the same host (another port) or, with `.example.com`, on any subdomain would
    otherwise ride the session. The scheme is not compared, as a TLS-terminating proxy hands
    us `ws` for a page on `https`.

    Channels' own validator also refuses a *missing* Origin, which would shut out every
    non-browser REST client; those cannot be driven by a hostile page, so they pass.
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin")
        if origin is not None and not is_our_origin(
            origin.decode("latin1"), headers.get(b"host", b"").decode("latin1")
        ):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def is_our_origin(origin: str, host: str) -> bool:
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False  # `null` (a sandboxed app page, a file: URL) is nobody's origin
    if host and parsed.netloc.lower() == host.lower():
        # As Django answers only hosts in ALLOWED_HOSTS: a rebound DNS name is not ours.
        domain, _ = split_domain_port(parsed.netloc.lower())
        return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        scheme, _, netloc = trusted.partition("://")
        if scheme == parsed.scheme and (
            netloc == parsed.netloc or (netloc.startswith("*") and is_same_domain(parsed.netloc, netloc[1:]))
        ):
            return True
    return False


def SessionOrTokenAuthMiddleware(inner):  # noqa: N802 (named like Channels' AuthMiddlewareStack)
    return OriginCheck(AuthMiddlewareStack(TokenAuthMiddleware(inner)))
