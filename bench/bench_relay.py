"""Event relay: `append_event` -> channels-redis -> daphne -> websocket clients, against raw group_send.

What is measured. 2,000 events are appended to one run with `coding_agent.events.append_event`
in this process (Django on a scratch PostgreSQL database, channel layer on a private Redis),
and watched by 1 and by 50 websocket clients through one daphne process. Each event's
payload carries the wall-clock time taken just before `append_event` was called; a client
process notes when each frame arrives. Latency = arrival - that time, over every delivery
(clients x events). Also: deliveries per second per client, and events lost (never
received by some client; must be 0), duplicates and out-of-order frames.

The baseline (raw) is the channel layer alone, with everything else kept equal: the same
daphne process serves a benchmark-only consumer at /ws/bench/raw/<group> that joins a
group and forwards each group message as one text frame; the same client process opens
the same number of websockets to it; this process sends the same envelope (same size,
same timestamp) on the product's own sender loop (`coding_agent.broadcast`'s long-lived
bridge loop that `append_event` announces through), waiting for each `group_send` to
complete: fired and forgotten, a burst exhausts the Redis connection pool (sends fail
with MaxConnectionsError) and reorders messages. What raw lacks is exactly
what the product adds: the RunEvent row and its transaction, the `seq` wake-up, and each
watcher reading the rows from the database before sending. Raw has no replay, so what
its channel drops past `capacity` is lost for good.

Two phases per case, each on a fresh run (or group):
- paced: events at a fixed rate (default 200/s for 1 client, 50/s for 50 clients: below the
  ~5,500 deliveries/s daphne ceiling in NOTES.md, so the figures are latency, not queueing).
  The target applies here: relay p99 <= 2x raw p99, and zero lost.
- burst: the 2,000 events as fast as the sender can; reports deliveries/s and losses.

Before each phase a few warm-up events are sent until every client has received one (so
all sockets are subscribed); they are not counted.

Usage, from the repository root (needs PostgreSQL on 127.0.0.1:5432 and `redis-server` on
PATH; a database `bench_relay` is created, migrated and dropped at exit, Redis is private):

    .venv/bin/python bench/bench_relay.py [--events 2000] [--clients 1,50]
        [--rate1 200] [--rate50 50] [--no-burst]

`BENCH_PG_URL` (default postgres://postgres@127.0.0.1:5432) names the PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RAW_PATH = "/ws/bench/raw/"
PAD = "x" * 120  # makes the envelope about the size of a typical assistant.delta


# --- the benchmark-only ASGI application daphne serves (product + raw consumer) ------------


def _application():
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import URLRouter
    from django.urls import path

    from config.asgi import application as product

    class RawGroupConsumer(AsyncWebsocketConsumer):
        """Joins a group and forwards each group message's text as one frame: the channel layer alone."""

        async def connect(self):
            self.group = self.scope["url_route"]["kwargs"]["group"]
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.accept()

        async def disconnect(self, code):
            await self.channel_layer.group_discard(self.group, self.channel_name)

        async def bench_frame(self, message):
            await self.send(text_data=message["text"])

    raw = URLRouter([path("ws/bench/raw/<str:group>", RawGroupConsumer.as_asgi())])

    async def app(scope, receive, send):
        if scope["type"] == "websocket" and scope["path"].startswith(RAW_PATH):
            return await raw(scope, receive, send)
        return await product(scope, receive, send)

    return app


def __getattr__(name):  # daphne imports `bench.bench_relay:application`
    if name == "application":
        globals()["application"] = _application()
        return globals()["application"]
    raise AttributeError(name)


# --- the client process -------------------------------------------------------------------


async def _clients(spec: dict) -> None:
    import websockets

    expected = spec["expected"]
    n = len(spec["urls"])
    sockets = [
        await websockets.connect(
            url, additional_headers=spec["headers"], proxy=None, max_size=None, compression=None
        )
        for url in spec["urls"]
    ]
    print("CONNECTED", flush=True)
    latencies: list[float] = []
    indices: list[list[int]] = [[] for _ in range(n)]
    warm = [False] * n
    first = last = None

    async def pump(k, ws):
        nonlocal first, last
        async for frame in ws:
            now = time.time()
            payload = json.loads(frame)["payload"]
            if "i" in payload:
                latencies.append(now - payload["sent"])
                indices[k].append(payload["i"])
                first = now if first is None else first
                last = now
                if len(indices[k]) >= expected:
                    return
            elif not warm[k]:
                warm[k] = True
                if all(warm):
                    print("WARM", flush=True)

    tasks = [asyncio.ensure_future(pump(k, ws)) for k, ws in enumerate(sockets)]
    progress, idle_since = -1, time.monotonic()
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0.25)
        got = sum(len(i) for i in indices)
        if got != progress:
            progress, idle_since = got, time.monotonic()
        elif time.monotonic() - idle_since > spec["idle_timeout"]:
            break  # nothing more is coming: the rest is lost
    for t in tasks:
        t.cancel()
    for ws in sockets:
        await ws.close()
    result = {
        "latencies": latencies,
        "received": [len(set(i)) for i in indices],
        "duplicates": sum(len(i) - len(set(i)) for i in indices),
        "out_of_order": sum(any(a >= b for a, b in zip(i, i[1:], strict=False)) for i in indices),
        "span": (last - first) if first is not None else 0.0,
    }
    print("RESULT " + json.dumps(result), flush=True)


