"""The builder page at /apps/{app_id}/builder (the browser tests drive it; these check the shell)."""

from published_apps import serving


def test_builder_renders_for_the_owner_with_its_endpoints_and_labels(browser_client, app):
    response = browser_client.get(f"/apps/{app.id}/builder")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-app-id="{app.id}"' in page
    assert f'data-app-url="/admin/apps/{app.id}"' in page
    assert f'data-agent-url="/admin/apps/{app.id}/coding-agent"' in page
    assert f'data-ws-path="/ws/admin/apps/{app.id}/coding-agent"' in page
    assert f'data-draft-revision-id="{app.draft_revision_id}"' in page
    assert f'data-preview-url="/apps/{app.id}/preview/~' in page
    assert 'sandbox="allow-scripts allow-forms allow-modals allow-popups"' in page
    assert "allow-same-origin" not in page
    for label in (
        '<label for="composer-input"',
        '<label for="model-picker"',
        'aria-label="Files of the draft"',
    ):
        assert label in page
    assert "builder/main.js" in page and "builder/builder.css" in page
    assert app.name in page


def test_builder_frames_a_preview_url_signed_for_the_user(browser_client, app, user):
    page = browser_client.get(f"/apps/{app.id}/builder").content.decode()
    token = page.split(f'data-preview-url="/apps/{app.id}/preview/~', 1)[1].split("/", 1)[0]
    assert serving._token_user(token, app.id) == user


def test_another_users_app_is_404(client, app, other_user):
    client.force_login(other_user)
    assert client.get(f"/apps/{app.id}/builder").status_code == 404


def test_an_unknown_app_is_404(browser_client):
    assert browser_client.get("/apps/00000000-0000-0000-0000-000000000000/builder").status_code == 404


def test_anonymous_is_sent_to_log_in(client, app):
    response = client.get(f"/apps/{app.id}/builder")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/apps/{app.id}/builder"


def test_builder_answers_get_only(browser_client, app):
    assert browser_client.post(f"/apps/{app.id}/builder").status_code == 405
