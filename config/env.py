"""Small helpers that read settings from the environment and fail loudly on a bad value.

A typo in a deployment's environment must stop the process at start-up with a message
that names the variable, not surface later as a surprising default.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, compared without case; unset or empty means `default`."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    for choice in choices:
        if raw.strip().lower() == choice.lower():
            return choice
    raise ImproperlyConfigured(f"{name}={raw!r} is not one of {', '.join(choices)}.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum of {maximum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, *, schemes: tuple[str, ...], base: bool = False) -> str | None:
    """An optional URL whose scheme must be one of `schemes`; unset or empty means None.

    An http(s) URL must also have a host, and `base=True` (a URL that paths are appended
    to) refuses a query or fragment, which would end up in the middle of every URL.
    """
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; got {value!r}."
        )
    problem = http_url_problem(value) if scheme in ("http", "https") else None
    if problem is None and base and ("?" in value or "#" in value):
        problem = "it has a query or fragment; give the base only, such as https://apps.example.com"
    if problem:
        raise ImproperlyConfigured(f"{name} is not a usable URL: {problem}.")
    return value


# One DNS label; \w also takes "_" (Docker names may have it) and non-ASCII letters.
HOST_LABEL_RE = re.compile(r"(?!-)[\w-]{1,63}(?<!-)")


def http_url_problem(value: str, *, credentials_hint: str = "") -> str | None:
    """Why `value` is not an http(s) URL with a host, or None. A host may be a single name
    (`http://ollama:11434/v1`): inside Docker Compose or Kubernetes a server's address is
    often just a service name, which Django's URLValidator refuses."""
    # The URL itself is never echoed: it may carry a password.
    if any(char.isspace() for char in value):
        return "it contains a space"
    if not value.isprintable():
        return "it contains a control character"
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed or invalid "[...]" host
        return "it is not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"the scheme is '{parts.scheme}'" if parts.scheme else "it has no scheme"
    if "@" in parts.netloc:
        return "it has a user name or password" + (f"; {credentials_hint}" if credentials_hint else "")
    try:
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        return "the port is not a number from 0 to 65535"
    host = parts.hostname or ""
    if not host:
        return "it has no host"
    if parts.netloc.startswith("["):
        return None if _is_ip(host, ipaddress.IPv6Address) else "it is not a URL"
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(HOST_LABEL_RE.fullmatch(label) for label in labels):
        return f"'{host}' is not a host name"
    if all(label.isdigit() for label in labels) and not _is_ip(host, ipaddress.IPv4Address):
        return f"'{host}' is not an IPv4 address"
    return None


def _is_ip(host: str, kind) -> bool:
    try:
        kind(host)
    except ValueError:
        return False
    return True
