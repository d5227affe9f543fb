"""Recovery: a worker (or the embedded server) killed mid-run, and Redis restarted mid-run.

- A SIGKILLed worker's run is resumed by another worker: the sweeper frees the expired
  lease and re-queues the run, the new worker resumes from the last durable LangGraph
  checkpoint, and the tool-call ledger keeps every finished call from running again. In
  embedded mode the server itself runs the runs: killed, it resumes them when it starts.
- A Redis restart loses channel-layer messages and group memberships: the streams fall
  back to reading the database, so connected watchers keep receiving and watchers that
  reconnect with their last seq miss nothing.

The servers run with a 3 s lease so a dead worker's run is re-queued quickly.
"""

import asyncio
import contextlib
import random
import time

import pytest

from coding_agent.models import AgentRun, ToolCall
from tests.e2e.clients import (
    Api,
    Watcher,
    check_envelopes,
    read_sse,
    read_ws,
    text_of,
    tool_events,
)
from tests.e2e.servers import CeleryWorker, Daphne, processes_running, wait_until
from tests.factories import make_app

MARKER = "<!-- resumed exactly once -->"


@pytest.fixture
def server_extra_env():
    return {"APPS_RUN_LEASE_SECONDS": 3, "APPS_RUN_REQUEUE_SECONDS": 2}


