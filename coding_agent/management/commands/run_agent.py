"""Run the agent on an app from a terminal, with live progress."""

import sys
import time
import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from coding_agent import runs
from coding_agent.console import Printer, is_terminal, terminal_safe
from coding_agent.engines import ENGINES
from coding_agent.events import events_after
from coding_agent.management.commands._closed_output import discard_output
from coding_agent.models import AgentRun
from config.errors import Error
from published_apps.models import PublishedApp

POLL_S = 0.1
REFUSED = 2  # the exit status of a run that was never started


class Command(BaseCommand):
    help = (
        'Run the coding agent on an app and print its progress live: manage.py run_agent APP "instruction". '
        "APP is the app's id or slug. Ctrl-C asks the run to stop. Exit status: 0 completed, 1 failed, "
        "2 refused (no such app or user, an app the user may not act on, or a run the API would refuse), "
        "130 cancelled. If the output is closed early (| head), the run goes on: the command stops "
        "printing, waits for the run to end and exits with its status."
    )
    output_closed = False  # set when the reader of stdout went away

    def add_arguments(self, parser):
        parser.add_argument("app", help="App id (UUID) or slug.")
        parser.add_argument("instruction", help="What the agent should do.")
        parser.add_argument("--model", dest="model_id", default=None, help="Chat model id (default: Auto).")
        parser.add_argument(
            "--engine",
            default="native",
            choices=ENGINES,
            help="Execution engine: %(choices)s (default: %(default)s).",
        )
        parser.add_argument(
            "--user",
            dest="username",
            default=None,
            help="Act as this user, who must be the app's owner, one of its members or a superuser, "
            "as in the API (default: the app's owner).",
        )

    def handle(self, *args, app, instruction, model_id, engine, username, **options):
        if not instruction.strip():
            # The REST API's refusal (CreateRunSerializer), with the exit status of a refused run.
            raise CommandError("Write an instruction for the agent.", returncode=REFUSED)
        target = self._find_app(app)
        user = target.owner if username is None else self._find_user(username, target)
        try:
            run = runs.start_run(app=target, user=user, input=instruction, model_id=model_id, engine=engine)
        except Error as exc:
            self.stderr.write(f"Refused: {exc.code}: {exc.message}")
            sys.exit(REFUSED)
        status = self._follow(run, target)
        sys.exit({"completed": 0, "failed": 1, "cancelled": 130}.get(status, 1))

    def _find_app(self, ref: str) -> PublishedApp:
        try:
            lookup = {"pk": uuid.UUID(ref)}
        except ValueError:
            lookup = {"slug": ref}
        app = PublishedApp.objects.filter(**lookup).first()
        if app is None:
            raise CommandError(f"No app with id or slug {ref!r}.", returncode=REFUSED)
        return app

    def _find_user(self, username: str, app: PublishedApp):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.", returncode=REFUSED)
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.", returncode=REFUSED)
        # The API's rule (PublishedApp.objects.get_for): the owner, a member, or any superuser.
        if not PublishedApp.objects.accessible_to(user).filter(pk=app.pk).exists():
            raise CommandError(
                f"User {username!r} may not act on app {app.slug!r}: "
                "only its owner, its members and superusers may.",
                returncode=REFUSED,
            )
        return user

    def _follow(self, run: AgentRun, app: PublishedApp) -> str:
        """Print the run's events until it ends; returns how it ended (completed, failed, cancelled)."""
        printer = Printer(self.stdout, color=self.stdout.isatty())
        self._show(self.stdout.write, f"Run {run.pk} on “{terminal_safe(app.name)}”")
        last = 0
        while True:
            try:
                for envelope in events_after(run, last):
                    last = envelope["seq"]
                    self._show(printer, envelope)
                    if is_terminal(envelope):
                        return envelope["event"].split(".", 1)[1]
                time.sleep(POLL_S)
            except KeyboardInterrupt:
                self.stderr.write("\nStopping the run…")
                try:
                    runs.cancel_run(run=AgentRun.objects.get(pk=run.pk))
                except runs.RunFinished:
                    pass

    def _show(self, write, item) -> None:
        """`write(item)`, until the output is closed (`| head`); then nothing.

        The run goes on without a reader (in the embedded mode it executes in this very process),
        so the command keeps following it silently and exits with its status.
        """
        if self.output_closed:
            return
        try:
            write(item)
        except BrokenPipeError:
            self.output_closed = True
            discard_output(self.stdout)
