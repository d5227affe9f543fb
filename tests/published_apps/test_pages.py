from published_apps.models import PublishedApp


def test_app_list_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_login_page_logs_in_and_lands_on_the_app_list(client, user):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "pass-1234"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_app_list_shows_own_apps_with_builder_preview_and_publish(browser_client, app, other_user):
    from tests.factories import make_app

    make_app(other_user, name="Not mine")
    page = browser_client.get("/").content.decode()
    assert "Landing" in page and "Not mine" not in page
    assert f"/apps/{app.id}/builder" in page
    assert f"/apps/{app.id}/preview/" in page
    assert f"/apps/{app.id}/publish" in page


def test_the_list_names_the_owner_of_apps_that_are_not_yours(client, user, other_user):
    from tests.factories import make_app

    make_app(user, name="Demo landing page")
    theirs = make_app(other_user, name="Demo landing page")
    theirs.members.add(user)
    client.force_login(user)
    text = client.get("/").content.decode()
    assert text.count("Demo landing page") == 2
    assert text.count("owned by") == 1 and "owned by mallory" in text


def test_create_from_template_and_publish_from_the_list(browser_client, user):
    response = browser_client.post("/apps/new", {"name": "Todo", "template": "todo"})
    assert response.status_code == 302
    app = PublishedApp.objects.get(name="Todo")
    assert app.template == "todo" and app.owner == user
    browser_client.post(f"/apps/{app.id}/publish")
    app.refresh_from_db()
    assert app.published_revision_id == app.draft_revision_id
    assert "/p/todo/" in browser_client.get("/").content.decode()


def test_create_with_a_blank_name_shows_the_error(browser_client):
    response = browser_client.post("/apps/new", {"name": " "}, follow=True)
    assert "Give the app a name." in response.content.decode()
    assert not PublishedApp.objects.exists()


def test_publishing_someone_elses_app_is_404(client, app, other_user):
    client.force_login(other_user)
    assert client.post(f"/apps/{app.id}/publish").status_code == 404


def test_a_missing_page_has_the_sites_header_and_a_way_back(browser_client, other_user):
    from tests.factories import make_app

    theirs = make_app(other_user, name="Not mine")
    for path in ("/apps/not-a-uuid/builder", f"/apps/{theirs.id}/builder", "/no/such/page"):
        response = browser_client.get(path)
        assert response.status_code == 404, path
        page = response.content.decode()
        assert "Page not found" in page and 'href="/"' in page and "topbar" in page, path
        assert "Not mine" not in page


def test_a_published_apps_missing_page_stays_plain(browser_client):
    # The app's own space (its public URL) never shows the builder's header.
    response = browser_client.get("/p/no-such-app/")
    assert response.status_code == 404 and "topbar" not in response.content.decode()
