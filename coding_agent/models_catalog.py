"""Which chat models a run may use, how `Auto` resolves, and how a row becomes a LangChain model.

Fail-closed (DESIGN.md §5): an unknown or inactive model id, or `Auto` without an active
default, is a `ModelUnavailable` error — never a silent fallback to another model.

API keys stay in the environment: a row names the variable (`api_key_env`), the key is
read from it only when the LangChain model is built, and it is never stored, logged or
put in an error message (LangChain keeps it as a `SecretStr`, so reprs show `**********`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from langchain_core.language_models.chat_models import BaseChatModel

from coding_agent.models import ChatModel
from coding_agent.scripted import ScriptedChatModel, validate_script
from config.errors import Error

AUTO_ID = "auto"
REQUEST_TIMEOUT_S = 120.0
MAX_RETRIES = 2

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Prefixes of common provider keys (OpenAI, Anthropic, Google, Groq, xAI, OpenRouter, HF, GitHub).
KEY_PREFIXES = ("sk-", "sk_", "gsk_", "xai-", "AIza", "hf_", "ghp_", "github_pat_", "Bearer ")


class ModelUnavailable(Error):
    code = "CODING_AGENT_MODEL_UNAVAILABLE"
    status = 400
    message = "The chat model is not available."

    def __init__(self, message: str | None = None, *, field: str | None = "model_id", fields=None):
        super().__init__(message, field=field, fields=fields)


@dataclass(frozen=True)
class Resolution:
    model: ChatModel
    reason: str  # why this model was chosen; stored on the run as `model_resolution`


def is_auto(model_id: str | None) -> bool:
    return not model_id or model_id == AUTO_ID


def display_label(chat_model: ChatModel) -> str:
    """The row's label, saying plainly when the model is scripted (no AI behind it)."""
    if chat_model.provider == ChatModel.Provider.SCRIPTED and "scripted" not in chat_model.label.lower():
        return f"{chat_model.label} — scripted"
    return chat_model.label


def default_model() -> ChatModel | None:
    return ChatModel.objects.filter(is_default=True, is_active=True).first()


def list_models() -> list[dict]:
    """`Auto` first, then the active models (DESIGN.md §2 `GET models`).

    `Auto`'s label names the model it resolves to right now and its `provider` is that
    model's provider (null when no default is configured); its `is_default` is false
    because `Auto` is not a row — the row it resolves to carries `is_default: true`.
    """
    rows = list(ChatModel.objects.filter(is_active=True).order_by("-is_default", "label", "id"))
    default = next((row for row in rows if row.is_default), None)
    auto = {
        "id": AUTO_ID,
        "label": f"Auto ({display_label(default)})" if default else "Auto (no default model configured)",
        "provider": default.provider if default else None,
        "is_default": False,
        "note": key_note(default) if default else None,
    }
    return [auto] + [
        {
            "id": row.id,
            "label": display_label(row),
            "provider": row.provider,
            "is_default": row.is_default,
            "note": key_note(row),
        }
        for row in rows
    ]


def key_note(row: ChatModel) -> str | None:
    """Why a run on this model would fail for want of its API key, when that is known here:
    only where this process executes the runs (embedded mode). Celery workers have their
    own environment, which the server cannot see."""
    if settings.RUN_EXECUTION != "inprocess" or row.provider == ChatModel.Provider.SCRIPTED:
        return None
    try:
        _api_key(row)
    except ModelUnavailable:
        if row.api_key_env and not api_key_env_problem(row.api_key_env):
            return f"Its API key ({row.api_key_env}) is not set on this server."
        return "It has no API key configured."
    return None


