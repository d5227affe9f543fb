"""Announcing events on the channel layer from synchronous code.

`async_to_sync(layer.group_send)` per event opens a Redis connection per call and costs
2–3 ms; instead one long-lived event-loop thread per process sends for everyone
(~0.8 ms). The in-memory layer of the embedded mode is not thread-safe, so there the
coroutine goes to the server's own loop, remembered when the server first handles a
request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref

from channels.layers import InMemoryChannelLayer, get_channel_layer

from coding_agent.events import group_name

log = logging.getLogger(__name__)

_server_loop: asyncio.AbstractEventLoop | None = None
_bridge_loop: asyncio.AbstractEventLoop | None = None
_bridge_lock = threading.Lock()


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def _bridge() -> asyncio.AbstractEventLoop:
    global _bridge_loop
    with _bridge_lock:
        if _bridge_loop is None or _bridge_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-bridge", daemon=True).start()
            _bridge_loop = loop
        return _bridge_loop


def _target_loop(layer) -> asyncio.AbstractEventLoop:
    if isinstance(layer, InMemoryChannelLayer) and _server_loop is not None and _server_loop.is_running():
        return _server_loop
    return _bridge()


class FailureLog:
    """At most one warning per `interval` seconds for failed sends, counting the rest.

    A full channel layer refuses every send of a burst (thousands a second with many
    watchers); one line a minute says as much. Nothing is lost: listeners fall back to
    reading the database, so a lost wake-up only delays them.
    """

    def __init__(self, interval: float = 60.0, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._next_at = float("-inf")
        self._suppressed = 0

    def __call__(self, future) -> None:
        exc = future.exception()
        if exc is None:
            return
        with self._lock:
            now = self.clock()
            if now < self._next_at:
                self._suppressed += 1
                return
            suppressed, self._suppressed = self._suppressed, 0
            self._next_at = now + self.interval
        more = f" ({suppressed} more since the last warning)" if suppressed else ""
        log.warning("channel layer send failed: %r%s; listeners catch up from the database", exc, more)


_log_failure = FailureLog()

# Sends in flight on one loop at a time. Each holds a Redis connection, and redis-py's
# pool has 100 per loop: a burst past that failed 95 sends in 100 (MaxConnectionsError).
# Past this bound, sends wait their turn instead.
SENDS_IN_FLIGHT = 32
_in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def _send(layer, group: str, message: dict) -> None:
    loop = asyncio.get_running_loop()
    gate = _in_flight.get(loop)
    if gate is None:
        gate = _in_flight[loop] = asyncio.Semaphore(SENDS_IN_FLIGHT)
    async with gate:
        await layer.group_send(group, message)


def group_send(group: str, message: dict) -> None:
    """Fire-and-forget group_send from any thread."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _target_loop(layer)
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        loop.create_task(_send(layer, group, message)).add_done_callback(_log_failure)
    else:
        asyncio.run_coroutine_threadsafe(_send(layer, group, message), loop).add_done_callback(_log_failure)


def announce(run_id, envelopes: list[dict]) -> None:
    """Wake the run's listeners with envelopes committed together (consecutive seqs)."""
    group_send(group_name(run_id), {"type": "run.event", "envelopes": envelopes})


class LoopCapture:
    """ASGI wrapper that remembers the server's event loop for `group_send`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        if _server_loop is not loop:
            remember_server_loop(loop)
        return await self.app(scope, receive, send)
