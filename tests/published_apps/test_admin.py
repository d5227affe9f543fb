"""The Django admin for apps: new apps start from a starter, and history is not typed in."""

import pytest

from published_apps.models import PublishedApp
from tests.factories import make_app, make_user


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("boss", is_superuser=True, is_staff=True))
    return client


def test_adding_an_app_in_the_admin_starts_it_from_a_starter(admin_client, user, other_user):
    response = admin_client.post(
        "/django-admin/published_apps/publishedapp/add/",
        {"name": "Admin made", "owner": user.pk, "template": "todo", "members": [other_user.pk]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    app = PublishedApp.objects.get(name="Admin made")
    assert app.owner == user and app.template == "todo" and app.slug == "admin-made"
    assert app.draft_revision is not None and app.draft_revision.source == "template"
    assert app.checkpoints.count() == 1
    assert list(app.members.all()) == [other_user]


@pytest.mark.parametrize(
    "name,error",
    [
        (" ", "This field is required."),
        ("nul\x00name", "Null characters are not allowed."),
        ("tab\tname", "The name may not contain control characters."),
    ],
)
def test_the_admin_refuses_the_names_the_api_refuses(admin_client, user, name, error):
    response = admin_client.post(
        "/django-admin/published_apps/publishedapp/add/",
        {"name": name, "owner": user.pk, "template": "landing"},
    )
    assert response.status_code == 200 and error in response.content.decode()
    assert not PublishedApp.objects.exists()


def test_an_apps_revisions_cannot_be_pinned_by_hand_in_the_admin(admin_client, user, other_user):
    app, theirs = make_app(user, name="Mine"), make_app(other_user, name="Theirs")
    own_draft = app.draft_revision_id
    page = admin_client.get(f"/django-admin/published_apps/publishedapp/{app.pk}/change/").content.decode()
    assert 'name="draft_revision"' not in page and 'name="published_revision"' not in page
    admin_client.post(
        f"/django-admin/published_apps/publishedapp/{app.pk}/change/",
        {
            "name": "Mine",
            "slug": app.slug,
            "owner": user.pk,
            "checks": "{}",
            "draft_revision": theirs.draft_revision_id,
            "published_revision": theirs.draft_revision_id,
        },
    )
    app.refresh_from_db()
    assert app.draft_revision_id == own_draft and app.published_revision_id is None


def test_a_control_character_in_a_name_is_refused_on_the_page_and_the_api(browser_client, api):
    response = browser_client.post("/apps/new", {"name": "nul\x00name", "template": "todo"}, follow=True)
    assert response.status_code == 200
    assert "control characters" in response.content.decode() or "Null characters" in response.content.decode()
    assert api.post("/admin/apps", {"name": "tab\tname"}, format="json").status_code == 400
    assert not PublishedApp.objects.exists()
