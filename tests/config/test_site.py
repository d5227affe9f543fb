import json
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


def test_a_runs_admin_page_cannot_save_over_the_running_row(admin_client, app):
    from coding_agent import runs
    from coding_agent.models import AgentRun

    run = runs.start_run(app=app, user=app.owner, input="hi")
    page = admin_client.get(f"/django-admin/coding_agent/agentrun/{run.pk}/change/").content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    AgentRun.objects.filter(pk=run.pk).update(last_seq=5)  # the worker moved on meanwhile
    response = admin_client.post(f"/django-admin/coding_agent/agentrun/{run.pk}/change/", {"_continue": "1"})
    assert response.status_code == 403
    assert AgentRun.objects.get(pk=run.pk).last_seq == 5


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


CHAT_MODEL_FORM = {
    "id": "local",
    "label": "Local",
    "provider": "openai",
    "model_name": "qwen",
    "base_url": "",
    "api_key_env": "",
    "script": "",
    "is_active": "on",
}


def post_chat_model(client, row_id: str | None = None, **fields):
    """Post the ChatModel add form, or a row's change form; a field set to None is left out (unticked)."""
    url = (
        f"/django-admin/coding_agent/chatmodel/{row_id}/change/"
        if row_id
        else "/django-admin/coding_agent/chatmodel/add/"
    )
    data = {name: value for name, value in (CHAT_MODEL_FORM | fields).items() if value is not None}
    return client.post(url, data)


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was accepted"
    return {field: list(messages) for field, messages in response.context["adminform"].form.errors.items()}


@pytest.mark.parametrize("url", ["http://ollama:11434/v1", "http://vllm/v1", "http://[::1]:8000/v1"])
def test_admin_accepts_a_base_url_on_a_single_label_host(admin_client, url):
    from coding_agent.models import ChatModel

    response = post_chat_model(admin_client, base_url=url)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ChatModel.objects.get(id="local").base_url == url


def test_admin_shows_only_the_real_problem_with_a_bad_base_url(admin_client):
    assert form_errors(post_chat_model(admin_client, base_url="http://oll ama:11434/v1")) == {
        "base_url": [
            "Enter an http:// or https:// URL with a host, such as http://ollama:11434/v1 (it contains a space)."
        ]
    }


def test_the_admin_add_form_starts_with_an_empty_script_and_a_blank_label_means_the_id(admin_client):
    from coding_agent.models import ChatModel

    page = admin_client.get("/django-admin/coding_agent/chatmodel/add/")
    assert page.context["adminform"].form["script"].value() in ("", None)
    assert ">null</textarea>" not in page.content.decode()
    response = post_chat_model(admin_client, id="mini", label="", base_url="http://vllm/v1")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ChatModel.objects.get(id="mini").label == "mini"
    scripted = admin_client.get("/django-admin/coding_agent/chatmodel/mini/change/").content.decode()
    assert ">null</textarea>" not in scripted


def test_admin_shows_one_error_for_a_script_that_is_not_json(admin_client):
    response = post_chat_model(admin_client, provider="scripted", model_name="", script='[{"text": ')
    assert form_errors(response) == {"script": ["Enter a valid JSON."]}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"script": '[{"text": "hi"}]', "base_url": "http://vllm/v1"},
            "script",
            "Only a scripted model plays a script",
        ),
        (
            {"provider": "scripted", "script": '[{"text": "hi"}]', "base_url": "http://vllm/v1"},
            "base_url",
            "A scripted model makes no network calls",
        ),
        (
            {"provider": "scripted", "script": '[{"text": "hi"}]', "api_key_env": "OPENAI_API_KEY"},
            "api_key_env",
            "A scripted model makes no network calls",
        ),
    ],
)
def test_admin_refuses_what_add_chat_model_refuses(admin_client, fields, field, message):
    from coding_agent.models import ChatModel

    errors = form_errors(post_chat_model(admin_client, **fields))
    assert list(errors) == [field] and errors[field][0].startswith(message)
    assert not ChatModel.objects.filter(id="local").exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"is_default": None},
            "is_default",
            "'demo-scripted' is the default model (Auto picks it); make another model the default instead.",
        ),
        (
            {"is_active": None, "is_default": None},
            "is_active",
            "'demo-scripted' is the default model; make another model the default before deactivating it.",
        ),
    ],
)
def test_admin_keeps_a_default_for_auto(admin_client, fields, field, message):
    from coding_agent.models import ChatModel

    demo = ChatModel.objects.get(is_default=True)
    form = {"id": demo.id, "label": demo.label, "provider": "scripted", "model_name": "",
            "script": json.dumps(demo.script), "is_default": "on"}  # fmt: skip
    assert form_errors(post_chat_model(admin_client, demo.id, **(form | fields))) == {field: [message]}
    demo.refresh_from_db()
    assert demo.is_default and demo.is_active


def test_admin_timeline_shows_each_events_time_to_the_millisecond_and_since_the_run_began(admin_client, app):
    from datetime import datetime, timedelta

    from django.utils import timezone

    from coding_agent import runs
    from coding_agent.models import AgentRun, RunEvent

    run = runs.start_run(app=app, user=app.owner, input="hi")
    began = timezone.make_aware(datetime(2025, 1, 6, 8, 47, 11, 0))
    AgentRun.objects.filter(pk=run.pk).update(created_at=began)
    RunEvent.objects.filter(run=run, seq=1).update(created_at=began + timedelta(seconds=1.345))
    RunEvent.objects.create(
        run=run, seq=99, event="run.completed", created_at=began + timedelta(minutes=2, seconds=3.5)
    )

    page = admin_client.get(f"/django-admin/coding_agent/agentrun/{run.pk}/change/").content.decode()
    assert "08:47:12.345" in page and "+0:01.345" in page
    assert "08:49:14.500" in page and "+2:03.500" in page
