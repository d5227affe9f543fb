"""Many runs at once: 20 runs on 20 apps, each watched by 3 clients (SSE and websocket mixed).

Every watcher must receive exactly the persisted events of its run, in order.
"""

import asyncio

from tests.e2e.clients import Api, check_envelopes, watch
from tests.factories import make_app

RUNS = 20
WATCHERS = (("sse", "ws", "sse"), ("ws", "sse", "ws"))
SCRIPT = [
    {
        "text": "Looking at the files of this app.",
        "tool_calls": [{"id": "index", "name": "coding_agent_workspace_index", "args": {}}],
        "delay_ms": 10,
    },
    {
        "text": "Reading the page.",
        "tool_calls": [
            {"id": "read", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
        ],
        "delay_ms": 10,
    },
    {"text": "Nothing needs changing here.", "delay_ms": 10},
]


def test_twenty_concurrent_runs_with_three_watchers_each_deliver_every_event(
    stack, user, api_token, agent_model
):
    agent_model(SCRIPT)
    apps = [str(make_app(user, name=f"App {n}").id) for n in range(RUNS)]
    with Api(stack.web.url, api_token) as api:
        runs = [(app_id, api.create_run(app_id, "Have a look")["id"]) for app_id in apps]

        async def everyone_watches():
            watchers = [
                watch(kind, stack.web, api_token, app_id, run_id)
                for n, (app_id, run_id) in enumerate(runs)
                for kind in WATCHERS[n % 2]
            ]
            return await asyncio.gather(*watchers)

        received = asyncio.run(everyone_watches())
        for n, (app_id, run_id) in enumerate(runs):
            persisted = api.events(app_id, run_id)
            check_envelopes(persisted, run_id=run_id, app_id=app_id)
            for k, kind in enumerate(WATCHERS[n % 2]):
                assert received[3 * n + k] == persisted, (
                    f"run {n}: its {kind} watcher #{k} missed or repeated events"
                )
