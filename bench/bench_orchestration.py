"""Orchestration overhead per tool round: our executor against bare LangGraph, same run, same database.

Ours: a real run (`coding_agent.executor.execute_run`) with a zero-latency scripted model:
8 rounds, each reading a file and applying a one-line patch (2 tool calls per round), then a
closing turn. Everything real: PostgreSQL rows for every event and ledger entry, blobs and the
durable workspace manifest after each patch, PostgresSaver checkpoints (durability="sync").

Baseline (bare): the same LangGraph shape — agent node -> tools node, 8 rounds — with the same
PostgresSaver and durability, a model node that returns a prebuilt message with 2 tool calls and
no-op tools.

The process is set up as a Celery prefork child (its PostgreSQL connections pooled, as
LangGraph's are). Per round = (run wall time) / 8, median of --repeats runs (default 7) each. Target: ours <= 3x bare and
< 20 ms per round.

    .venv/bin/python bench/bench_orchestration.py [--repeats 7]   # needs PostgreSQL on 127.0.0.1:5432

A database `bench_orchestration` is created, migrated and dropped at exit. `BENCH_PG_URL`
(default postgres://postgres@127.0.0.1:5432) names the PostgreSQL server.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUNDS = 8
REPEATS = 7
LINES = 200


def script() -> list[dict]:
    turns = []
    for k in range(ROUNDS):
        line = 10 + k * 20
        patch = (
            f"--- a/data.txt\n+++ b/data.txt\n@@ -{line},1 +{line},1 @@\n-line {line}\n+line {line} changed\n"
        )
        turns.append(
            {
                "text": f"Round {k + 1}.",
                "tool_calls": [
                    {"id": f"r{k}", "name": "coding_agent_read_file_range", "args": {"path": "data.txt", "start_line": line, "end_line": line + 5}},
                    {"id": f"p{k}", "name": "coding_agent_apply_patch", "args": {"patch": patch}},
                ],
            }
        )  # fmt: skip
    turns.append({"text": "Done."})
    return turns


def ours(user, model_id: str) -> float:
    import tempfile

    from coding_agent import runs
    from coding_agent.executor import execute_run
    from published_apps import revisions
    from published_apps.starters import create_app

    app = create_app(owner=user, name=f"bench {uuid.uuid4().hex[:6]}", template="landing")
    work = Path(tempfile.mkdtemp())
    revisions.materialise(app.draft_revision, work)
    (work / "data.txt").write_text("".join(f"line {i}\n" for i in range(1, LINES + 1)))
    revisions.set_draft(
        app, revisions.snapshot(app=app, root=work, parent=app.draft_revision, source="manual")
    )
    run = runs.start_run(app=app, user=user, input="bench", model_id=model_id)
    started = time.perf_counter()
    result = execute_run(run.pk)
    elapsed = time.perf_counter() - started
    run.refresh_from_db()
    assert result == "completed" and run.status == "completed", (result, run.error_code, run.error_message)
    return elapsed


def bare() -> float:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
    from langgraph.graph import END, START, StateGraph

    from coding_agent import checkpointer
    from coding_agent.graph import AgentState

    def agent(state):
        rounds = state.get("tool_rounds", 0)
        if rounds >= ROUNDS:
            return {"messages": [AIMessage("Done.")]}
        calls = [
            {"id": f"r{rounds}", "name": "coding_agent_read_file_range", "args": {"path": "data.txt"}},
            {"id": f"p{rounds}", "name": "coding_agent_apply_patch", "args": {"patch": "x"}},
        ]
        return {"messages": [AIMessage(f"Round {rounds + 1}.", tool_calls=calls)]}

    def tools(state):
        last = state["messages"][-1]
        return {
            "messages": [ToolMessage("{}", tool_call_id=c["id"]) for c in last.tool_calls],
            "tool_rounds": state.get("tool_rounds", 0) + 1,
        }

    graph = StateGraph(AgentState)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges(
        "agent", lambda s: "tools" if s["messages"][-1].tool_calls else END, ["tools", END]
    )
    graph.add_edge("tools", "agent")
    compiled = graph.compile(checkpointer=checkpointer.get_checkpointer())
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    started = time.perf_counter()
    for _ in compiled.stream(
        {"messages": [HumanMessage("bench")], "tool_rounds": 0},
        config,
        stream_mode="updates",
        durability="sync",
    ):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help=f"runs of each side, median reported (default {REPEATS})"
    )
    args = parser.parse_args()  # before any work: --help and a bad option only print
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    from bench.common import django_on_postgres, median, verdict

    django_on_postgres("bench_orchestration")
    from django.conf import settings

    settings.RUN_EXECUTION = "celery"  # nobody else picks the runs up: we execute them here
    from config.celery import app as celery_app

    celery_app.conf.broker_url = "memory://localhost/"  # with a host: kombu warns on clones without one
    # Set up as a Celery prefork child is, the process that executes runs in production.
    from coding_agent.tasks import pool_database_connections

    pool_database_connections()
    from django.contrib.auth import get_user_model

    from coding_agent.models import ChatModel

    user = get_user_model().objects.create_user("bench")
    ChatModel.objects.create(id="bench-script", label="Bench", provider="scripted", script=script())

    ours(user, "bench-script"), bare()  # warm-up: imports, pools, parsers
    # Alternating, so a busy moment on the machine hits both sides alike.
    ours_s, bare_s = [], []
    for _ in range(args.repeats):
        ours_s.append(ours(user, "bench-script"))
        bare_s.append(bare())
    ours_round = median(ours_s) / ROUNDS * 1000
    bare_round = median(bare_s) / ROUNDS * 1000
    ratio = ours_round / bare_round
    print(f"{'':24}{'ms/round':>10}")
    print(f"{'ours (executor)':24}{ours_round:10.2f}")
    print(f"{'bare LangGraph':24}{bare_round:10.2f}")
    print(
        f"ratio ours/bare: {ratio:.2f}x   target <= 3x: {verdict(ratio <= 3)}   ours < 20 ms: {verdict(ours_round < 20)}"
    )


if __name__ == "__main__":
    main()
