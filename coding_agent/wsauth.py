"""Websocket authentication: the session cookie (browser) or `Authorization: Token …` (REST clients)."""

from __future__ import annotations

from urllib.parse import urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host


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
    """Refuse cross-site websocket hijacking: a browser always sends Origin, and it must be one of ours.

    Channels' own validator also refuses a *missing* Origin, which would shut out every
    non-browser REST client; those cannot be driven by a hostile page, so they pass.
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = next((v for k, v in scope.get("headers", []) if k == b"origin"), None)
        if origin is not None:
            parsed = urlparse(origin.decode("latin1"))
            allowed = settings.ALLOWED_HOSTS + (
                ["testserver"] if "testserver" not in settings.ALLOWED_HOSTS else []
            )
            if not parsed.hostname or not validate_host(parsed.hostname, allowed):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def SessionOrTokenAuthMiddleware(inner):  # noqa: N802 (named like Channels' AuthMiddlewareStack)
    return OriginCheck(AuthMiddlewareStack(TokenAuthMiddleware(inner)))
