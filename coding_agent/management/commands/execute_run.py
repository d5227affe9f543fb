"""Execute (or resume) one run in this process, in the foreground."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from coding_agent.executor import execute_run
from coding_agent.models import AgentRun


class Command(BaseCommand):
    help = (
        "Execute or resume a queued or running run in this process (as a worker would), then print how it ended. "
        "A run another worker holds a live lease on is left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("run_id", help="The run's id (UUID).")

    def handle(self, *args, run_id, **options):
        try:
            run = AgentRun.objects.get(pk=run_id)
        except (AgentRun.DoesNotExist, ValueError, ValidationError) as exc:
            raise CommandError(f"No run {run_id!r}.") from exc
        if not run.is_active:
            raise CommandError(f"Run {run_id} already finished ({run.status}).")
        result = execute_run(run.pk)
        run.refresh_from_db()
        if result == "not-claimed":
            raise CommandError(
                f"Run {run_id} is held by another worker ({run.lease_owner}); try again later."
            )
        self.stdout.write(
            f"Run {run_id}: {run.status}"
            + (f" ({run.error_code}: {run.error_message})" if run.error_code else "")
        )
