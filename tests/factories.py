"""Test data built through the product's own domain functions."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from published_apps.starters import create_app

_counter = itertools.count(1)


def make_user(username: str | None = None, *, password: str = "pass-1234", **extra):
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=password, **extra)


def make_app(owner, *, name: str = "Demo app", template: str = "landing"):
    return create_app(owner=owner, name=name, template=template)
