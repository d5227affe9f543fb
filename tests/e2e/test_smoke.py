"""The harness itself: a real server answers, runs a scripted run, and streams it on both transports."""

import asyncio
import json

import httpx
import websockets

from tests.factories import make_app

SCRIPT = [
    {
        "text": "Hello from the script.",
        "tool_calls": [{"id": "c1", "name": "coding_agent_workspace_index", "args": {}}],
    },
    {"text": "All done."},
]


def sse_events(client, url) -> list[dict]:
    events = []
    with client.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    return events


def test_an_embedded_server_runs_and_streams_a_run(embedded_server, user, api_token, agent_model):
    agent_model(SCRIPT)
    app = make_app(user)
    headers = {"Authorization": f"Token {api_token}"}
    with httpx.Client(base_url=embedded_server.url, headers=headers) as client:
        run = client.post(f"/admin/apps/{app.id}/coding-agent/runs", json={"input": "hi"}).json()
        events = sse_events(client, f"/admin/apps/{app.id}/coding-agent/runs/{run['id']}/stream")
    assert events[0]["event"] == "run.accepted" and events[-1]["event"] == "run.completed"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    async def over_websocket():
        url = f"{embedded_server.ws_url}/ws/admin/apps/{app.id}/coding-agent/runs/{run['id']}/stream?after_seq=0"
        async with websockets.connect(url, additional_headers=headers) as ws:
            return [json.loads(frame) async for frame in ws]

    assert asyncio.run(over_websocket()) == events


def test_the_production_stack_runs_a_run_on_a_celery_worker(services_stack, user, api_token, agent_model):
    agent_model(SCRIPT)
    app = make_app(user)
    headers = {"Authorization": f"Token {api_token}"}
    with httpx.Client(base_url=services_stack.web.url, headers=headers) as client:
        run = client.post(f"/admin/apps/{app.id}/coding-agent/runs", json={"input": "hi"}).json()
        events = sse_events(client, f"/admin/apps/{app.id}/coding-agent/runs/{run['id']}/stream")
    assert events[-1]["event"] == "run.completed"
    assert "coding_agent.execute_run" in services_stack.worker.log()
