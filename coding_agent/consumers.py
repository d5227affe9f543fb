"""Websocket stream of a run: the same envelopes as SSE, one JSON text frame each.

`/ws/admin/apps/{app_id}/coding-agent/runs/{run_id}/stream?after_seq=N` replays the
persisted events after N, then live ones, and closes after the terminal event. Others'
runs are refused like the REST API: the socket closes with code 4404 (4401 when not
authenticated, 4400 for an `after_seq` that is not a whole number 0 or more), and nothing
about the run is sent. A follower removed from the app (or deactivated) mid-run is closed
with 4404 within `streams.ACCESS_CHECK_S`.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from coding_agent.streams import HEARTBEAT, AccessLost, follow

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_BAD_REQUEST = 4400


def _find_run(user, app_id, run_id):
    from coding_agent.views import get_run
    from config.errors import NotFound

    try:
        return get_run(user, app_id, run_id).pk
    except NotFound:
        return None


find_run = database_sync_to_async(_find_run)


def _may_follow(user_id, app_id, run_id) -> bool:
    from coding_agent.views import may_follow

    return may_follow(user_id, app_id, run_id)


may_follow = database_sync_to_async(_may_follow)


class RunStreamConsumer(AsyncWebsocketConsumer):
    # No per-consumer channel: `follow` keeps its own and survives the layer going away.
    # With one, a Redis restart would raise inside Channels' dispatch and drop the socket.
    channel_layer_alias = None

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        kwargs = self.scope["url_route"]["kwargs"]
        run_id = await find_run(user, kwargs["app_id"], kwargs["run_id"])
        if run_id is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            after_seq = int(query.get("after_seq", ["0"])[0])
        except ValueError:
            after_seq = -1
        if after_seq < 0:  # as the REST API's 400: a whole number, 0 or more
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        self.pump = asyncio.create_task(
            self.relay(run_id, after_seq, lambda: may_follow(user.pk, kwargs["app_id"], run_id))
        )

    async def relay(self, run_id, after_seq: int, allowed):
        try:
            async for envelope in follow(run_id, after_seq, allowed=allowed):
                if envelope is HEARTBEAT:
                    continue  # websocket keep-alive is the protocol's own ping
                await self.send(text_data=json.dumps(envelope, separators=(",", ":")))
        except AccessLost:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.close(code=1000)

    async def disconnect(self, code):
        pump = getattr(self, "pump", None)
        if pump is not None:
            pump.cancel()

    async def receive(self, text_data=None, bytes_data=None):
        # The stream is one-way; clients reconnect with ?after_seq to resume.
        return


class NoSuchStream(AsyncWebsocketConsumer):
    """Any other websocket path: closed with 4404, as an unknown run is."""

    channel_layer_alias = None

    async def connect(self):
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)
