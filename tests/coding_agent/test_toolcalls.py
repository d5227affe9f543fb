"""The tools node's writes: a round's events share commits, and stopping or resuming loses and repeats nothing.

A call's outcome commits with the next call's start, and the model turn's last text with
the first call's start. An in-process call is recorded when it has finished (or has run
50 ms): a round of a read and a patch writes its five events in one statement.
"""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from langchain_core.messages import AIMessage, HumanMessage

from coding_agent import leases, runs
from coding_agent.engines.native import Cancelled, NativeRun
from coding_agent.models import RunEvent, ToolCall
from coding_agent.toolcalls import run_tool_calls
from coding_agent.tools import reading

PATCH = "*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n"
CALLS = [
    {"id": "r1", "name": "coding_agent_read_file_range", "args": {"path": "index.html", "end_line": 3}},
    {"id": "p1", "name": "coding_agent_apply_patch", "args": {"patch": PATCH}},
]


@pytest.fixture
def native(no_dispatch, app, user, agent_model):
    """A claimed run and its native engine, driven node by node by the test."""
    agent_model([{"text": "Looking.", "tool_calls": CALLS}])
    run = runs.start_run(app=app, user=user, input="take notes")
    owner = leases.new_owner()
    run = leases.claim(run.pk, owner)
    return NativeRun(run, owner=owner, heartbeat=leases.Heartbeat(run.pk, owner))


def round_state(text="Looking.", calls=CALLS):
    return {
        "messages": [HumanMessage("take notes"), AIMessage(content=text, tool_calls=calls)],
        "tool_rounds": 0,
        "unsent": {"text": text, "turn": 1},
    }


def events(run_id):
    rows = RunEvent.objects.filter(run_id=run_id).exclude(event="run.accepted").order_by("seq")
    return [(e.event, e.payload.get("text") or e.payload.get("tool_call_id")) for e in rows]


def event_inserts(queries) -> int:
    return sum(
        1
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "WITH")) and "runevent" in q["sql"]
    )


ROUND = [
    ("assistant.delta", "Looking."),
    ("tool.started", "r1"),
    ("tool.completed", "r1"),
    ("tool.started", "p1"),
    ("tool.completed", "p1"),
]


def test_a_round_of_a_read_and_a_patch_writes_its_five_events_in_one_statement(native):
    with CaptureQueriesContext(connection) as queries:
        update = native.tools(round_state())
    assert events(native.run.pk) == ROUND
    assert event_inserts(queries.captured_queries) == 1
    assert update["unsent"] is None and update["tool_rounds"] == 1
    assert [m.tool_call_id for m in update["messages"]] == ["r1", "p1"]
    assert set(ToolCall.objects.filter(run_id=native.run.pk).values_list("status", flat=True)) == {
        "completed"
    }
    native.run.refresh_from_db()
    assert "notes.txt" in native.run.workspace_manifest  # the patch's effect is durable with its outcome


def test_a_check_commits_its_start_before_it_runs(native):
    calls = [{"id": "c1", "name": "coding_agent_run_check", "args": {"check": "nope"}}, CALLS[0]]
    with CaptureQueriesContext(connection) as queries:
        native.tools(round_state(calls=calls))
    assert (
        events(native.run.pk)
        == [
            ROUND[0],
            ("tool.started", "c1"),
            ("tool.failed", "c1"),  # UNKNOWN_CHECK
            *ROUND[1:3],
        ]
    )
    assert event_inserts(queries.captured_queries) == 2  # text + c1 start; c1 outcome + r1


def test_a_read_running_past_50_ms_commits_its_start_while_it_runs(native, monkeypatch):
    real_read = reading.read_file_range

    def slow_read(root, **kwargs):
        time.sleep(0.2)
        return real_read(root, **kwargs)

    monkeypatch.setattr(reading, "read_file_range", slow_read)
    with CaptureQueriesContext(connection) as queries:
        native.tools(round_state())
    assert events(native.run.pk) == ROUND
    assert event_inserts(queries.captured_queries) == 2  # text + r1 start; r1 + p1 (quick)
    read = ToolCall.objects.get(run_id=native.run.pk, tool="coding_agent_read_file_range")
    assert read.status == "completed" and read.finished_at > read.started_at


def test_a_stop_between_calls_commits_the_first_outcome_and_a_resume_repeats_nothing(native):
    checks = []

    def stop_before_the_second_call():
        checks.append(1)
        if len(checks) == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        run_tool_calls(
            run_id=native.run.pk, owner=native.owner, round_no=1,
            calls=[(c["id"], c["name"], c["args"]) for c in CALLS], ctx=native.ctx,
            workspace=native.workspace, manifest=native.manifest, check=stop_before_the_second_call,
            resumed=False, lead=("assistant.delta", {"text": "Looking."}, {"turn": 1}),
        )  # fmt: skip
    assert events(native.run.pk) == ROUND[:3]
    assert list(ToolCall.objects.filter(run_id=native.run.pk).values_list("status", flat=True)) == [
        "completed"
    ]

    # The same round again, as a resumed attempt does it from the graph's last checkpoint:
    # the text and the first call are not repeated; the second call runs once.
    native.resumed = True
    update = native.tools(round_state())
    assert events(native.run.pk) == ROUND
    assert [m.tool_call_id for m in update["messages"]] == ["r1", "p1"]


def test_text_held_for_a_call_that_never_starts_is_still_delivered(native):
    native.flush_unsent(round_state("Before the stop."))
    assert events(native.run.pk) == [("assistant.delta", "Before the stop.")]


def test_text_held_for_a_call_that_started_is_not_delivered_twice(native):
    native.tools(round_state())
    native.flush_unsent(round_state())
    assert events(native.run.pk) == ROUND
