"""The coding-agent REST endpoints (DESIGN.md §2): validation, conflicts, tenancy, shapes."""

import threading
import uuid

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from coding_agent import lifecycle, runs
from coding_agent.models import AgentRun, ChatModel
from tests.conftest import wait_for_run

BASE = "/admin/apps/{app}/coding-agent"


def url(app, path=""):
    return BASE.format(app=app.id) + path


@pytest.fixture(autouse=True)
def demo_default(db):
    """The default model every create here resolves to (a transactional test's flush removes the migration's)."""
    from coding_agent import models_catalog

    row = ChatModel.objects.filter(is_default=True).first()
    if row is None:
        row = models_catalog.set_default(
            ChatModel.objects.create(
                id="demo-scripted", label="Demo", provider="scripted", script=[{"text": "Hi."}]
            )
        )
    return row


def test_models_lists_auto_first_then_active_models(api, app, scripted_model):
    scripted_model("off", is_active=False)
    body = api.get(url(app, "/models")).json()
    ids = [m["id"] for m in body["models"]]
    assert ids[0] == "auto" and "off" not in ids and "demo-scripted" in ids
    assert set(body["models"][1]) == {"id", "label", "provider", "is_default", "note"}


def test_models_note_a_missing_key_where_this_process_runs_the_runs(api, app, settings, monkeypatch):
    ChatModel.objects.create(
        id="gpt", label="GPT", provider="openai", model_name="gpt-4.1", api_key_env="QA_TEST_OPENAI_KEY"
    )
    monkeypatch.delenv("QA_TEST_OPENAI_KEY", raising=False)

    def notes():
        return {m["id"]: m["note"] for m in api.get(url(app, "/models")).json()["models"]}

    settings.RUN_EXECUTION = "inprocess"
    assert notes()["gpt"] == "Its API key (QA_TEST_OPENAI_KEY) is not set on this server."
    assert notes()["demo-scripted"] is None and notes()["auto"] is None  # Auto is the scripted default
    monkeypatch.setenv("QA_TEST_OPENAI_KEY", "sk-test")
    assert notes()["gpt"] is None
    monkeypatch.delenv("QA_TEST_OPENAI_KEY")
    settings.RUN_EXECUTION = "celery"  # the workers' environment is not this process's
    assert notes()["gpt"] is None


def test_create_run_answers_202_with_the_pinned_model(api, app, demo_default):
    response = api.post(url(app, "/runs"), {"input": "Make it blue"}, format="json")
    assert response.status_code == 202
    run = response.json()
    assert run["status"] == "queued" and run["requested_model_id"] is None
    assert run["resolved_model_id"] == demo_default.id and run["execution_engine"] == "native"
    assert run["base_revision_id"] == str(app.draft_revision_id) and run["error"] is None
    for key in ["id", "app_id", "input", "engine_run_ref", "result_revision_id", "checkpoint_id", "usage",
                "created_at", "started_at", "finished_at"]:  # fmt: skip
        assert key in run
    events = api.get(url(app, f"/runs/{run['id']}/events")).json()["events"]
    assert [e["event"] for e in events] == ["run.accepted"]
    accepted = events[0]
    assert accepted["seq"] == 1 and accepted["payload"]["resolved_model_id"] == demo_default.id
    assert set(accepted) == {"seq", "event", "run_id", "app_id", "ts", "payload", "diagnostics"}


