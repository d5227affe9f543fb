"""Create the demo login and a demo app (idempotent): what a newcomer sees first."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config.errors import Error
from published_apps.models import PublishedApp
from published_apps.starters import create_app


class Command(BaseCommand):
    help = (
        "Create the demo user (a superuser) and a demo app built from the landing template, if missing. "
        "All or nothing: on any error nothing is created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo", help="Used only when the user is created.")
        parser.add_argument("--app-name", default="Demo landing page")

    def handle(self, *args, username, password, app_name, **options):
        User = get_user_model()
        username_field = User._meta.get_field(User.USERNAME_FIELD)
        try:
            # The field's own checks: not blank, at most 150 characters, Django's username validator.
            username_field.clean(username, None)
        except ValidationError as exc:
            raise CommandError(f"--username {username!r}: {' '.join(exc.messages)}")
        if not password:
            raise CommandError("--password must not be empty.")

        notes = []
        try:
            with transaction.atomic():
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User.objects.create_superuser(username=username, password=password, email="")
                    notes.append(f"Created user {username!r} with password {password!r}.")
                app = PublishedApp.objects.filter(owner=user).order_by("created_at").first()
                if app is None:
                    app = create_app(owner=user, name=app_name, template="landing")
                    notes.append(f"Created app {app.name!r} (/apps/{app.id}/builder).")
        except Error as exc:
            # Raised inside the transaction, so the user created a moment before is rolled back too.
            where = f"--app-name {app_name!r}" if exc.field == "name" else "Could not create the demo app"
            raise CommandError(f"{where}: {exc.message}")
        for note in notes:
            self.stdout.write(note)
        self.stdout.write(f"Demo app: /apps/{app.id}/builder  ·  preview: /apps/{app.id}/preview/")
