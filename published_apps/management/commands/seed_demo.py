"""Create the demo login and a demo app (idempotent): what a newcomer sees first."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from published_apps.models import PublishedApp
from published_apps.starters import create_app


class Command(BaseCommand):
    help = "Create the demo user (a superuser) and a demo app built from the landing template, if missing."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo", help="Used only when the user is created.")
        parser.add_argument("--app-name", default="Demo landing page")

    def handle(self, *args, username, password, app_name, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_superuser(username=username, password=password, email="")
            self.stdout.write(f"Created user {username!r} with password {password!r}.")
        app = PublishedApp.objects.filter(owner=user).order_by("created_at").first()
        if app is None:
            app = create_app(owner=user, name=app_name, template="landing")
            self.stdout.write(f"Created app {app.name!r} (/apps/{app.id}/builder).")
        self.stdout.write(f"Demo app: /apps/{app.id}/builder  ·  preview: /apps/{app.id}/preview/")
