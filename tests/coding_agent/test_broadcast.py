"""Channel-layer sends: a burst is delivered, not refused, and failures are one warning, not thousands."""

import logging
from concurrent.futures import Future

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from coding_agent import broadcast
from coding_agent.broadcast import FailureLog
from tests.e2e.servers import RedisServer


def failed(exc=None) -> Future:
    future = Future()
    future.set_exception(exc or RuntimeError("channel full"))
    return future


def done() -> Future:
    future = Future()
    future.set_result(None)
    return future


def test_a_burst_of_failures_logs_once_per_interval_with_the_count(caplog):
    now = [100.0]
    report = FailureLog(interval=60.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="coding_agent.broadcast")

    for _ in range(500):
        report(failed())
    report(done())  # a successful send says nothing
    assert len(caplog.records) == 1
    assert "channel layer send failed: RuntimeError('channel full')" in caplog.records[0].getMessage()
    assert "more since" not in caplog.records[0].getMessage()

    now[0] += 59.9
    report(failed())
    assert len(caplog.records) == 1

    now[0] += 0.2
    report(failed(ValueError("refused")))
    assert len(caplog.records) == 2
    assert "ValueError('refused') (500 more since the last warning)" in caplog.records[1].getMessage()

    now[0] += 60
    report(failed())
    assert len(caplog.records) == 3
    assert "more since" not in caplog.records[2].getMessage()


def test_successful_sends_log_nothing(caplog):
    report = FailureLog()
    caplog.set_level(logging.DEBUG, logger="coding_agent.broadcast")
    for _ in range(10):
        report(done())
    assert caplog.records == []


@pytest.fixture
def redis_layer(settings, tmp_path):
    """channels-redis on a private Redis, as in production."""
    server = RedisServer(tmp_path).start()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [server.url], "capacity": 5000},
        }
    }
    yield get_channel_layer()
    server.stop()


def test_a_burst_of_sends_to_a_watched_run_reaches_every_watcher(redis_layer, caplog):
    """More sends at once than redis-py's pool has connections (100) wait their turn
    instead of failing with MaxConnectionsError."""
    caplog.set_level(logging.WARNING, logger="coding_agent.broadcast")
    watchers = [async_to_sync(redis_layer.new_channel)() for _ in range(20)]
    for channel in watchers:
        async_to_sync(redis_layer.group_add)("burst", channel)

    burst = 600
    for n in range(burst):
        broadcast.group_send("burst", {"type": "run.event", "n": n})

    async def receive_all(channel):
        return [(await redis_layer.receive(channel))["n"] for _ in range(burst)]

    for channel in (watchers[0], watchers[-1]):
        assert sorted(async_to_sync(receive_all)(channel)) == list(range(burst))
    assert caplog.records == []
