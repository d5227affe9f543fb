import re

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connections

from tests.factories import make_user


def test_openapi_schema_lists_the_apps_endpoints(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/admin/apps",
        "/admin/apps/{app_id}",
        "/admin/apps/{app_id}/files/{path}",
        "/admin/apps/{app_id}/publish",
    ]:
        assert path in paths


def test_openapi_schema_generates_without_a_warning_and_validates(tmp_path):
    """A warning means a guessed type (a list typed as a string, two components sharing a
    name): what generated clients would get wrong."""
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    text = target.read_text()
    assert "ChangedFile" in text and "RunError" in text


def test_api_docs_page_works_offline_from_vendored_assets(client, db):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    # Every script and stylesheet is served by us: no absolute URL to another host.
    # (A plain "cdn" substring check is wrong: the CSRF token is random text.)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE)


@pytest.mark.parametrize(
    "model", [m for m in django_apps.get_models() if m._meta.app_label in ("published_apps", "coding_agent")]
)
def test_django_admin_lists_every_model(client, db, app, model):
    client.force_login(make_user("boss", is_superuser=True, is_staff=True))
    url = f"/django-admin/{model._meta.app_label}/{model._meta.model_name}/"
    assert client.get(url).status_code == 200


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("boss", is_superuser=True, is_staff=True))
    return client


def test_admin_filters_runs_by_status_engine_and_model(admin_client, app):
    for query in [
        "status__exact=running",
        "execution_engine__exact=native",
        "resolved_model_id=demo-scripted",
    ]:
        assert admin_client.get(f"/django-admin/coding_agent/agentrun/?{query}").status_code == 200


def test_admin_shows_a_runs_event_timeline(admin_client, app):
    from coding_agent import runs

    run = runs.start_run(app=app, user=app.owner, input="hi")
    page = admin_client.get(f"/django-admin/coding_agent/agentrun/{run.pk}/change/").content.decode()
    assert "run.accepted" in page


def test_admin_cancel_action_cancels_a_run(admin_client, app):
    from coding_agent import runs

    run = runs.start_run(app=app, user=app.owner, input="hi")
    admin_client.post(
        "/django-admin/coding_agent/agentrun/", {"action": "cancel_runs", "_selected_action": [run.pk]}
    )
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_admin_restore_action_makes_a_new_draft(admin_client, app):
    checkpoint = app.checkpoints.get()
    before = app.draft_revision_id
    admin_client.post(
        "/django-admin/published_apps/checkpoint/", {"action": "restore", "_selected_action": [checkpoint.pk]}
    )
    app.refresh_from_db()
    assert app.draft_revision_id != before and app.draft_revision.source == "restore"


def test_admin_ticking_default_moves_the_default(admin_client, db):
    from coding_agent.models import ChatModel

    ChatModel.objects.create(id="second", label="Second", provider="scripted", script=[{"text": "hi"}])
    response = admin_client.post(
        "/django-admin/coding_agent/chatmodel/second/change/",
        {
            "id": "second",
            "label": "Second",
            "provider": "scripted",
            "script": '[{"text": "hi"}]',
            "is_active": "on",
            "is_default": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(ChatModel.objects.filter(is_default=True).values_list("id", flat=True)) == ["second"]


def test_openapi_schema_lists_the_coding_agent_endpoints(client, db):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    base = "/admin/apps/{app_id}/coding-agent"
    for path in ["models", "runs", "runs/{run_id}", "runs/{run_id}/cancel", "runs/{run_id}/events",
                 "runs/{run_id}/stream", "checkpoints", "checkpoints/{checkpoint_id}/restore"]:  # fmt: skip
        assert f"{base}/{path}" in paths, path


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="a PostgreSQL session setting")
def test_postgresql_sessions_start_in_the_sites_time_zone(db):
    # Django then sends no SET TIME ZONE on each new connection (one per request and task).
    fresh = connections.create_connection("default")
    try:
        fresh.ensure_connection()
        assert fresh.connection.info.parameter_status("TimeZone") == settings.TIME_ZONE
    finally:
        fresh.close()