class ClientProcess:
    """The websocket clients run in their own process, so they do not share this one's GIL."""

    def __init__(self, urls: list[str], headers: dict, expected: int):
        spec = {"urls": urls, "headers": headers, "expected": expected, "idle_timeout": 15}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--client-spec", json.dumps(spec)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("EOF")

    def wait_for(self, word: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line == "EOF":
                raise RuntimeError(f"client process exited (rc={self.proc.wait()}) while waiting for {word}")
            if line.startswith(word):
                return line
        return None


# --- the sending side ---------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    from bench.common import percentile

    return percentile(values, q) * 1000


class Case:
    """One phase of one path: where clients connect, and how an event is sent."""

    def __init__(self, kind: str, web, token: str, user):
        from published_apps.starters import create_app

        self.kind = kind
        self.web = web
        self.token = token
        if kind == "relay":
            from coding_agent.models import AgentRun

            app = create_app(owner=user, name=f"relay {uuid.uuid4().hex[:6]}", template="landing")
            self.run = AgentRun.objects.create(
                app=app, input="bench", resolved_model_id="bench", status=AgentRun.Status.RUNNING
            )
            self.url = (
                f"{web.ws_url}/ws/admin/apps/{app.id}/coding-agent/runs/{self.run.pk}/stream?after_seq=0"
            )
            self.app_id = str(app.id)
        else:
            from channels.layers import get_channel_layer

            from coding_agent.broadcast import _bridge

            self.layer = get_channel_layer()
            self.loop = _bridge()
            self.group = f"bench-{uuid.uuid4().hex}"
            self.url = f"{web.ws_url}{RAW_PATH}{self.group}"
            self.seq = 0

    def send(self, payload: dict) -> None:
        if self.kind == "relay":
            from coding_agent.events import append_event

            payload["sent"] = time.time()
            append_event(self.run.pk, "assistant.delta", payload)
        else:
            self.seq += 1
            payload["sent"] = time.time()
            envelope = {
                "seq": self.seq,
                "event": "assistant.delta",
                "run_id": str(uuid.uuid4()),
                "app_id": str(uuid.uuid4()),
                "ts": "2026-01-01T00:00:00.000000Z",
                "payload": payload,
                "diagnostics": {},
            }
            message = {"type": "bench.frame", "text": json.dumps(envelope, separators=(",", ":"))}
            # The product's bridge loop, but waiting for each send: fire-and-forget bursts
            # exhaust the Redis connection pool and may reorder messages.
            asyncio.run_coroutine_threadsafe(self.layer.group_send(self.group, message), self.loop).result()

    def close(self) -> None:
        if self.kind == "relay":
            from coding_agent.models import AgentRun

            AgentRun.objects.filter(pk=self.run.pk).update(status=AgentRun.Status.COMPLETED)


def db_sessions() -> int:
    """PostgreSQL sessions ever opened on this database (a diagnostic: connections per delivery)."""
    from django.db import connection

    time.sleep(1)  # backends report their statistics with a short delay
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def measure(kind: str, web, token: str, user, *, clients: int, events: int, rate: float | None) -> dict:
    case = Case(kind, web, token, user)
    sessions_before = db_sessions()
    headers = {"Authorization": f"Token {token}"} if kind == "relay" else {}
    proc = ClientProcess([case.url] * clients, headers, events)
    try:
        if proc.wait_for("CONNECTED", 60) is None:
            raise RuntimeError("clients did not connect")
        for _ in range(200):
            case.send({"text": "warm-up", "pad": PAD})
            if proc.wait_for("WARM", 0.1) is not None:
                break
        else:
            raise RuntimeError("clients never received a warm-up event")
        started = time.perf_counter()
        for i in range(events):
            if rate:
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            case.send({"text": "x", "pad": PAD, "i": i})
        send_s = time.perf_counter() - started
        line = proc.wait_for("RESULT", 120 + events / 50)
        if line is None:
            raise RuntimeError("no result from the clients")
        result = json.loads(line[len("RESULT ") :])
    finally:
        proc.proc.kill()
        proc.proc.wait()
        case.close()
    sessions = db_sessions() - sessions_before
    lat = result["latencies"]
    return {
        "sessions_per_delivery": sessions / (events * clients),
        "kind": kind,
        "clients": clients,
        "phase": f"paced {rate:g}/s" if rate else "burst",
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": max(lat) * 1000 if lat else float("nan"),
        "send_rate": events / send_s,
        "deliver_rate": (sum(result["received"]) / clients) / result["span"]
        if result["span"]
        else float("nan"),
        "lost": sum(events - r for r in result["received"]),
        "duplicates": result["duplicates"],
        "out_of_order": result["out_of_order"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000, help="events per case (default 2000)")
    parser.add_argument(
        "--clients", default="1,50", help="comma-separated client counts, one case each (default 1,50)"
    )
    parser.add_argument("--rate1", type=float, default=200, help="paced rate (events/s) with 1 client")
    parser.add_argument("--rate50", type=float, default=50, help="paced rate (events/s) with more clients")
    parser.add_argument("--no-burst", action="store_true", help="skip the burst phase")
    parser.add_argument("--client-spec", help=argparse.SUPPRESS)  # internal: this file as the client process
    args = parser.parse_args()  # before any work: --help and a bad option only print
    if args.events < 1:
        parser.error("--events must be at least 1")
    try:
        client_counts = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error(f"--clients must be comma-separated numbers, got {args.clients!r}")
    if any(c < 1 for c in client_counts):
        parser.error("--clients: each count must be at least 1")
    if args.client_spec:
        asyncio.run(_clients(json.loads(args.client_spec)))
        return

    (REPO / "bench" / ".work").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-relay-", dir=REPO / "bench" / ".work"))
    from tests.e2e.servers import RedisServer  # needs no Django yet

    redis = RedisServer(work).start()
    os.environ["REDIS_URL"] = redis.url  # this process announces on the same private Redis
    os.environ["APPS_SERVER_BACKGROUND"] = "0"  # no sweeper in daphne: nothing runs here
    from bench.common import django_on_postgres, verdict

    django_on_postgres("bench_relay", data_dir=str(work / "data"))
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from tests.e2e.servers import Daphne, server_env

    web = Daphne(
        server_env(work / "data", redis_url=redis.url), work, application="bench.bench_relay:application"
    ).start()
    try:
        user = get_user_model().objects.create_user("bench-relay")
        token = Token.objects.create(user=user).key
        rows = []
        for clients in client_counts:
            rate = args.rate1 if clients == 1 else args.rate50
            phases = [rate] + ([] if args.no_burst else [None])
            for phase_rate in phases:
                for kind in ("raw", "relay"):
                    row = measure(
                        kind, web, token, user, clients=clients, events=args.events, rate=phase_rate
                    )
                    rows.append(row)
                    print(
                        f"  {kind:6} {clients:3} clients  {row['phase']:13} p99 {row['p99']:8.1f} ms  lost {row['lost']}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        web.stop()
        redis.stop()

    print(f"\nRelay of {args.events} events per case: append_event -> channels-redis -> daphne -> websocket")
    header = f"{'path':<8}{'clients':>8}  {'phase':<14}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    header += f"{'sent/s':>9}{'recv/s':>9}{'lost':>7}{'dup':>5}{'order':>6}{'db conn/dlv':>12}"
    print(header)
    for r in rows:
        print(
            f"{r['kind']:<8}{r['clients']:>8}  {r['phase']:<14}{r['p50']:9.1f}{r['p99']:9.1f}{r['max']:9.1f}"
            f"{r['send_rate']:9.0f}{r['deliver_rate']:9.0f}{r['lost']:7}{r['duplicates']:5}{r['out_of_order']:6}"
            f"{r['sessions_per_delivery']:12.2f}"
        )
    print(
        "recv/s: deliveries per second per client; order: clients that saw a frame out of order;\n"
        "db conn/dlv: new PostgreSQL sessions per delivery (the relay reads each wake-up from the database)."
    )
    print("\nBaseline: raw = channels-redis group_send to the same daphne and clients (no database).")
    ok_all = True
    for r in rows:
        if r["kind"] != "relay":
            continue
        raw = next(
            x
            for x in rows
            if x["kind"] == "raw" and x["clients"] == r["clients"] and x["phase"] == r["phase"]
        )
        ratio = r["p99"] / raw["p99"]
        lost_ok = r["lost"] == 0 and r["duplicates"] == 0 and r["out_of_order"] == 0
        if r["phase"].startswith("paced"):
            ok = ratio <= 2 and lost_ok
            ok_all &= ok
            print(
                f"{r['clients']:>3} clients, {r['phase']}: p99 relay/raw = {ratio:.2f}x (target <= 2x), "
                f"relay lost {r['lost']} (raw lost {raw['lost']}): {verdict(ok)}"
            )
        else:
            ok_all &= lost_ok
            print(
                f"{r['clients']:>3} clients, burst: relay {r['deliver_rate']:.0f} ev/s per client vs raw "
                f"{raw['deliver_rate']:.0f}; relay lost {r['lost']} (raw lost {raw['lost']}): {verdict(lost_ok)}"
            )
    print(f"overall: {verdict(ok_all)}")
    shutil.rmtree(work, ignore_errors=True)  # server logs stay only when something failed


if __name__ == "__main__":
    main()