def app_for_marker_run(user, agent_model):
    """An app and a script: a patch and a ~2 s check in one turn, then a read, then text.

    Killed while the check runs, the first call is finished in the ledger but the tools
    node has not been checkpointed, so the resumed run executes that node again.
    Returns the app's id and the check's exact argv.
    """
    check_argv = ["sleep", f"2.{random.randrange(10**6):06d}"]
    patch = f"*** Begin Patch\n*** Update File: index.html\n@@\n </html>\n+{MARKER}\n*** End Patch\n"
    agent_model(
        [
            {
                "text": "Adding a marker, then running the check.",
                "tool_calls": [
                    {"id": "patch", "name": "coding_agent_apply_patch", "args": {"patch": patch}},
                    {"id": "check", "name": "coding_agent_run_check", "args": {"check": "slow"}},
                ],
            },
            {
                "text": "Reading the page again to be sure.",
                "tool_calls": [
                    {"id": "read", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
                ],
            },
            {"text": "The marker is in place and the check ran."},
        ]
    )
    app = make_app(user)
    app.checks = {"slow": {"argv": check_argv, "paths": ["*"]}}
    app.save(update_fields=["checks"])
    return str(app.id), check_argv


def is_check_started(envelope) -> bool:
    return envelope["event"] == "tool.started" and envelope["payload"]["tool"] == "coding_agent_run_check"


def assert_resumed_without_repeating_tools(api, app_id, run_id, received) -> None:
    persisted = api.events(app_id, run_id)
    assert received == persisted, "the watcher's events differ from the persisted ones"
    check_envelopes(persisted, run_id=run_id, app_id=app_id)
    assert tool_events(persisted) == {
        "patch": ["tool.started", "tool.completed"],
        "check": ["tool.started", "tool.completed"],
        "read": ["tool.started", "tool.completed"],
    }, "a tool call was announced twice (or not finished)"
    assert text_of(persisted).count("Adding a marker, then running the check.") == 1
    ledger = sorted(ToolCall.objects.filter(run_id=run_id).values_list("tool_call_id", "status"))
    assert ledger == [("1:check", "completed"), ("1:patch", "completed"), ("2:read", "completed")]
    run = AgentRun.objects.get(pk=run_id)
    assert (run.status, run.attempt) == ("completed", 2), (run.status, run.attempt, run.error_message)
    assert api.file(app_id, "index.html").count(MARKER) == 1, "the patch was applied twice"


def test_a_run_whose_worker_is_killed_is_finished_by_another_worker_without_repeating_tools(
    services_stack, user, api_token, agent_model
):
    app_id, check_argv = app_for_marker_run(user, agent_model)
    stack = services_stack
    replacement = None
    try:
        with Api(stack.web.url, api_token) as api:
            run_id = api.create_run(app_id, "Add a marker and run the check")["id"]

            async def scenario():
                nonlocal replacement
                watcher = Watcher("sse", stack.web, api_token, app_id, run_id)
                await watcher.wait_for(is_check_started)
                await asyncio.to_thread(wait_until, lambda: processes_running(check_argv), what="the check")
                stack.worker.kill()
                # The sweeper re-queues the run once its 3 s lease expires; this worker takes it.
                replacement = await asyncio.to_thread(
                    CeleryWorker(stack.env, stack.dir, name="worker-2").start
                )
                return await watcher.finish()

            received = asyncio.run(scenario())
            assert_resumed_without_repeating_tools(api, app_id, run_id, received)
            assert "'completed'" in replacement.log(), "the second worker did not finish the run"
    finally:
        if replacement is not None:
            replacement.stop()


def test_an_embedded_server_killed_mid_run_resumes_it_when_it_starts_again(
    embedded_server, user, api_token, agent_model
):
    app_id, check_argv = app_for_marker_run(user, agent_model)
    restarted = None
    try:
        with Api(embedded_server.url, api_token) as api:
            run_id = api.create_run(app_id, "Add a marker and run the check")["id"]

            async def until_killed():
                watcher = Watcher("ws", embedded_server, api_token, app_id, run_id)
                await watcher.wait_for(is_check_started)
                await asyncio.to_thread(wait_until, lambda: processes_running(check_argv), what="the check")
                embedded_server.kill()
                with contextlib.suppress(Exception):  # the server died under the stream: the point
                    await watcher.finish(timeout=10)
                return list(watcher.received)

            before = asyncio.run(until_killed())
            restarted = Daphne(embedded_server.env, embedded_server.log_path.parent, name="daphne-2").start()
            api.http.base_url = restarted.url
            after = asyncio.run(
                read_sse(restarted.url, api_token, app_id, run_id, last_event_id=before[-1]["seq"])
            )
            assert_resumed_without_repeating_tools(api, app_id, run_id, before + after)
    finally:
        if restarted is not None:
            restarted.stop()


def slow_script(turns: int) -> list[dict]:
    paragraph = "Streaming slowly so that the restart lands in the middle of this run. " * 2
    return [
        {
            "text": paragraph,
            "tool_calls": [{"id": f"index_{n}", "name": "coding_agent_workspace_index", "args": {}}],
            "delay_ms": 40,
        }
        for n in range(turns)
    ] + [{"text": "Finished after the restart.", "delay_ms": 40}]


def test_watchers_miss_nothing_when_redis_restarts_mid_run(services_stack, user, api_token, agent_model):
    agent_model(slow_script(4))
    app_id = str(make_app(user).id)
    stack = services_stack
    with Api(stack.web.url, api_token) as api:
        run_id = api.create_run(app_id, "Take your time")["id"]

        async def scenario():
            # One watcher stays connected through the restart; two hang up before it and come back after.
            staying = Watcher("sse", stack.web, api_token, app_id, run_id)
            before = await asyncio.gather(
                read_sse(stack.web.url, api_token, app_id, run_id, limit=8),
                read_ws(stack.web.ws_url, api_token, app_id, run_id, limit=8),
            )
            await staying.wait_for(lambda e: e["seq"] >= 10)
            await asyncio.to_thread(stack.redis.restart)
            restarted_at = len(staying.received)
            after = await asyncio.gather(
                read_sse(stack.web.url, api_token, app_id, run_id, last_event_id=before[0][-1]["seq"]),
                read_ws(stack.web.ws_url, api_token, app_id, run_id, after_seq=before[1][-1]["seq"]),
            )
            return await staying.finish(), before, after, restarted_at

        staying, before, after, restarted_at = asyncio.run(scenario())
        persisted = api.events(app_id, run_id)
        check_envelopes(persisted, run_id=run_id, app_id=app_id)
        assert restarted_at < len(persisted) - 5, "the restart should land mid-run"
        assert staying == persisted, "the SSE watcher that stayed connected missed events"
        assert before[0] + after[0] == persisted, "the SSE watcher that reconnected missed events"
        assert before[1] + after[1] == persisted, "the websocket watcher that reconnected missed events"


def test_a_websocket_that_stays_connected_through_a_redis_restart_keeps_receiving(
    services_stack, user, api_token, agent_model
):
    agent_model(slow_script(2))
    app_id = str(make_app(user).id)
    stack = services_stack
    with Api(stack.web.url, api_token) as api:
        run_id = api.create_run(app_id, "Take your time")["id"]

        async def scenario():
            staying = Watcher("ws", stack.web, api_token, app_id, run_id)
            await staying.wait_for(lambda e: e["seq"] >= 5)
            await asyncio.to_thread(stack.redis.restart)
            return await staying.finish()

        staying = asyncio.run(scenario())
        persisted = api.events(app_id, run_id)
        check_envelopes(persisted, run_id=run_id, app_id=app_id)
        assert staying == persisted, "the websocket watcher that stayed connected missed events"


def run_until_done_or_worker_gone(api, app_id, run_id, worker, *, timeout: float = 30) -> dict:
    """Poll the run until it ends; stop early (and say so) if the only worker has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.run(app_id, run_id)
        if run["status"] not in ("queued", "running"):
            return run
        if not worker.alive():
            raise AssertionError(
                f"the worker exited, leaving the run {run['status']}:\n{worker.log()[-1500:]}"
            )
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s")


def test_the_worker_keeps_taking_runs_after_redis_restarts_mid_run(
    services_stack, user, api_token, agent_model
):
    agent_model(slow_script(1))
    app_id = str(make_app(user).id)
    stack = services_stack
    with Api(stack.web.url, api_token) as api:
        first = api.create_run(app_id, "Take your time")["id"]
        api.wait_for_event(app_id, first, lambda e: e["event"] == "tool.completed")
        stack.redis.restart()
        assert api.wait_for_terminal(app_id, first)["status"] == "completed"
        second = api.create_run(app_id, "And again")["id"]
        assert run_until_done_or_worker_gone(api, app_id, second, stack.worker)["status"] == "completed"


def test_a_queued_run_whose_task_message_was_lost_still_runs(services_stack, user, api_token, agent_model):
    agent_model([{"text": "Here at last."}])
    app_id = str(make_app(user).id)
    stack = services_stack
    stack.worker.kill()  # nobody takes the task before Redis forgets it
    replacement = None
    try:
        with Api(stack.web.url, api_token) as api:
            run_id = api.create_run(app_id, "Hello?")["id"]
            stack.redis.restart()
            replacement = CeleryWorker(stack.env, stack.dir, name="worker-2").start()
            # Well past the 3 s lease and the 1 s sweep: a re-queue would have happened by now.
            assert api.wait_for_terminal(app_id, run_id, timeout=8)["status"] == "completed"
    finally:
        if replacement is not None:
            replacement.stop()