def resolve_model(model_id: str | None) -> Resolution:
    """Pin the model for a run: `None`, `""` or `"auto"` = the default active model."""
    if is_auto(model_id):
        chosen = default_model()
        if chosen is None:
            inactive = ChatModel.objects.filter(is_default=True).first()
            if inactive is not None:
                raise ModelUnavailable(
                    f"Auto cannot choose a model: the default model '{inactive.id}' is inactive. "
                    "Activate it or make another model the default."
                )
            raise ModelUnavailable(
                "Auto cannot choose a model: no default chat model is configured "
                "(manage.py add_chat_model ... --default)."
            )
        return Resolution(chosen, f"Auto: default active model '{chosen.id}'")

    chosen = ChatModel.objects.filter(pk=model_id).first()
    if chosen is None:
        raise ModelUnavailable(f"Chat model '{model_id}' does not exist.")
    if not chosen.is_active:
        raise ModelUnavailable(f"Chat model '{model_id}' is inactive.")
    return Resolution(chosen, f"Requested model '{chosen.id}'")


def set_default(chat_model: ChatModel) -> ChatModel:
    """Make `chat_model` the one default; the previous default is cleared in the same transaction."""
    if not chat_model.is_active:
        raise ModelUnavailable(f"Chat model '{chat_model.id}' is inactive and cannot be the default.")
    with transaction.atomic():
        # Lock the current default so two concurrent switches queue instead of tripping
        # the one-default constraint halfway.
        list(ChatModel.objects.select_for_update().filter(is_default=True))
        ChatModel.objects.filter(is_default=True).exclude(pk=chat_model.pk).update(is_default=False)
        ChatModel.objects.filter(pk=chat_model.pk).update(is_default=True)
    chat_model.is_default = True
    return chat_model


def api_key_env_problem(name: str) -> str | None:
    """Why `name` cannot be an environment variable name for a key, or None when it is fine.

    Guards against the commonest mistake: pasting the key itself where its variable's
    name belongs (the key would then sit in the database and the admin site).
    """
    if not name:
        return None
    has_lower, has_upper = bool(re.search(r"[a-z]", name)), bool(re.search(r"[A-Z]", name))
    has_digit = bool(re.search(r"\d", name))
    looks_like_key = (
        name.startswith(KEY_PREFIXES)
        or (len(name) >= 20 and not ENV_NAME_RE.match(name))
        or (len(name) >= 20 and "_" not in name and has_lower and has_digit)
        or (len(name) >= 32 and has_lower and has_upper and has_digit)
    )
    if looks_like_key:
        return (
            "This looks like an API key, not the name of an environment variable. Put the key in "
            "the environment (for example OPENAI_API_KEY=...) and pass the variable's name."
        )
    if not ENV_NAME_RE.match(name):
        return "must be an environment variable name: letters, digits and underscores, not starting with a digit."
    if name.upper().startswith("DJANGO_") or name.upper() in SECRET_SETTINGS:
        # Its value would go to the model server as the key: DJANGO_SECRET_KEY, or the
        # database's password, to whoever the row's base_url names.
        return (
            f"{name} is one of this service's own settings, not an API key variable; its value "
            "would be sent to the model server. Name a variable that holds only the key."
        )
    return None


SECRET_SETTINGS = frozenset({"DATABASE_URL", "REDIS_URL"})  # and DJANGO_*: settings that hold secrets


def chat_model_problems(row: ChatModel, *, skip: Collection[str] = ()) -> dict[str, list[str]]:
    """What is wrong with a chat model row, by field: the one rule set that the admin site and
    `manage.py add_chat_model` apply (through `ChatModel.clean()`).

    `skip` names fields whose value is not the one submitted (a form could not read them);
    no rule reads those, so the caller's own error for the field is the only one shown.
    A second row marked default is no problem: saving it through `set_default` moves the
    default. Un-marking or deactivating the current default is: Auto would resolve to nothing.
    """
    problems: dict[str, list[str]] = {}

    def known(*fields: str) -> bool:
        return not set(fields) & set(skip)

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if known("id") and row.id == AUTO_ID:
        add("id", f"'{AUTO_ID}' is reserved for automatic model choice.")
    provider = row.provider if known("provider") else None
    if provider == ChatModel.Provider.SCRIPTED:
        if known("script"):
            for problem in validate_script(row.script):
                add("script", problem)
        for field in ("base_url", "api_key_env"):
            if known(field) and getattr(row, field):
                add(field, "A scripted model makes no network calls: leave this empty.")
    elif provider in (ChatModel.Provider.OPENAI, ChatModel.Provider.ANTHROPIC):
        if known("script") and row.script is not None:
            add("script", "Only a scripted model plays a script: leave this empty.")
        if known("model_name") and not row.model_name:
            add("model_name", "A model name is required for this provider.")
        if known("api_key_env") and (problem := api_key_env_problem(row.api_key_env)):
            add("api_key_env", problem)
        # Whether a key is needed depends on the base URL: not judged without it.
        elif known("api_key_env", "base_url") and not row.api_key_env and needs_api_key(row):
            add("api_key_env", "Name the environment variable that holds the API key.")

    if known("is_active", "is_default"):
        stored = None if row._state.adding else ChatModel.objects.filter(pk=row.pk).first()
        if stored is not None and stored.is_default and not row.is_active:
            add(
                "is_active",
                f"'{row.id}' is the default model; make another model the default before deactivating it.",
            )
        elif stored is not None and stored.is_default and not row.is_default:
            add(
                "is_default",
                f"'{row.id}' is the default model (Auto picks it); make another model the default instead.",
            )
        elif row.is_default and not row.is_active:
            add("is_default", "An inactive model cannot be the default.")
    return problems


