"""Failed channel-layer sends are reported, but a burst of them is one warning, not thousands."""

import logging
from concurrent.futures import Future

from coding_agent.broadcast import FailureLog


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
