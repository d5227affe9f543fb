"""Following a run's events live: what the SSE view and the websocket consumer share.

`follow` yields envelopes after `after_seq`: first the persisted backlog, then new ones
as they are written, and stops after the terminal event. Each wake-up from the channel
layer carries the committed envelope; the one with exactly the next `seq` is delivered as
it is, and anything else (a gap, a wake-up without an envelope, POLL_S of silence) is
answered by reading the database after the last delivered `seq`. So a dropped message, a
full channel or a Redis restart only delays delivery, and delivery by `seq` cannot
duplicate.

A follower's right to the run is checked again every ACCESS_CHECK_S (`allowed`): one
removed from the app, or deactivated, stops receiving within that time rather than at
the end of the run (`AccessLost`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from coding_agent.events import TERMINAL_EVENTS, events_after, group_name
from coding_agent.models import AgentRun

log = logging.getLogger(__name__)

POLL_S = 2.0
ACCESS_CHECK_S = 5.0
HEARTBEAT_S = 15.0
HEARTBEAT = None  # yielded after HEARTBEAT_S of silence
_SILENCE = object()


def _batch(run_id, after_seq: int) -> tuple[list[dict], bool]:
    """Events after `after_seq`, and whether nothing more can come (run finished, all read)."""
    run = AgentRun.objects.only("pk", "app_id", "status", "last_seq").get(pk=run_id)
    envelopes = events_after(run, after_seq)
    finished = not run.is_active and (envelopes[-1]["seq"] if envelopes else after_seq) >= run.last_seq
    return envelopes, finished


fetch_batch = database_sync_to_async(_batch)


class _Subscription:
    """This listener's channel in the run's group, and the wake-ups it received."""

    def __init__(self, run_id):
        self.layer = get_channel_layer()
        self.group = group_name(run_id)
        self.channel = None
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    async def join(self) -> None:
        try:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            await self.layer.group_add(self.group, self.channel)
        except Exception as exc:  # the layer is down: the database poll keeps us going
            log.info("channel layer unavailable for %s: %r", self.group, exc)

    async def _listen(self) -> None:
        while True:
            try:
                if self.channel is None:
                    await asyncio.sleep(POLL_S)
                    continue
                message = await self.layer.receive(self.channel)
                for envelope in message.get("envelopes") or [None]:
                    self.inbox.put_nowait(envelope)
            except asyncio.CancelledError:
                raise
            except Exception:  # a dropped connection: wait, the poll covers the gap
                await asyncio.sleep(POLL_S)

    async def next(self):
        """The next wake-up's envelope (None without one), or _SILENCE after POLL_S."""
        try:
            return await asyncio.wait_for(self.inbox.get(), timeout=POLL_S)
        except TimeoutError:
            return _SILENCE

    async def __aenter__(self):
        await self.join()
        self.task = asyncio.create_task(self._listen())
        return self

    async def __aexit__(self, *exc):
        self.task.cancel()
        if self.channel is not None:
            try:
                await self.layer.group_discard(self.group, self.channel)
            except Exception:  # membership expires by itself; nothing to report
                pass


class AccessLost(Exception):
    """The follower may no longer see the run."""


async def follow(
    run_id, after_seq: int = 0, *, allowed: Callable[[], Awaitable[bool]] | None = None
) -> AsyncIterator[dict | None]:
    loop = asyncio.get_running_loop()
    last = after_seq
    quiet_since = loop.time()
    joined_at = checked_at = loop.time()
    async with _Subscription(run_id) as subscription:
        # Joined before the first read, so nothing written meanwhile is missed.
        read_database = True
        while True:
            if allowed is not None and loop.time() - checked_at >= ACCESS_CHECK_S:
                if not await allowed():
                    raise AccessLost()
                checked_at = loop.time()
            if read_database:
                envelopes, finished = await fetch_batch(run_id, last)
                for envelope in envelopes:
                    yield envelope
                    last = envelope["seq"]
                    quiet_since = loop.time()
                    if envelope["event"] in TERMINAL_EVENTS:
                        return
                if finished:
                    return
            item = await subscription.next()
            if item is _SILENCE:
                read_database = True
                if loop.time() - joined_at > 5 * POLL_S:
                    await subscription.join()  # a restarted Redis forgot the group's members
                    joined_at = loop.time()
                if loop.time() - quiet_since >= HEARTBEAT_S:
                    quiet_since = loop.time()
                    yield HEARTBEAT
                continue
            if item is not None and item["seq"] <= last:
                read_database = False  # already delivered (it came with the backlog)
                continue
            if item is not None and item["seq"] == last + 1:
                yield item
                last = item["seq"]
                quiet_since = loop.time()
                if item["event"] in TERMINAL_EVENTS:
                    return
                read_database = False
                continue
            read_database = True  # a gap, or a wake-up without an envelope
