"""Reading a model's stream in a thread of its own (coding_agent.engines.native.ModelStream)."""

import threading

import pytest

from coding_agent.engines.native import DeltaBuffer, ModelStream, _Readers

SAFETY_S = 20  # a safety net for waits, not a performance limit


class Stop(Exception):
    pass


def consume(stream, buffer, into: list) -> threading.Thread:
    """Iterate the stream in a thread, as the run's thread does, collecting what it raises."""

    def run():
        try:
            with stream:
                for chunk in stream:
                    buffer.add(chunk)
            buffer.flush()
        except BaseException as exc:
            into.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_held_text_goes_out_while_the_model_is_silent():
    gate, shown = threading.Event(), threading.Event()
    emitted = []

    def chunks():
        yield "First"
        gate.wait(SAFETY_S)
        yield " and the rest"

    buffer = DeltaBuffer(lambda text: (emitted.append(text), shown.set()), interval=0.05)
    errors = []
    thread = consume(ModelStream(chunks, buffer, lambda: None), buffer, errors)
    try:
        assert shown.wait(SAFETY_S), "the text waited for the next chunk"
        assert emitted == ["First"]
    finally:
        gate.set()
    thread.join(SAFETY_S)
    assert emitted == ["First", " and the rest"] and errors == []


def test_an_error_of_the_stream_is_raised_in_the_reading_thread():
    def chunks():
        yield "partial"
        raise ConnectionError("the server hung up")

    errors = []
    buffer = DeltaBuffer(lambda text: None)
    consume(ModelStream(chunks, buffer, lambda: None), buffer, errors).join(SAFETY_S)
    assert len(errors) == 1 and isinstance(errors[0], ConnectionError)
    assert str(errors[0]) == "the server hung up"


def test_a_stop_reaches_the_reading_thread_while_the_model_is_silent():
    gate, stop = threading.Event(), threading.Event()
    read_after_stop = []

    def chunks():
        yield "Thinking"
        gate.wait(SAFETY_S)  # the model says nothing more until the test is over
        read_after_stop.append(True)
        yield "never shown"

    def check():
        if stop.is_set():
            raise Stop()

    errors, emitted = [], []
    buffer = DeltaBuffer(emitted.append)
    thread = consume(ModelStream(chunks, buffer, check), buffer, errors)
    stop.set()
    thread.join(SAFETY_S)
    try:
        assert not thread.is_alive(), "the reading thread waited for the silent model"
        assert len(errors) == 1 and isinstance(errors[0], Stop)
    finally:
        gate.set()


def test_readers_reuse_an_idle_thread_and_start_another_beside_a_stuck_one():
    readers = _Readers()
    seen, done = [], threading.Semaphore(0)

    def job():
        seen.append(threading.get_ident())
        done.release()

    for _ in range(3):  # one after the other: one thread serves them all
        readers.submit(job)
        assert done.acquire(timeout=SAFETY_S)
    assert len(set(seen)) == 1

    stuck, release = threading.Event(), threading.Event()

    def blocked():
        stuck.set()
        release.wait(SAFETY_S)

    readers.submit(blocked)
    assert stuck.wait(SAFETY_S)
    try:
        readers.submit(job)  # served beside the stuck thread, not queued behind it
        assert done.acquire(timeout=SAFETY_S)
    finally:
        release.set()


@pytest.mark.parametrize("pending,expected", [(False, 0.25), (True, 0.0)])
def test_due_in_is_the_wait_until_held_text_is_due(pending, expected):
    buffer = DeltaBuffer(lambda text: None, interval=0.0)
    if pending:
        buffer.pending.append("x")
    assert buffer.due_in(0.25) == expected
