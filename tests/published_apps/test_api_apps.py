import uuid

import pytest
from rest_framework.test import APIClient

from published_apps import checkpoints, revisions
from published_apps.models import PublishedApp, Revision


def test_create_app_answers_201_with_the_app(api):
    response = api.post("/admin/apps", {"name": "Shop", "template": "todo"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Shop" and body["slug"] == "shop" and body["template"] == "todo"
    assert body["draft_revision_id"] and body["published_revision_id"] is None and body["publish_url"] is None


def test_create_app_validation_errors_name_each_field(api):
    response = api.post("/admin/apps", {"template": "nope"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_FAILED"
    assert body["fields"] == ["name", "template"]
    assert "name" in body["message"]


def test_an_app_name_must_be_a_string(api):
    response = api.post("/admin/apps", {"name": 42}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "name"
    assert not PublishedApp.objects.filter(name="42").exists()


def test_a_body_that_is_not_an_object_names_no_field(api):
    response = api.post("/admin/apps", [1], format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_FAILED" and "field" not in body and "fields" not in body
    assert body["message"]


def test_malformed_json_is_a_validation_error(api):
    response = api.generic("POST", "/admin/apps", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_FAILED"


def test_list_apps_shows_only_the_callers_and_shared_apps(api, app, other_user):
    from tests.factories import make_app

    theirs = make_app(other_user, name="Theirs")
    shared = make_app(other_user, name="Shared")
    shared.members.add(app.owner)
    names = [a["name"] for a in api.get("/admin/apps").json()["results"]]
    assert sorted(names) == ["Landing", "Shared"]
    assert theirs.name not in names


def test_get_app_has_the_contract_fields(api, app):
    body = api.get(f"/admin/apps/{app.id}").json()
    assert {"id", "name", "slug", "draft_revision_id", "published_revision_id", "publish_url"} <= set(body)
    assert body["draft_revision_id"] == str(app.draft_revision_id)


def test_revisions_are_listed_newest_first_with_changed_files(api, app, tmp_path):
    work = tmp_path / "w"
    revisions.materialise(app.draft_revision, work)
    (work / "index.html").write_text("<p>new</p>\n")
    (work / "extra.js").write_text("1;\n")
    newer = revisions.snapshot(app=app, root=work, parent=app.draft_revision, source=Revision.Source.MANUAL)
    body = api.get(f"/admin/apps/{app.id}/revisions").json()
    assert [r["id"] for r in body["results"]] == [str(newer.id), str(app.draft_revision_id)]
    assert body["next"] is None
    first = body["results"][0]
    assert (
        first["parent_id"] == str(app.draft_revision_id)
        and first["source"] == "manual"
        and first["run_id"] is None
    )
    assert first["changed_files"] == [
        {"path": "extra.js", "change": "added"},
        {"path": "index.html", "change": "modified"},
    ]


def test_revisions_paginate_with_a_cursor(api, app):
    for _ in range(3):
        checkpoints.restore_checkpoint(checkpoint=app.checkpoints.last())
    page = api.get(f"/admin/apps/{app.id}/revisions?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 2 and rest["next"] is None
    ids = [r["id"] for r in page["results"] + rest["results"]]
    assert len(set(ids)) == 4


def test_files_manifest_and_file_content(api, app):
    files = api.get(f"/admin/apps/{app.id}/files").json()["results"]
    paths = [f["path"] for f in files]
    assert paths == sorted(paths) and "index.html" in paths
    assert {"path", "size", "sha256"} <= set(files[0])
    response = api.get(f"/admin/apps/{app.id}/files/styles.css")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/css; charset=utf-8"
    assert b":root" in response.content
    # The same types as the preview serves, and revalidation: a file's tag is its sha256.
    assert api.get(f"/admin/apps/{app.id}/files/index.html")["Content-Type"] == "text/html; charset=utf-8"
    again = api.get(f"/admin/apps/{app.id}/files/styles.css", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_files_of_an_older_revision(api, app, tmp_path):
    old = app.draft_revision
    work = tmp_path / "w"
    revisions.materialise(old, work)
    (work / "index.html").write_text("new")
    revisions.set_draft(app, revisions.snapshot(app=app, root=work, parent=old, source="manual"))
    assert api.get(f"/admin/apps/{app.id}/files/index.html").content == b"new"
    assert b"Aurora" in api.get(f"/admin/apps/{app.id}/files/index.html?revision={old.id}").content


def test_missing_file_and_foreign_revision_are_404(api, app, other_user):
    from tests.factories import make_app

    foreign = make_app(other_user, name="Other").draft_revision
    assert api.get(f"/admin/apps/{app.id}/files/nope.txt").json()["code"] == "NOT_FOUND"
    assert api.get(f"/admin/apps/{app.id}/files?revision={foreign.id}").status_code == 404
    assert api.get(f"/admin/apps/{app.id}/files?revision=not-a-uuid").status_code == 404
    assert api.get(f"/admin/apps/{app.id}/files/../secret").status_code == 404


def test_diff_defaults_to_the_parent(api, app, tmp_path):
    work = tmp_path / "w"
    revisions.materialise(app.draft_revision, work)
    (work / "app.js").write_text("console.log('changed');\n")
    newer = revisions.snapshot(app=app, root=work, parent=app.draft_revision, source="manual")
    response = api.get(f"/admin/apps/{app.id}/revisions/{newer.id}/diff")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert text.startswith("diff --git a/app.js b/app.js\n") and "+console.log('changed');" in text
    against_self = api.get(f"/admin/apps/{app.id}/revisions/{newer.id}/diff?against={newer.id}")
    assert against_self.content == b""


def test_file_and_diff_answer_whatever_media_type_the_client_accepts(api, app):
    newer = app.draft_revision
    for accept in ("text/plain", "application/octet-stream", "text/css", "*/*"):
        file = api.get(f"/admin/apps/{app.id}/files/styles.css", HTTP_ACCEPT=accept)
        assert file.status_code == 200 and file["Content-Type"] == "text/css; charset=utf-8", accept
        diff = api.get(f"/admin/apps/{app.id}/revisions/{newer.id}/diff", HTTP_ACCEPT=accept)
        assert diff.status_code == 200 and diff["Content-Type"].startswith("text/plain"), accept
    # An error is JSON, labelled so, whatever was asked for.
    missing = api.get(f"/admin/apps/{app.id}/files/nope.css", HTTP_ACCEPT="text/css")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["code"] == "NOT_FOUND"


def test_a_revisions_cursor_that_was_not_handed_out_is_a_400(api, app):
    response = api.get(f"/admin/apps/{app.id}/revisions", {"cursor": "cD0yMDI2"})  # base64 of p=2026
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_FAILED" and response.json()["field"] == "cursor"


def test_publish_pins_the_draft_and_answers_the_app(api, app):
    response = api.post(f"/admin/apps/{app.id}/publish")
    assert response.status_code == 200
    body = response.json()
    assert body["published_revision_id"] == str(app.draft_revision_id)
    assert body["publish_url"] == "http://testserver/p/landing/"


def test_publish_url_uses_the_configured_base(api, app, settings):
    settings.APPS_PUBLISH_BASE_URL = "https://apps.example.com/"
    assert (
        api.post(f"/admin/apps/{app.id}/publish").json()["publish_url"]
        == "https://apps.example.com/p/landing/"
    )


ENDPOINTS = [
    ("get", "/admin/apps/{id}"),
    ("get", "/admin/apps/{id}/revisions"),
    ("get", "/admin/apps/{id}/files"),
    ("get", "/admin/apps/{id}/files/index.html"),
    ("get", "/admin/apps/{id}/revisions/{rev}/diff"),
    ("post", "/admin/apps/{id}/publish"),
]


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_another_user_gets_404_on_every_apps_endpoint(other_api, app, method, path):
    response = getattr(other_api, method)(path.format(id=app.id, rev=app.draft_revision_id))
    assert response.status_code == 404
    assert response.json() == {"code": "NOT_FOUND", "message": "App not found."}
    app.refresh_from_db()
    assert app.published_revision_id is None


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_unknown_app_is_404_like_a_foreign_one(api, method, path):
    response = getattr(api, method)(path.format(id=uuid.uuid4(), rev=uuid.uuid4()))
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


def test_members_and_superusers_may_act_on_the_app(app, other_user):
    from tests.factories import make_user

    app.members.add(other_user)
    member = APIClient()
    member.force_authenticate(other_user)
    assert member.get(f"/admin/apps/{app.id}").status_code == 200
    admin = APIClient()
    admin.force_authenticate(make_user("root", is_superuser=True, is_staff=True))
    assert admin.get(f"/admin/apps/{app.id}").status_code == 200


def test_anonymous_requests_are_refused_in_the_contract_shape(db, app):
    response = APIClient().get("/admin/apps")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = bad_token.get(f"/admin/apps/{app.id}")
    assert response.status_code == 401 and response.json()["code"] == "AUTHENTICATION_FAILED"


def test_session_auth_works_and_requires_csrf_for_writes(user, app):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/admin/apps").status_code == 200
    response = client.post(f"/admin/apps/{app.id}/publish")
    assert response.status_code == 403 and response.json()["code"] == "PERMISSION_DENIED"
    assert PublishedApp.objects.get(pk=app.pk).published_revision_id is None
