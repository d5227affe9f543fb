"""Replay a run: print its recorded events, or execute its recorded tool calls again and compare."""

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from coding_agent import tools
from coding_agent.console import Printer, pace, terminal_safe
from coding_agent.events import events_after
from coding_agent.management.commands._closed_output import CLOSED_OUTPUT_EXIT, discard_output
from coding_agent.models import AgentRun, ToolCall
from published_apps import revisions
from published_apps.blobs import BlobUnavailable
from sandbox import manifest as manifests
from sandbox.index import OutlineCache


def replay_speed(text: str) -> float:
    """--speed's type: a number of 0 or more, refused as argparse refuses (usage and exit status 2)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number of 0 or more, got {text!r}")
    return value


class Command(BaseCommand):
    help = (
        "Print a run's recorded events as they happened (--speed 1 for recorded speed, 0 for at once, the default). "
        "With --re-execute, run the model's recorded tool calls again on a fresh workspace from the run's "
        "base revision and report whether the result is identical to the run's revision (exit status 0) "
        "or not (1), or refuses (2): an unknown run, one still in progress, or a base revision whose stored "
        "content is missing or damaged; "
        "it prints one line per tool call, so it takes neither --json nor --speed. "
        "If the output is closed early (| head), it stops quietly with exit status 141, as git does."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "run_id", help="The run's id (UUID), as run_agent, the API and the admin site show it."
        )
        parser.add_argument(
            "--speed",
            type=replay_speed,
            default=None,  # None: not given, which --re-execute needs to know
            help=(
                "How fast to replay: any number of 0 or more. 0 (the default) prints everything at once, "
                "1 = recorded speed, 2 = twice as fast, 0.5 = half speed."
            ),
        )
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print the envelopes as JSON lines."
        )
        parser.add_argument(
            "--re-execute",
            action="store_true",
            help="Execute the recorded tool calls again and compare the files (not with --json or --speed).",
        )

    def handle(self, *args, run_id, speed, as_json, re_execute, **options):
        if re_execute and (as_json or speed is not None):
            # Re-execution prints its own check, one line per tool call, as fast as the tools run:
            # there are no recorded envelopes to print as JSON or to pace.
            given = " and ".join(
                name for name, on in (("--json", as_json), ("--speed", speed is not None)) if on
            )
            raise CommandError(
                f"--re-execute does not take {given}: it prints one line per re-executed tool call.",
                returncode=2,
            )
        try:
            run = AgentRun.objects.select_related("app", "base_revision", "result_revision").get(pk=run_id)
        except (AgentRun.DoesNotExist, ValidationError, ValueError):
            raise CommandError(f"No run {run_id!r}.", returncode=2)  # not 1: "the files differ"
        try:
            if re_execute:
                identical = self._re_execute(run)
            else:
                self._print(run, speed=speed or 0, as_json=as_json)
            self.stdout.flush()  # inside the try: a closed pipe may only show when the buffer is written
        except BrokenPipeError:
            discard_output(self.stdout)
            sys.exit(CLOSED_OUTPUT_EXIT)
        if re_execute:
            sys.exit(0 if identical else 1)

    def _print(self, run: AgentRun, *, speed: float, as_json: bool) -> None:
        printer = Printer(self.stdout, color=self.stdout.isatty())
        envelopes, last = [], 0
        while batch := events_after(run, last):
            envelopes.extend(batch)
            last = batch[-1]["seq"]
        for envelope in pace(envelopes, speed=speed):
            if as_json:
                self.stdout.write(json.dumps(envelope, ensure_ascii=False))
            else:
                printer(envelope)
        printer.close()  # a run still in progress may stop mid-text

    def _re_execute(self, run: AgentRun) -> bool:
        if run.is_active:
            raise CommandError("The run has not finished yet.", returncode=2)
        expected = (
            run.result_revision.manifest
            if run.result_revision_id
            else (run.base_revision.manifest if run.base_revision_id else {})
        )
        calls = list(run.tool_calls.order_by("started_at", "pk"))
        with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
            root = Path(tmp) / "workspace"
            try:
                revisions.materialise_manifest(
                    run.base_revision.manifest if run.base_revision_id else {}, root
                )
            except BlobUnavailable as exc:
                # Neither identical nor different: there is nothing to replay on. Refused (2),
                # so that a script never reads it as "the files differ" (1).
                raise CommandError(
                    f"Cannot re-execute run {run.pk}: its base revision's files cannot be read. {exc.message}",
                    returncode=2,
                ) from exc
            ctx = tools.ToolContext(
                root=root,
                checks=run.app.checks or {},
                hash_cache=manifests.HashCache(),
                outline_cache=OutlineCache(),
                timeout_s=settings.APPS_CODING_AGENT_TOOL_TIMEOUT_S,
                cancel=lambda: False,
                legacy_write_file=settings.APPS_CODING_AGENT_ENABLE_LEGACY_WRITE_FILE,
                auto_verify_patch=settings.APPS_CODING_AGENT_AUTO_VERIFY_PATCH,
            )
            for call in calls:
                outcome = tools.execute(call.tool, call.args, ctx)
                mark = "✓" if outcome.ok else "✗"
                if call.status == ToolCall.Status.STARTED:
                    # Begun but never finished (e.g. its worker was killed): no result to compare.
                    note = "  (recorded: did not finish)"
                else:
                    was_ok = (call.result or {}).get("ok")
                    note = "" if outcome.ok == was_ok else f"  (recorded: {'ok' if was_ok else 'failed'})"
                self.stdout.write(f"  {mark} {terminal_safe(outcome.title)}{note}")
            replayed = manifests.scan(root)
        same = manifests.tree_hash(replayed) == manifests.tree_hash(expected)
        if same:
            self.stdout.write(f"Identical: replaying {len(calls)} tool calls reproduces the run's files.")
        else:
            self.stdout.write("Different: the replayed files differ from the run's:")
            for change in revisions.changed_files(expected, replayed):
                self.stdout.write(f"  {change['change']} {terminal_safe(change['path'])}")
        return same
