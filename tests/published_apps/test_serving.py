import pytest

from published_apps import publishing, revisions


def preview_base(client, app):
    """Follow the signed-in redirect to the preview's capability URL."""
    response = client.get(f"/apps/{app.id}/preview/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"/apps/{app.id}/preview/~") and location.endswith("/")
    return location


def test_preview_serves_the_draft_with_content_types_and_a_sandboxing_csp(browser_client, app):
    base = preview_base(browser_client, app)
    page = browser_client.get(base)
    assert page.status_code == 200
    assert page["Content-Type"] == "text/html; charset=utf-8"
    assert b"Aurora" in page.content
    csp = page["Content-Security-Policy"]
    assert csp.startswith("sandbox allow-scripts") and "allow-same-origin" not in csp
    assert page["X-Content-Type-Options"] == "nosniff"
    assert browser_client.get(base + "styles.css")["Content-Type"] == "text/css; charset=utf-8"
    assert browser_client.get(base + "app.js")["Content-Type"] == "text/javascript; charset=utf-8"


def test_the_capability_url_works_without_a_session_cookie(client, user, app):
    """What a sandboxed (opaque-origin) page's own CSS and JS requests look like."""
    client.force_login(user)
    base = preview_base(client, app)
    client.cookies.clear()  # the page's own requests carry no cookie
    assert client.get(base + "styles.css").status_code == 200


def test_a_bad_or_foreign_capability_is_refused(client, user, app, other_user):
    from published_apps.serving import preview_url
    from tests.factories import make_app

    client.force_login(user)
    base = preview_base(client, app)
    client.cookies.clear()
    tampered = base.replace("~", "~x", 1)
    assert client.get(tampered + "index.html")["Location"].startswith("/login/")
    # A capability minted for another app does not open this one.
    theirs = make_app(other_user, name="Theirs")
    foreign = preview_url(theirs, other_user).replace(str(theirs.id), str(app.id))
    assert client.get(foreign)["Location"].startswith("/login/")
    # Access is checked on every request: a member removed loses the preview at once.
    app.members.add(other_user)
    client.force_login(other_user)
    member_base = preview_base(client, app)
    client.cookies.clear()
    assert client.get(member_base).status_code == 200
    app.members.remove(other_user)
    assert client.get(member_base).status_code == 404


def test_preview_is_404_for_another_user_and_asks_anonymous_to_log_in(client, app, other_user):
    client.force_login(other_user)
    assert client.get(f"/apps/{app.id}/preview/").status_code == 404
    client.logout()
    response = client.get(f"/apps/{app.id}/preview/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_preview_revalidates_with_etag(browser_client, app):
    base = preview_base(browser_client, app)
    first = browser_client.get(base + "index.html")
    again = browser_client.get(base + "index.html", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert first["Cache-Control"] == "no-cache"


def test_missing_and_hostile_paths_are_404(browser_client, app):
    base = preview_base(browser_client, app)
    assert browser_client.get(base + "nope.html").status_code == 404
    assert browser_client.get(base + "..%2f..%2fetc/passwd").status_code == 404
    assert browser_client.get(base + ".git/config").status_code == 404


def test_published_app_is_public_at_its_slug_after_publish(client, app):
    assert client.get("/p/landing/").status_code == 404
    publishing.publish(app=app)
    page = client.get("/p/landing/")
    assert page.status_code == 200 and b"Aurora" in page.content
    assert page["Content-Security-Policy"].startswith("sandbox")
    assert client.get("/p/landing/styles.css")["Content-Type"] == "text/css; charset=utf-8"


def test_published_app_keeps_serving_its_pinned_revision_until_republished(client, app, tmp_path):
    publishing.publish(app=app)
    work = tmp_path / "w"
    revisions.materialise(app.draft_revision, work)
    (work / "index.html").write_text("<h1>v2</h1>")
    revisions.set_draft(
        app, revisions.snapshot(app=app, root=work, parent=app.draft_revision, source="manual")
    )
    assert b"Aurora" in client.get("/p/landing/").content
    publishing.publish(app=app)
    assert client.get("/p/landing/").content == b"<h1>v2</h1>"


def test_a_directory_without_slash_redirects_so_relative_links_work(client, app, tmp_path):
    work = tmp_path / "w"
    revisions.materialise(app.draft_revision, work)
    (work / "docs").mkdir()
    (work / "docs/index.html").write_text("docs")
    revisions.set_draft(
        app, revisions.snapshot(app=app, root=work, parent=app.draft_revision, source="manual")
    )
    publishing.publish(app=app)
    response = client.get("/p/landing/docs")
    assert response.status_code == 302 and response["Location"] == "/p/landing/docs/"
    assert client.get("/p/landing/docs/").content == b"docs"
    response = client.get("/p/landing/docs?tab=2")
    assert response.status_code == 302 and response["Location"] == "/p/landing/docs/?tab=2"


def test_a_capability_without_its_slash_redirects_so_relative_links_keep_it(browser_client, app):
    base = preview_base(browser_client, app)
    response = browser_client.get(base.rstrip("/") + "?x=1")
    assert response.status_code == 302 and response["Location"] == base + "?x=1"


def test_app_files_may_be_fetched_by_the_sandboxed_page_itself(browser_client, client, app):
    """The sandbox gives the page the origin `null`, so its fetch(), ES modules and fonts
    are cross-origin requests: without this header every one of them is blocked."""
    base = preview_base(browser_client, app)
    assert browser_client.get(base + "app.js")["Access-Control-Allow-Origin"] == "*"
    publishing.publish(app=app)
    assert client.get("/p/landing/styles.css")["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("header", ['W/"{tag}"', '"other", "{tag}"', "*"])
def test_revalidation_accepts_weak_tags_lists_and_a_star(client, app, header):
    publishing.publish(app=app)
    etag = client.get("/p/landing/")["ETag"].strip('"')
    response = client.get("/p/landing/", HTTP_IF_NONE_MATCH=header.format(tag=etag))
    assert response.status_code == 304 and response["ETag"] == f'"{etag}"'
    assert client.get("/p/landing/", HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize(
    "name,expected",
    [
        ("a.html", "text/html; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.mjs", "text/javascript; charset=utf-8"),
        ("a.json", "application/json; charset=utf-8"),
        ("a.svg", "image/svg+xml; charset=utf-8"),
        ("a.png", "image/png"),
        ("a.woff2", "font/woff2"),
        ("a.woff", "font/woff"),
        ("noext", "application/octet-stream"),
        # Whatever the host's /etc/mime.types says (one maps these to Qt and chemistry types).
        ("a.ts", "application/octet-stream"),
        ("a.xyz", "application/octet-stream"),
    ],
)
def test_content_types(name, expected):
    from published_apps.serving import content_type_for

    assert content_type_for(name) == expected