@pytest.mark.parametrize(
    "body,fields",
    [
        ({}, ["input"]),
        ({"input": "   "}, ["input"]),
        ({"input": 5, "engine": "nope"}, ["engine", "input"]),
        ({"input": True}, ["input"]),
        ({"input": "x", "model_id": 5}, ["model_id"]),
        ({"input": "x", "messages": [{"role": "user", "content": ["a"]}]}, ["messages"]),
        ({"input": "x", "messages": [{"role": "system", "content": "x"}]}, ["messages"]),
        ({"input": "x", "messages": "hello"}, ["messages"]),
        ({"messages": [{"role": "user"}], "engine": "warp"}, ["engine", "input", "messages"]),
    ],
)
def test_create_run_validation_names_each_bad_field(api, app, body, fields):
    response = api.post(url(app, "/runs"), body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "CODING_AGENT_VALIDATION_FAILED"
    assert error["fields"] == fields
    assert not AgentRun.objects.exists()


def test_a_nested_problem_is_named_by_where_it_is_not_by_python_repr(api, app):
    body = {"input": "x", "messages": [{"role": "user", "content": "ok"}, {"role": "system", "content": 3}]}
    error = api.post(url(app, "/runs"), body, format="json").json()
    assert error["field"] == "messages"
    assert error["message"] == (
        'messages[1].role: "system" is not a valid choice.; messages[1].content: Must be a string.'
    )


def test_unknown_or_inactive_model_is_unavailable_and_never_falls_back(api, app, scripted_model):
    scripted_model("off", is_active=False)
    for model_id in ["no-such-model", "off"]:
        response = api.post(url(app, "/runs"), {"input": "x", "model_id": model_id}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "CODING_AGENT_MODEL_UNAVAILABLE"
        assert response.json()["field"] == "model_id"
    assert not AgentRun.objects.exists()


def test_a_chosen_model_is_pinned_as_requested(api, app, scripted_model):
    scripted_model("other")
    run = api.post(url(app, "/runs"), {"input": "x", "model_id": "other"}, format="json").json()
    assert run["requested_model_id"] == "other" and run["resolved_model_id"] == "other"


@pytest.mark.parametrize("opencode_url", [None, "http://127.0.0.1:4096"])
def test_opencode_engine_is_unavailable_and_says_configuring_it_would_not_help(
    api, app, settings, opencode_url
):
    settings.APPS_CODING_AGENT_OPENCODE_URL = opencode_url
    response = api.post(url(app, "/runs"), {"input": "x", "engine": "opencode"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "CODING_AGENT_ENGINE_UNAVAILABLE"
    message = response.json()["message"]
    assert "adapter is not part of this version" in message and "use the native engine" in message
    assert response.json()["field"] == "engine" and not AgentRun.objects.exists()


def test_a_second_run_while_one_is_active_is_409(api, app):
    assert api.post(url(app, "/runs"), {"input": "one"}, format="json").status_code == 202
    response = api.post(url(app, "/runs"), {"input": "two"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "CODING_AGENT_RUN_ACTIVE"
    assert AgentRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_make_exactly_one_run(user, app, settings):
    settings.RUN_EXECUTION = "celery"  # queue nowhere: only the creates race here
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "memory://"
    from config.celery import app as celery_app

    celery_app.conf.broker_url = "memory://"
    outcomes = []
    barrier = threading.Barrier(8)

    def create():
        from django.db import close_old_connections

        barrier.wait()
        try:
            runs.start_run(app=app, user=user, input="race")
            outcomes.append("created")
        except runs.RunActive:
            outcomes.append("409")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409"] * 7 + ["created"]
    assert AgentRun.objects.filter(app=app).count() == 1


def test_runs_list_newest_first_and_get_one(api, app):
    first = api.post(url(app, "/runs"), {"input": "one"}, format="json").json()
    lifecycle.finish(first["id"], lifecycle.cancelled())
    second = api.post(url(app, "/runs"), {"input": "two"}, format="json").json()
    body = api.get(url(app, "/runs")).json()
    assert [r["id"] for r in body["results"]] == [second["id"], first["id"]] and body["next"] is None
    one = api.get(url(app, f"/runs/{first['id']}")).json()
    assert one["status"] == "cancelled" and one["finished_at"]


def test_cancelling_a_queued_run_ends_it_at_once(api, app):
    run = api.post(url(app, "/runs"), {"input": "x"}, format="json").json()
    response = api.post(url(app, f"/runs/{run['id']}/cancel"))
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    events = api.get(url(app, f"/runs/{run['id']}/events")).json()["events"]
    assert [e["event"] for e in events] == ["run.accepted", "assistant.delta", "run.cancelled"]
    again = api.post(url(app, f"/runs/{run['id']}/cancel"))
    assert again.status_code == 409 and again.json()["code"] == "CODING_AGENT_RUN_FINISHED"


def test_events_after_seq(api, app):
    run = api.post(url(app, "/runs"), {"input": "x"}, format="json").json()
    lifecycle.finish(run["id"], lifecycle.cancelled())
    all_events = api.get(url(app, f"/runs/{run['id']}/events")).json()["events"]
    later = api.get(url(app, f"/runs/{run['id']}/events?after_seq=1")).json()["events"]
    assert later == all_events[1:]
    bad = api.get(url(app, f"/runs/{run['id']}/events?after_seq=x"))
    assert bad.status_code == 400 and bad.json()["field"] == "after_seq"
    bad_header = api.get(url(app, f"/runs/{run['id']}/events"), HTTP_LAST_EVENT_ID="-3")
    assert bad_header.status_code == 400 and bad_header.json()["field"] == "Last-Event-ID"


def test_a_list_cursor_that_was_not_handed_out_is_a_400_naming_it(api, app):
    import base64

    for n in range(3):
        run = api.post(url(app, "/runs"), {"input": f"run {n}"}, format="json").json()
        lifecycle.finish(run["id"], lifecycle.cancelled())
    first = api.get(url(app, "/runs?page_size=2")).json()
    assert len(first["results"]) == 2 and first["next"]
    assert len(api.get(first["next"]).json()["results"]) == 1  # a real cursor still works
    for cursor in ("garbage", base64.b64encode(b"p=2026").decode(), base64.b64encode(b"o=x").decode()):
        for path in ("/runs", "/checkpoints"):
            response = api.get(url(app, path), {"cursor": cursor})
            assert response.status_code == 400, (path, cursor, response.content)
            assert response.json()["code"] == "CODING_AGENT_VALIDATION_FAILED"
            assert response.json()["field"] == "cursor"


def test_ids_that_are_not_uuids_and_unknown_paths_answer_the_json_404(api, app):
    for path in (
        url(app, "/runs/123"),
        url(app, "/runs/123/events"),
        url(app, "/checkpoints/abc/restore"),
        url(app, "/no-such-endpoint"),
        "/admin/apps/not-a-uuid/coding-agent/runs",
        "/admin/apps/not-a-uuid",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json", path
        assert response.json()["code"] == "NOT_FOUND", path
    page = api.get("/apps/not-a-uuid/builder")  # pages keep Django's HTML 404
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/admin", "/admin/", "/admin/nothing", "/api/nothing"])
def test_the_api_namespace_outside_apps_answers_json_and_points_at_both_admins(api, path):
    response = api.get(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    body = response.json()
    assert (
        body["code"] == "NOT_FOUND"
        and "/admin/apps" in body["message"]
        and "/django-admin/" in body["message"]
    )


def test_checkpoints_list_and_restore(api, app):
    start = app.checkpoints.get()
    body = api.get(url(app, "/checkpoints")).json()
    assert [c["id"] for c in body["results"]] == [str(start.id)]
    response = api.post(url(app, f"/checkpoints/{start.id}/restore"))
    assert response.status_code == 200
    restored = response.json()
    assert restored["revision"]["source"] == "restore"
    assert restored["checkpoint"]["revision_id"] == restored["revision"]["id"]
    assert api.get(f"/admin/apps/{app.id}").json()["draft_revision_id"] == restored["revision"]["id"]


def test_restore_while_a_run_is_active_is_409(api, app):
    api.post(url(app, "/runs"), {"input": "x"}, format="json")
    start = app.checkpoints.get()
    response = api.post(url(app, f"/checkpoints/{start.id}/restore"))
    assert (
        response.status_code == 409 and response.json()["code"] == "CODING_AGENT_CHECKPOINT_RESTORE_CONFLICT"
    )
    app.refresh_from_db()
    assert app.draft_revision == start.revision


def read_stream(response) -> str:
    """Drain an SSE response's async iterator here (thread-sensitive ORM calls stay on this thread)."""
    from asgiref.sync import async_to_sync

    async def drain():
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(drain)().decode()


@pytest.mark.django_db(transaction=True)  # the stream's ORM wrappers close connections between calls
def test_stream_of_a_finished_run_replays_and_closes(api, app):
    run = api.post(url(app, "/runs"), {"input": "x"}, format="json").json()
    lifecycle.finish(run["id"], lifecycle.cancelled())
    response = api.get(url(app, f"/runs/{run['id']}/stream"), HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    body = read_stream(response)
    assert body.startswith("retry: ")
    assert (
        "id: 1\nevent: run.accepted\ndata: {" in body
        and body.rstrip().split("\n")[-2] == "event: run.cancelled"
    )
    resumed = api.get(url(app, f"/runs/{run['id']}/stream"), HTTP_LAST_EVENT_ID="2")
    resumed_body = read_stream(resumed)
    assert "id: 2\n" not in resumed_body and "id: 3\n" in resumed_body
    # EventSource reconnects to the URL it opened, `?after_seq` and all, with the last id
    # it saw in Last-Event-ID: the header is the later word.
    reopened = api.get(url(app, f"/runs/{run['id']}/stream?after_seq=0"), HTTP_LAST_EVENT_ID="2")
    assert read_stream(reopened) == resumed_body


def test_stream_errors_are_json_even_when_asking_for_an_event_stream(api, app):
    missing = api.get(url(app, f"/runs/{uuid.uuid4()}/stream"), HTTP_ACCEPT="text/event-stream")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["code"] == "NOT_FOUND"


OTHER_ENDPOINTS = [
    ("get", "/models"),
    ("get", "/runs"),
    ("post", "/runs"),
    ("get", "/runs/{run}"),
    ("post", "/runs/{run}/cancel"),
    ("get", "/runs/{run}/events"),
    ("get", "/runs/{run}/stream"),
    ("get", "/checkpoints"),
    ("post", "/checkpoints/{checkpoint}/restore"),
]


@pytest.mark.parametrize("method,path", OTHER_ENDPOINTS)
def test_another_user_gets_404_on_every_coding_agent_endpoint(api, other_api, app, method, path):
    run = api.post(url(app, "/runs"), {"input": "x"}, format="json").json()
    checkpoint = app.checkpoints.get()
    target = url(app, path.format(run=run["id"], checkpoint=checkpoint.id))
    response = (
        getattr(other_api, method)(target, {"input": "mine now"}, format="json")
        if method == "post"
        else other_api.get(target)
    )
    assert response.status_code == 404
    assert response.json() == {"code": "NOT_FOUND", "message": "App not found."}
    assert AgentRun.objects.get(pk=run["id"]).cancel_requested_at is None


def test_a_run_of_another_app_is_404_even_for_its_owner(api, app, user):
    from tests.factories import make_app

    other_app = make_app(user, name="Second")
    run = api.post(url(app, "/runs"), {"input": "x"}, format="json").json()
    response = api.get(url(other_app, f"/runs/{run['id']}"))
    assert response.status_code == 404 and response.json()["message"] == "Run not found."
    assert api.get(url(app, f"/runs/{uuid.uuid4()}")).status_code == 404


def test_anonymous_is_refused(db, app):
    assert APIClient().get(url(app, "/runs")).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_the_default_changing_mid_run_does_not_change_the_runs_model(
    inprocess, user, app, agent_model, scripted_model
):
    from coding_agent import models_catalog

    pinned = agent_model([{"text": "slow start", "delay_ms": 300}, {"text": "x"}], model_id="pinned")
    run = runs.start_run(app=app, user=user, input="hi")
    models_catalog.set_default(scripted_model("newer", [{"text": "I am the newer model."}]))
    run = wait_for_run(run)
    assert run.resolved_model_id == pinned.id and run.status == "completed"
    assert "newer" not in run.final_text
    assert run.model_resolution.startswith("Auto")


# -- the events list, a page at a time ------------------------------------------------------


def run_with_events(api, app, deltas: int) -> tuple[str, int]:
    """A finished run with `deltas` assistant.delta events between run.accepted and its end; its id and last seq."""
    from coding_agent.events import append_events

    run = api.post(url(app, "/runs"), {"input": "x"}, format="json").json()
    append_events(run["id"], [("assistant.delta", {"text": f"{n} "}, None) for n in range(deltas)])
    lifecycle.finish(run["id"], lifecycle.cancelled())
    return run["id"], AgentRun.objects.get(pk=run["id"]).last_seq


def test_events_beyond_a_page_say_so_with_has_more(api, app):
    from coding_agent.events import EVENTS_PAGE_SIZE, TERMINAL_EVENTS

    run_id, last_seq = run_with_events(api, app, EVENTS_PAGE_SIZE + 200)
    assert last_seq > EVENTS_PAGE_SIZE + 200
    first = api.get(url(app, f"/runs/{run_id}/events?after_seq=0")).json()
    assert set(first) == {"events", "has_more"}
    assert [e["seq"] for e in first["events"]] == list(range(1, EVENTS_PAGE_SIZE + 1))
    assert first["has_more"] is True
    rest = api.get(url(app, f"/runs/{run_id}/events"), {"after_seq": EVENTS_PAGE_SIZE}).json()
    assert [e["seq"] for e in rest["events"]] == list(range(EVENTS_PAGE_SIZE + 1, last_seq + 1))
    assert rest["has_more"] is False and rest["events"][-1]["event"] in TERMINAL_EVENTS


@pytest.mark.parametrize("page_size", [1, 4, 7])
def test_paging_with_after_seq_collects_every_event_once_in_order(api, app, monkeypatch, page_size):
    from coding_agent import events

    run_id, last_seq = run_with_events(api, app, 11)  # run.accepted, 11 deltas, and how it ended
    monkeypatch.setattr(events, "EVENTS_PAGE_SIZE", page_size)
    collected, after, pages = [], 0, []
    while True:
        body = api.get(url(app, f"/runs/{run_id}/events"), {"after_seq": after}).json()
        pages.append(body)
        assert 0 < len(body["events"]) <= page_size
        collected += body["events"]
        if not body["has_more"]:
            break
        assert len(body["events"]) == page_size  # only a full page can have more after it
        after = body["events"][-1]["seq"]
    assert [e["seq"] for e in collected] == list(range(1, last_seq + 1))
    assert len(pages) == -(-last_seq // page_size)  # a last page that is exactly full says so too
    assert collected[-1]["event"] == "run.cancelled"
    end = api.get(url(app, f"/runs/{run_id}/events"), {"after_seq": last_seq}).json()
    assert end == {"events": [], "has_more": False}


@pytest.mark.django_db(transaction=True)
def test_a_run_created_while_the_broker_is_down_is_accepted_and_left_for_the_sweeper(
    api, app, broker_down, caplog
):
    response = api.post(url(app, "/runs"), {"input": "Make it blue"}, format="json")
    assert response.status_code == 202, response.content
    run = AgentRun.objects.get(pk=response.json()["id"])
    assert run.status == "queued" and run.enqueued_at is not None  # the sweeper's cue
    assert any("could not be handed out" in r.getMessage() for r in caplog.records)
    # A client that retries learns the truth: its run exists.
    assert api.post(url(app, "/runs"), {"input": "Make it blue"}, format="json").status_code == 409


@pytest.mark.skipif(not django_settings.IS_POSTGRES, reason="PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_a_create_that_waits_on_a_restore_starts_from_the_restored_draft(user, app, settings):
    """The create waits for the app's row lock while a restore moves the draft. Locking it
    joined to its draft once made PostgreSQL's re-check drop the join: the run started
    from no revision at all, an empty workspace."""
    settings.RUN_EXECUTION = "celery"  # queue nowhere: only the create and the restore meet
    settings.CELERY_BROKER_URL = "memory://"
    from django.db import close_old_connections, transaction

    from config.celery import app as celery_app
    from published_apps import checkpoints

    celery_app.conf.broker_url = "memory://"
    checkpoint = checkpoints.create_checkpoint(app=app, revision=app.draft_revision, label="start")
    locked, done = threading.Event(), threading.Event()

    def restore():
        try:
            with transaction.atomic():
                runs.restore_checkpoint(app=app, checkpoint=checkpoint, user=user)
                locked.set()
                done.wait(0.5)  # the create is now waiting on the row
        finally:
            close_old_connections()

    thread = threading.Thread(target=restore)
    thread.start()
    assert locked.wait(10)
    run = runs.start_run(app=app, user=user, input="after the restore")
    thread.join()
    app.refresh_from_db()
    assert app.draft_revision_id != checkpoint.revision_id  # the restore made a new revision
    assert run.base_revision_id == app.draft_revision_id


def test_restoring_names_the_checkpoints_own_app_or_nothing_moves(user, app):
    from published_apps import checkpoints
    from tests.factories import make_app

    other = make_app(user, name="Other")
    checkpoint = checkpoints.create_checkpoint(app=app, revision=app.draft_revision, label="start")
    drafts = (app.draft_revision_id, other.draft_revision_id)
    with pytest.raises(ValueError, match="another app"):
        runs.restore_checkpoint(app=other, checkpoint=checkpoint, user=user)
    app.refresh_from_db()
    other.refresh_from_db()
    assert (app.draft_revision_id, other.draft_revision_id) == drafts
