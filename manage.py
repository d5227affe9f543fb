#!/usr/bin/env python
import os
import sys
from pathlib import Path

# Where config/settings.py and its helpers raise ImproperlyConfigured for a bad environment
# variable, with a message that names it.
PROJECT_SETTINGS_MODULES = {"config.settings", "config.env"}


def main():
    read_env_file()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
        sys.stdout.flush()  # a closed pipe shows here, not as a warning at interpreter exit
    except BrokenPipeError:
        # The reader of the output went away (`manage.py … | head -1`): end quietly, as
        # `git log | head -1` does, whatever the command (its work is done or stopped).
        from coding_agent.management.commands._closed_output import CLOSED_OUTPUT_EXIT, discard_output

        discard_output(sys.stdout)
        sys.exit(CLOSED_OUTPUT_EXIT)
    except ImproperlyConfigured as exc:
        # Django swallows the settings error at first and lets it surface wherever a command
        # next reads settings (`check` while building its parser, our commands while being
        # looked up), so it is caught here. Only the project's own settings errors are cut
        # to one line: their message says everything; any other keeps its traceback.
        if not raised_in_project_settings(exc):
            raise
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(1)


def read_env_file() -> None:
    """The `.env` beside this file, as `./dev serve` reads it: operator commands then see
    the same settings and keys as the server. Variables already set win. The test suite
    turns it off (APPS_READ_DOTENV=0), so a developer's `.env` cannot change its results."""
    if os.environ.get("APPS_READ_DOTENV", "1") == "0":
        return
    from dotenv import load_dotenv

    load_dotenv(Path(__file__).resolve().parent / ".env", override=False)


def raised_in_project_settings(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_globals.get("__name__") in PROJECT_SETTINGS_MODULES


if __name__ == "__main__":
    main()
