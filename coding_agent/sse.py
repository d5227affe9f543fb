"""Server-sent events framing of a run's stream (the fallback when a websocket cannot open)."""

from __future__ import annotations

import json

from coding_agent.streams import HEARTBEAT, AccessLost, follow

RETRY_MS = 2000


def frame(envelope: dict) -> str:
    data = json.dumps(envelope, separators=(",", ":"))
    return f"id: {envelope['seq']}\nevent: {envelope['event']}\ndata: {data}\n\n"


async def event_stream(run_id, after_seq: int, *, allowed=None):
    """An async generator: under ASGI only an async iterator streams incrementally. A
    follower who lost access sees the stream end; reconnecting answers 404."""
    yield f"retry: {RETRY_MS}\n\n"
    try:
        async for envelope in follow(run_id, after_seq, allowed=allowed):
            yield ": ping\n\n" if envelope is HEARTBEAT else frame(envelope)
    except AccessLost:
        return


async def no_events():
    """The body of a HEAD answer: the stream's headers, and no events to follow."""
    return
    yield  # makes this an async generator, as the stream's body must be under ASGI
