"""seed_demo: the demo login and app, created once, all or nothing."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from published_apps.models import PublishedApp

pytestmark = pytest.mark.django_db

User = get_user_model()


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_it_creates_the_demo_superuser_and_app_once():
    first = seed()
    user = User.objects.get(username="demo")
    assert user.is_superuser and user.check_password("demo")
    app = PublishedApp.objects.get(owner=user)
    assert "Created user 'demo'" in first and f"/apps/{app.id}/builder" in first
    second = seed()
    assert "Created" not in second and f"/apps/{app.id}/builder" in second
    assert PublishedApp.objects.count() == 1 and User.objects.count() == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_an_app_name_the_domain_refuses_creates_nothing(name):
    with pytest.raises(CommandError, match=r"^--app-name .*: (Give the app a name|The name is longer)"):
        seed("--username", "demo3", "--app-name", name)
    assert not User.objects.exists() and not PublishedApp.objects.exists()


def test_an_empty_password_is_refused():
    with pytest.raises(CommandError, match=r"^--password must not be empty\."):
        seed("--username", "demo3", "--password", "")
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["", "two words", "semi;colon", "x" * 151])
def test_a_username_django_refuses_is_refused(username):
    with pytest.raises(CommandError, match=r"^--username .*: "):
        seed("--username", username)
    assert not User.objects.exists() and not PublishedApp.objects.exists()
