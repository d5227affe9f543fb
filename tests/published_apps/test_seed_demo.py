"""seed_demo: the demo login and app, created once, all or nothing."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command, load_command_class

from published_apps.models import PublishedApp
from tests.factories import make_app, make_user

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
def test_an_app_name_the_app_rules_refuse_is_refused_when_the_user_already_has_an_app(name):
    seed()
    with pytest.raises(CommandError, match=r"^--app-name .*: (Give the app a name|The name is longer)"):
        seed("--app-name", name)
    assert PublishedApp.objects.count() == 1


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


def test_an_existing_user_gets_an_app_of_a_new_name_and_keeps_the_first():
    seed()
    output = seed("--username", "demo", "--app-name", "Second demo")
    assert "User 'demo' (a superuser) already exists; left as it is, password unchanged." in output
    assert "Created app 'Second demo' for 'demo'." in output
    second = PublishedApp.objects.get(name="Second demo")
    assert f"/apps/{second.id}/builder" in output
    assert sorted(PublishedApp.objects.values_list("name", flat=True)) == ["Demo landing page", "Second demo"]


def test_a_second_run_says_the_app_already_exists_and_creates_nothing():
    seed("--app-name", "Second demo")
    output = seed("--app-name", "  Second demo ")  # the name as create_app stores it: stripped
    assert "App 'Second demo' of 'demo' already exists; left as it is." in output
    assert PublishedApp.objects.count() == 1


def test_an_app_the_user_owns_under_another_name_is_not_taken_for_the_demo_app():
    owner = make_user("demo")
    make_app(owner, name="My shop")
    output = seed()
    assert "User 'demo' (not a superuser) already exists" in output
    assert "Created app 'Demo landing page' for 'demo'." in output
    assert PublishedApp.objects.filter(owner=owner).count() == 2


def test_an_empty_password_is_ignored_for_an_existing_user_whose_password_is_kept():
    seed()
    output = seed("--password", "")
    assert "password unchanged" in output
    assert User.objects.get(username="demo").check_password("demo")


def test_every_option_says_what_it_does_and_its_default():
    parser = load_command_class("published_apps", "seed_demo").create_parser("manage.py", "seed_demo")
    help_text = " ".join(parser.format_help().split())
    assert (
        "--username USERNAME The user to create as a superuser, or to use if it exists (default: demo)."
        in help_text
    )
    assert "--password PASSWORD The password of the user when it is created (default: demo)" in help_text
    assert "already owns an app of this name (default: Demo landing page)." in help_text
