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
        "Create the demo user (a superuser) if missing, and give the user an app of the given name, "
        "built from the landing template, unless they already own one of that name. Safe to run again: "
        "what exists is left as it is, and the output says what was created and what was already there. "
        "All or nothing: on any error nothing is created."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--username",
            default="demo",
            help="The user to create as a superuser, or to use if it exists (default: %(default)s).",
        )
        parser.add_argument(
            "--password",
            default="demo",
            help="The password of the user when it is created (default: %(default)s); "
            "an existing user's password is left unchanged.",
        )
        parser.add_argument(
            "--app-name",
            default="Demo landing page",
            help="Name of the user's demo app: created unless the user already owns an app of this name "
            "(default: %(default)s).",
        )

    def handle(self, *args, username, password, app_name, **options):
        User = get_user_model()
        username_field = User._meta.get_field(User.USERNAME_FIELD)
        try:
            # The field's own checks: not blank, at most 150 characters, Django's username validator.
            username_field.clean(username, None)
        except ValidationError as exc:
            raise CommandError(f"--username {username!r}: {' '.join(exc.messages)}")

        notes = []
        try:
            with transaction.atomic():
                user = User.objects.filter(username=username).first()
                if user is None:
                    if not password:
                        raise CommandError("--password must not be empty.")
                    user = User.objects.create_superuser(username=username, password=password, email="")
                    notes.append(f"Created user {username!r} (a superuser) with password {password!r}.")
                else:
                    kind = "a superuser" if user.is_superuser else "not a superuser"
                    notes.append(
                        f"User {username!r} ({kind}) already exists; left as it is, password unchanged."
                    )
                # create_app stores the name stripped, so an app given " Name " earlier is "Name" now.
                app = (
                    PublishedApp.objects.filter(owner=user, name=app_name.strip())
                    .order_by("created_at")
                    .first()
                )
                if app is None:
                    # The app rules (a name, at most 200 characters) are create_app's; a refusal
                    # rolls back the user created a moment before too.
                    app = create_app(owner=user, name=app_name, template="landing")
                    notes.append(f"Created app {app.name!r} for {username!r}.")
                else:
                    notes.append(f"App {app.name!r} of {username!r} already exists; left as it is.")
        except Error as exc:
            where = f"--app-name {app_name!r}" if exc.field == "name" else "Could not create the demo app"
            raise CommandError(f"{where}: {exc.message}")
        for note in notes:
            self.stdout.write(note)
        self.stdout.write(f"Demo app: /apps/{app.id}/builder  ·  preview: /apps/{app.id}/preview/")
