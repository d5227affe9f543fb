"""Run the agent on an app from a terminal, with live progress."""

import sys
import time
import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from coding_agent import runs
from coding_agent.console import Printer, is_terminal
from coding_agent.events import events_after
from coding_agent.models import AgentRun
from config.errors import Error
from published_apps.models import PublishedApp

POLL_S = 0.1


class Command(BaseCommand):
    help = (
        'Run the coding agent on an app and print its progress live: manage.py run_agent APP "instruction". '
        "APP is the app's id or slug. Ctrl-C asks the run to stop. Exit status: 0 completed, 1 failed, "
        "2 refused, 130 cancelled."
    )

    def add_arguments(self, parser):
        parser.add_argument("app", help="App id (UUID) or slug.")
        parser.add_argument("instruction", help="What the agent should do.")
        parser.add_argument("--model", dest="model_id", default=None, help="Chat model id (default: Auto).")
        parser.add_argument("--engine", default="native", help="Execution engine (default: native).")
        parser.add_argument(
            "--user", dest="username", default=None, help="Act as this user (default: the app's owner)."
        )

    def handle(self, *args, app, instruction, model_id, engine, username, **options):
        if not instruction.strip():
            # The REST API's refusal (CreateRunSerializer), with the exit status of a refused run.
            raise CommandError("Write an instruction for the agent.", returncode=2)
        target = self._find_app(app)
        user = target.owner
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user {username!r}.")
        try:
            run = runs.start_run(app=target, user=user, input=instruction, model_id=model_id, engine=engine)
        except Error as exc:
            self.stderr.write(f"Refused: {exc.code}: {exc.message}")
            sys.exit(2)
        self.stdout.write(f"Run {run.pk} on “{target.name}”")
        printer = Printer(self.stdout, color=self.stdout.isatty())
        status = self._follow(run, printer)
        sys.exit({"completed": 0, "failed": 1, "cancelled": 130}.get(status, 1))

    def _find_app(self, ref: str) -> PublishedApp:
        try:
            lookup = {"pk": uuid.UUID(ref)}
        except ValueError:
            lookup = {"slug": ref}
        app = PublishedApp.objects.filter(**lookup).first()
        if app is None:
            raise CommandError(f"No app with id or slug {ref!r}.")
        return app

    def _follow(self, run: AgentRun, printer: Printer) -> str:
        last = 0
        while True:
            try:
                for envelope in events_after(run, last):
                    printer(envelope)
                    last = envelope["seq"]
                    if is_terminal(envelope):
                        return envelope["event"].split(".", 1)[1]
                time.sleep(POLL_S)
            except KeyboardInterrupt:
                self.stderr.write("\nStopping the run…")
                try:
                    runs.cancel_run(run=AgentRun.objects.get(pk=run.pk))
                except runs.RunFinished:
                    pass