def needs_api_key(chat_model: ChatModel) -> bool:
    """Anthropic always needs a key; an OpenAI-compatible endpoint only when it is OpenAI's own.

    A self-hosted compatible server (a `base_url` is set) may take no key at all.
    """
    if chat_model.provider == ChatModel.Provider.ANTHROPIC:
        return True
    return chat_model.provider == ChatModel.Provider.OPENAI and not chat_model.base_url


def _api_key(chat_model: ChatModel) -> str | None:
    name = chat_model.api_key_env
    if not name:
        if needs_api_key(chat_model):
            raise ModelUnavailable(
                f"Chat model '{chat_model.id}' names no environment variable for its API key (api_key_env)."
            )
        return None
    if api_key_env_problem(name):
        # Never echo the value: it may be a key pasted by mistake.
        raise ModelUnavailable(f"Chat model '{chat_model.id}' has an invalid api_key_env.")
    value = os.environ.get(name, "").strip()
    if not value:
        raise ModelUnavailable(
            f"Chat model '{chat_model.id}' reads its API key from the environment variable {name}, "
            "which is not set in this process."
        )
    return value


def build_chat_model(chat_model: ChatModel, *, streaming: bool = True) -> BaseChatModel:
    """A LangChain chat model for the row; raises `ModelUnavailable` when it cannot be built."""
    provider = chat_model.provider
    if provider == ChatModel.Provider.SCRIPTED:
        if errors := validate_script(chat_model.script):
            raise ModelUnavailable(f"Chat model '{chat_model.id}' has an invalid script: {'; '.join(errors)}")
        return ScriptedChatModel(script=chat_model.script, model_name=chat_model.id, streaming=streaming)

    if not chat_model.model_name:
        raise ModelUnavailable(f"Chat model '{chat_model.id}' has no model name.")
    api_key = _api_key(chat_model)

    if provider == ChatModel.Provider.OPENAI:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=chat_model.model_name,
            base_url=chat_model.base_url or None,
            # A keyless self-hosted endpoint still gets a placeholder, so the client never
            # falls back to OPENAI_API_KEY and sends OpenAI's key to a third party.
            api_key=api_key or "unused",
            streaming=streaming,
            stream_usage=True,
            max_retries=MAX_RETRIES,
            timeout=REQUEST_TIMEOUT_S,
            # "OpenAI-compatible" means the chat-completions protocol; never let the
            # client switch to the Responses API, which compatible servers lack.
            use_responses_api=False,
        )
    if provider == ChatModel.Provider.ANTHROPIC:
        from langchain_anthropic import ChatAnthropic

        extra = {"base_url": chat_model.base_url} if chat_model.base_url else {}
        return ChatAnthropic(
            model=chat_model.model_name,
            api_key=api_key,
            streaming=streaming,
            stream_usage=True,
            max_retries=MAX_RETRIES,
            timeout=REQUEST_TIMEOUT_S,
            **extra,
        )
    raise ModelUnavailable(f"Chat model '{chat_model.id}' has an unknown provider '{provider}'.")
