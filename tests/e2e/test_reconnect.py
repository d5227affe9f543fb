"""Watchers that hang up mid-run and reconnect with their last seq miss nothing and see nothing twice.

One run lasting a few seconds, three watchers at once: SSE resuming with the
`Last-Event-ID` header, SSE resuming with `?after_seq`, and the websocket with
`?after_seq`. Each hangs up every few events. In production mode successive connections
alternate between two daphne processes ("from any server process", DESIGN.md §5).
"""

import asyncio

from tests.e2e.clients import Api, check_envelopes, read_sse, watch_with_drops, ws_session
from tests.e2e.servers import Daphne
from tests.factories import make_app

# ~3 s of streaming: three slow turns of text, each with a quick tool call. Chunks come
# slower than assistant.delta coalescing (50 ms), so each chunk is its own event.
PARAGRAPH = "I am looking at how the page is put together before I change anything at all. "
SLOW_SCRIPT = [
    {
        "text": PARAGRAPH,
        "tool_calls": [{"id": f"index_{n}", "name": "coding_agent_workspace_index", "args": {}}],
        "delay_ms": 70,
    }
    for n in range(3)
] + [{"text": "That is all I needed to look at.", "delay_ms": 70}]


def test_watchers_that_reconnect_with_their_last_seq_get_every_event_once(
    stack, user, api_token, agent_model
):
    agent_model(SLOW_SCRIPT)
    app_id = str(make_app(user).id)
    servers = [stack.web]
    if stack.mode == "production":
        servers.append(Daphne(stack.env, stack.dir, name="daphne-2").start())
    try:
        with Api(stack.web.url, api_token) as api:
            run_id = api.create_run(app_id, "Look around")["id"]

            async def three_watchers():
                return await asyncio.gather(
                    watch_with_drops(
                        "sse", servers, api_token, app_id, run_id, drop_after=5, resume="header"
                    ),
                    watch_with_drops("sse", servers, api_token, app_id, run_id, drop_after=7, resume="query"),
                    watch_with_drops("ws", servers, api_token, app_id, run_id, drop_after=6),
                )

            watchers = asyncio.run(three_watchers())
            persisted = api.events(app_id, run_id)
            check_envelopes(persisted, run_id=run_id, app_id=app_id)
            assert len(persisted) >= 25, "the run should be long enough to reconnect many times"
            for name, segments in zip(
                ("sse/Last-Event-ID", "sse/after_seq", "websocket"), watchers, strict=True
            ):
                assert len(segments) >= 4, f"{name} reconnected only {len(segments) - 1} times"
                received = [envelope for segment in segments for envelope in segment]
                assert received == persisted, f"{name}: the union of its connections is not every event once"

            # Resuming after the last event of a finished run: nothing more, and the stream ends.
            last = persisted[-1]["seq"]
            for server in servers:
                assert asyncio.run(read_sse(server.url, api_token, app_id, run_id, after_seq=last)) == []
                assert asyncio.run(read_sse(server.url, api_token, app_id, run_id, last_event_id=last)) == []
                session = asyncio.run(ws_session(server.ws_url, api_token, app_id, run_id, after_seq=last))
                assert session.envelopes == [] and session.close_code == 1000
            # And from the middle, on every transport.
            middle = last // 2
            assert api.events(app_id, run_id, after_seq=middle) == persisted[middle:]
            assert (
                asyncio.run(read_sse(stack.web.url, api_token, app_id, run_id, last_event_id=middle))
                == (persisted[middle:])
            )
            session = asyncio.run(ws_session(stack.web.ws_url, api_token, app_id, run_id, after_seq=middle))
            assert session.envelopes == persisted[middle:]
    finally:
        for server in servers[1:]:
            server.stop()
