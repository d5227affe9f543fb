"""A draft preview's capability URL ends with what ends the user's access: logging out of the
session it was issued to, a new password, removal from the app. Its redirects keep the path
one path: what was escaped in it stays escaped, and the query stays the request's."""

import pytest
from django.test import Client

from published_apps import revisions, serving


def preview_base(client, app):
    response = client.get(f"/apps/{app.id}/preview/")
    assert response.status_code == 302
    return response["Location"]


def without_cookies(url):
    """What the sandboxed page's own requests for its CSS and JS look like."""
    return Client().get(url)


def test_logging_out_revokes_the_capability_issued_to_that_session(client, user, app):
    client.force_login(user)
    base = preview_base(client, app)
    assert without_cookies(base + "styles.css").status_code == 200
    client.logout()
    response = without_cookies(base + "styles.css")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_capability_outlives_another_session_of_the_user(client, user, app):
    client.force_login(user)
    base = preview_base(client, app)
    elsewhere = Client()
    elsewhere.force_login(user)
    elsewhere.logout()
    assert without_cookies(base + "styles.css").status_code == 200


def test_a_new_password_revokes_a_capability_made_without_a_session(api, user, app):
    url = api.get(f"/admin/apps/{app.id}").json()["preview_url"]
    assert without_cookies(url).status_code == 200
    user.set_password("a-new-pass-5678")
    user.save()
    assert without_cookies(url)["Location"].startswith("/login/")


def test_a_new_password_revokes_the_capability_of_a_session(client, user, app):
    client.force_login(user)
    base = preview_base(client, app)
    user.set_password("a-new-pass-5678")
    user.save()
    assert without_cookies(base)["Location"].startswith("/login/")


def test_the_builders_capability_is_exchanged_for_one_bound_to_the_session(browser_client, user, app):
    """The builder page mints its URL from the user alone; opened with the session's cookie
    (the frame's own navigation), it is swapped for one that logging out revokes."""
    unbound = serving.preview_url(app, user)
    response = browser_client.get(unbound)
    assert response.status_code == 302
    bound = response["Location"]
    assert bound != unbound and bound.startswith(f"/apps/{app.id}/preview/~")
    assert browser_client.get(bound).status_code == 200
    browser_client.logout()
    assert without_cookies(bound)["Location"].startswith("/login/")


def test_the_api_issues_a_capability_bound_to_the_browser_session(browser_client, app):
    url = browser_client.get(f"/admin/apps/{app.id}").json()["preview_url"]
    assert without_cookies(url).status_code == 200
    browser_client.logout()
    assert without_cookies(url)["Location"].startswith("/login/")


def test_a_session_of_another_user_does_not_carry_a_capability(client, user, other_user, app):
    app.members.add(other_user)
    client.force_login(other_user)
    theirs = preview_base(client, app)
    client.force_login(user)  # the same browser, now someone else's session
    assert without_cookies(theirs)["Location"].startswith("/login/")


def test_deactivation_and_removal_still_revoke(client, user, other_user, app):
    app.members.add(other_user)
    client.force_login(other_user)
    base = preview_base(client, app)
    app.members.remove(other_user)
    assert without_cookies(base).status_code == 404
    client.force_login(user)
    own = preview_base(client, app)
    user.is_active = False
    user.save()
    assert without_cookies(own)["Location"].startswith("/login/")


def test_the_redirect_to_a_capability_keeps_an_escaped_path_one_path(browser_client, app):
    response = browser_client.get(f"/apps/{app.id}/preview/a%20b%3Fx?tab=2")
    assert response.status_code == 302
    location = response["Location"]
    assert location.endswith("/a%20b%3Fx?tab=2"), location


def test_a_bare_capability_keeps_its_token_and_escaped_path(browser_client, app):
    base = preview_base(browser_client, app)
    response = without_cookies(base.rstrip("/") + "?x=1")
    assert response.status_code == 302 and response["Location"] == base + "?x=1"


@pytest.mark.parametrize("name", ["a b?x", "50%"])
def test_a_directory_redirect_keeps_an_escaped_path_one_path(client, user, app, tmp_path, name):
    work = tmp_path / "w"
    revisions.materialise(app.draft_revision, work)
    (work / name).mkdir()
    (work / name / "index.html").write_text("docs")
    revisions.set_draft(
        app, revisions.snapshot(app=app, root=work, parent=app.draft_revision, source="manual")
    )
    client.force_login(user)
    base = preview_base(client, app)
    escaped = name.replace("%", "%25").replace(" ", "%20").replace("?", "%3F")
    response = without_cookies(f"{base}{escaped}?tab=2")
    assert response.status_code == 302 and response["Location"] == f"{base}{escaped}/?tab=2"
    assert without_cookies(f"{base}{escaped}/").content == b"docs"


def test_the_builder_pages_capability_is_bound_to_its_session(browser_client, app):
    import html
    import re

    page = browser_client.get(f"/apps/{app.id}/builder").content.decode()
    [url] = set(re.findall(rf"/apps/{app.id}/preview/~[^\"'<> ]+", html.unescape(page)))
    assert without_cookies(url).status_code in (200, 301, 302)
    assert not without_cookies(url).get("Location", "").startswith("/login/")
    browser_client.logout()
    assert without_cookies(url)["Location"].startswith("/login/")
