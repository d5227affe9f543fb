"""`manage.py add_chat_model`: create or update a chat model row (DESIGN.md §8)."""

from __future__ import annotations

import json
import os
from argparse import RawDescriptionHelpFormatter
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import transaction

from coding_agent.models import ChatModel
from coding_agent.models_catalog import api_key_env_problem, display_label, set_default
from coding_agent.scripted import validate_script


class _HelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's option order (the command's own first) and the examples' line breaks kept."""


class Command(BaseCommand):
    help = (
        "Create or update a chat model that runs may use. Keys are never stored: --api-key-env names "
        "the environment variable the server and workers read the key from when a run starts.\n\n"
        "Examples:\n"
        "  add_chat_model --id gpt --provider openai --model gpt-4.1 --api-key-env OPENAI_API_KEY --default\n"
        "  add_chat_model --id local --provider openai --model qwen2.5-coder "
        "--base-url http://127.0.0.1:11434/v1\n"
        "  add_chat_model --id claude --provider anthropic --model claude-sonnet-4-5 "
        "--api-key-env ANTHROPIC_API_KEY\n"
        "  add_chat_model --id demo2 --provider scripted --script turns.json --label 'Demo 2'"
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--id", required=True, dest="model_id", help="Slug that identifies the model.")
        parser.add_argument(
            "--provider",
            required=True,
            choices=[c.value for c in ChatModel.Provider],
            help="Who serves the model: openai (OpenAI, or any OpenAI-compatible server with --base-url), "
            "anthropic (Claude), or scripted (plays a JSON script from --script; no AI, for demos and tests).",
        )
        parser.add_argument(
            "--model", dest="model_name", help="Provider's model name (required for openai and anthropic)."
        )
        parser.add_argument(
            "--base-url",
            help="Endpoint, e.g. an OpenAI-compatible server's http://host:port/v1 (default: the provider's own).",
        )
        parser.add_argument(
            "--api-key-env",
            metavar="VAR",
            help="NAME of the environment variable holding the API key (e.g. OPENAI_API_KEY), never the key. "
            "Optional for openai with --base-url (keyless local servers).",
        )
        parser.add_argument(
            "--script",
            metavar="FILE",
            help='Scripted provider: JSON file with a list of turns [{"text", "tool_calls": [...]}, ...].',
        )
        parser.add_argument("--label", help="Name shown in the model picker (default: the id, or unchanged).")
        parser.add_argument(
            "--default",
            action="store_true",
            help="Make it the default model (what Auto picks); the previous default stops being it. "
            "Without it, an existing row keeps its default status.",
        )
        parser.add_argument(
            "--inactive",
            action="store_true",
            help="Hide it from the picker and refuse runs on it (without it the model is active).",
        )

    def handle(self, *args, model_id, provider, **options):
        if options["default"] and options["inactive"]:
            raise CommandError(
                "--default and --inactive exclude each other: the default model must be active."
            )
        row = ChatModel.objects.filter(pk=model_id).first()
        created = row is None
        if created:
            row = ChatModel(id=model_id, label=model_id)
        self._apply(row, provider, created=created, **options)

        try:
            # The rules the admin site applies too (models_catalog.chat_model_problems).
            row.full_clean()
        except ValidationError as exc:
            raise CommandError(_format_validation(exc))
        with transaction.atomic():
            row.save()
            if options["default"]:
                set_default(row)
        self._report(row, created)

    def _apply(self, row: ChatModel, provider: str, *, created: bool, **options) -> None:
        """Copy the options onto the row; what they leave inconsistent, full_clean() refuses."""
        if provider != row.provider and not created:
            # Settings of the old provider do not carry over to a new one.
            row.model_name, row.base_url, row.api_key_env, row.script = "", "", "", None
        # Say which option is missing, before the rules say which field is empty.
        if provider == ChatModel.Provider.SCRIPTED and not (options["script"] or row.script is not None):
            raise CommandError("A scripted model needs --script FILE (a JSON list of turns).")
        if provider != ChatModel.Provider.SCRIPTED and not (options["model_name"] or row.model_name):
            raise CommandError(f"--model is required for provider {provider} (e.g. --model gpt-4.1).")
        if (name := options["api_key_env"]) and (problem := api_key_env_problem(name)):
            # Never echo the value back: it may be a key pasted by mistake.
            raise CommandError(f"--api-key-env: {problem}")
        row.provider = provider
        # Stale settings another provider would use are dropped; given as options, they are refused.
        if provider == ChatModel.Provider.SCRIPTED:
            row.base_url, row.api_key_env = "", ""
        else:
            row.script = None
        for field in ("model_name", "base_url", "api_key_env", "label"):
            if options[field] is not None:
                setattr(row, field, options[field])
        if options["script"]:
            row.script = _load_script(options["script"])
        row.is_active = not options["inactive"]

    def _report(self, row: ChatModel, created: bool) -> None:
        verb = "Created" if created else "Updated"
        state = "active" if row.is_active else "inactive"
        default = "the default model (Auto picks it)" if row.is_default else "not the default"
        self.stdout.write(
            f"{verb} chat model '{row.id}' — {display_label(row)} [{row.provider}], {state}, {default}."
        )
        if row.provider == ChatModel.Provider.SCRIPTED:
            self.stdout.write(f"Script: {len(row.script)} turn(s).")
            return
        self.stdout.write(f"Model: {row.model_name}; endpoint: {row.base_url or 'the provider default'}.")
        if not row.api_key_env:
            self.stdout.write("API key: none (the endpoint is called without one).")
        elif os.environ.get(row.api_key_env, "").strip():
            self.stdout.write(f"API key: read from ${row.api_key_env} at run time (set in this environment).")
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"API key: read from ${row.api_key_env} at run time — NOT set in this environment; "
                    "runs on this model fail until the server and workers have it."
                )
            )


def _load_script(path: str) -> list:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read script file {path}: {exc}")
    try:
        script = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"Script file {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        )
    if errors := validate_script(script):
        raise CommandError(
            f"Script file {path} is not a valid script:\n" + "\n".join(f"  - {e}" for e in errors)
        )
    return script


def _format_validation(exc: ValidationError) -> str:
    lines = []
    for field, messages in exc.message_dict.items():
        lines.extend(f"  - {field}: {message}" for message in messages)
    return "The chat model is not valid:\n" + "\n".join(lines)
