"""The Django admin for apps, revisions and checkpoints shows a staff user who is not a
superuser only the apps they may act on (the REST API's rule): another tenant's history is
neither listed, named in a filter, restored, nor joined by adding oneself as a member."""

import pytest
from django.contrib.auth.models import Permission

from published_apps.models import Blob, Checkpoint, PublishedApp
from tests.factories import make_app, make_user

CHECKPOINTS = "/django-admin/published_apps/checkpoint/"


def staff_with(*codenames, username="staffer"):
    staff = make_user(username, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


def restore(client, checkpoint):
    return client.post(CHECKPOINTS, {"action": "restore", "_selected_action": [str(checkpoint.pk)]})


@pytest.fixture
def theirs(user):
    return make_app(user, name="Secret plans")


def test_a_view_permission_does_not_restore_another_tenants_checkpoint(client, theirs):
    client.force_login(staff_with("view_checkpoint"))
    before = theirs.draft_revision_id
    restore(client, theirs.checkpoints.get())
    theirs.refresh_from_db()
    assert theirs.draft_revision_id == before and theirs.revisions.count() == 1


def test_a_change_permission_does_not_restore_another_tenants_checkpoint(client, theirs):
    client.force_login(staff_with("view_checkpoint", "change_publishedapp"))
    before = theirs.draft_revision_id
    restore(client, theirs.checkpoints.get())
    theirs.refresh_from_db()
    assert theirs.draft_revision_id == before and theirs.revisions.count() == 1


def test_a_member_restores_only_with_the_permission_to_change_the_app(client, theirs):
    viewer = staff_with("view_checkpoint")
    theirs.members.add(viewer)
    client.force_login(viewer)
    before = theirs.draft_revision_id
    page = client.get(CHECKPOINTS).content.decode()
    assert "Secret plans" in page and 'value="restore"' not in page
    restore(client, theirs.checkpoints.get())
    theirs.refresh_from_db()
    assert theirs.draft_revision_id == before

    changer = staff_with("view_checkpoint", "change_publishedapp", username="changer")
    theirs.members.add(changer)
    client.force_login(changer)
    assert 'value="restore"' in client.get(CHECKPOINTS).content.decode()
    restore(client, theirs.checkpoints.get())
    theirs.refresh_from_db()
    assert theirs.draft_revision_id != before and theirs.draft_revision.source == "restore"


def test_staff_see_apps_revisions_and_checkpoints_only_of_apps_they_may_act_on(client, theirs):
    staff = staff_with("view_publishedapp", "view_revision", "view_checkpoint")
    mine = make_app(staff, name="Staff app")
    client.force_login(staff)

    for listing in ("publishedapp", "revision", "checkpoint"):
        page = client.get(f"/django-admin/published_apps/{listing}/").content.decode()
        # Neither the rows nor the app filter name another tenant's app.
        assert "Staff app" in page and "Secret plans" not in page, listing
        assert str(theirs.pk) not in page, listing
    urls = {
        "publishedapp": (theirs.pk, mine.pk),
        "revision": (theirs.draft_revision_id, mine.draft_revision_id),
        "checkpoint": (theirs.checkpoints.get().pk, mine.checkpoints.get().pk),
    }
    for listing, (their_row, my_row) in urls.items():
        assert client.get(f"/django-admin/published_apps/{listing}/{their_row}/change/").status_code == 302
        assert client.get(f"/django-admin/published_apps/{listing}/{my_row}/change/").status_code == 200
    # Filtering by another tenant's app by hand shows nothing of it either.
    page = client.get(f"{CHECKPOINTS}?app__id__exact={theirs.pk}").content.decode()
    assert "Secret plans" not in page

    theirs.members.add(staff)
    assert client.get(f"/django-admin/published_apps/publishedapp/{theirs.pk}/change/").status_code == 200


def test_staff_cannot_make_themselves_members_of_another_tenants_app(client, user, theirs):
    staff = staff_with("view_publishedapp", "change_publishedapp")
    client.force_login(staff)
    client.post(
        f"/django-admin/published_apps/publishedapp/{theirs.pk}/change/",
        {"name": theirs.name, "slug": theirs.slug, "owner": user.pk, "members": [staff.pk], "checks": "{}"},
    )
    assert not theirs.members.filter(pk=staff.pk).exists()


def test_staff_own_the_apps_they_add_and_do_not_hand_apps_over(client, user):
    staff = staff_with("view_publishedapp", "add_publishedapp", "change_publishedapp")
    client.force_login(staff)
    client.post(
        "/django-admin/published_apps/publishedapp/add/",
        {"name": "Planted", "owner": user.pk, "template": "landing"},
    )
    planted = PublishedApp.objects.get(name="Planted")
    assert planted.owner == staff

    client.post(
        f"/django-admin/published_apps/publishedapp/{planted.pk}/change/",
        {"name": "Planted", "slug": planted.slug, "owner": user.pk, "checks": "{}"},
    )
    planted.refresh_from_db()
    assert planted.owner == staff


def test_blobs_are_for_superusers_only(client, theirs):
    client.force_login(staff_with("view_blob", "view_previewsession"))
    sha = Blob.objects.values_list("sha256", flat=True).first()
    assert client.get("/django-admin/published_apps/blob/").status_code == 403
    assert client.get(f"/django-admin/published_apps/blob/{sha}/change/").status_code == 403
    assert client.get("/django-admin/published_apps/previewsession/").status_code == 403


def test_a_superuser_still_sees_and_restores_every_app(client, theirs):
    client.force_login(make_user("boss", is_superuser=True, is_staff=True))
    assert "Secret plans" in client.get(CHECKPOINTS).content.decode()
    restore(client, theirs.checkpoints.get())
    theirs.refresh_from_db()
    assert theirs.draft_revision.source == "restore"
    assert Checkpoint.objects.filter(app=theirs).count() == 2
