"""HEAD wherever GET answers (config/api.py): same status and headers, no body, no writes."""

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIRequestFactory, force_authenticate

from coding_agent import runs, views
from coding_agent.models import AgentRun


@pytest.fixture
def queued_run(app, user, agent_model, no_dispatch):
    agent_model([{"text": "Hi."}])
    return runs.start_run(app=app, user=user, input="Say hi", messages=[], model_id=None, engine="native")


def get_paths(app, run):
    revision = app.draft_revision_id
    agent = f"/admin/apps/{app.id}/coding-agent"
    return [
        "/admin/apps",
        f"/admin/apps/{app.id}",
        f"/admin/apps/{app.id}/revisions",
        f"/admin/apps/{app.id}/revisions/{revision}/diff",
        f"/admin/apps/{app.id}/files",
        f"/admin/apps/{app.id}/files/index.html",
        f"{agent}/models",
        f"{agent}/runs",
        f"{agent}/runs/{run.id}",
        f"{agent}/runs/{run.id}/events",
        f"{agent}/checkpoints",
    ]


def test_every_get_endpoint_answers_head_with_its_headers_and_no_body(api, app, queued_run):
    for path in get_paths(app, queued_run):
        got, head = api.get(path), api.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head["Content-Type"] == got["Content-Type"], path
        assert head.content == b"", path


def test_head_on_the_runs_collection_lists_and_never_creates_a_run(api, app, queued_run):
    response = api.head(f"/admin/apps/{app.id}/coding-agent/runs", {"input": "Make it red"})
    assert response.status_code == 200
    assert list(AgentRun.objects.values_list("id", flat=True)) == [queued_run.id]


def test_head_on_a_run_stream_answers_its_headers_without_following_the_run(user, app, queued_run):
    request = APIRequestFactory().head(f"/admin/apps/{app.id}/coding-agent/runs/{queued_run.id}/stream")
    force_authenticate(request, user=user)
    response = views.stream_run(request, app_id=app.id, run_id=queued_run.id)
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"

    async def first_chunk():
        return await anext(aiter(response.streaming_content), None)

    # A GET's stream starts at once (`retry:`) and follows the queued run until it ends;
    # HEAD's has nothing to send.
    assert async_to_sync(first_chunk)() is None


def test_head_still_refuses_another_users_app(other_api, app, queued_run):
    for path in get_paths(app, queued_run)[1:]:
        assert other_api.head(path).status_code == 404, path


@pytest.mark.parametrize("page", ["/", "/apps/{app}/builder"])
def test_pages_answer_head(browser_client, app, page):
    response = browser_client.head(page.format(app=app.id))
    assert response.status_code == 200 and response.content == b""
