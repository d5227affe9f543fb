"""Time to `run.accepted`: from `POST runs` to the `run.accepted` frame on the run's websocket.

What is measured. The run id is not known before the POST answers, so a websocket cannot
be open in advance. Each iteration does what the builder UI does:

    t0 -> POST runs (202, keep-alive connection) -> open the run's websocket with
    ?after_seq=0 at once -> first frame = run.accepted (t1)

and reports t1 - t0 ("accepted"), split into the POST round trip (validation, model pin,
the run row and its `run.accepted` RunEvent in one transaction, the enqueue on commit)
and the socket part (TCP + websocket handshake, token and run look-ups, joining the
run's group, reading the persisted `run.accepted`). The run then executes (a one-turn
scripted model) and the socket is read until the server closes it, so the next
iteration starts with nothing running.

Baseline, in the same run: a plain authenticated `GET runs/{id}` round trip on the same
keep-alive connection, right after each run has finished: the cheapest request that
touches the same rows through the same auth and routing.

Both modes, one after the other, on the same PostgreSQL database:
- embedded: one daphne, no Redis (in-memory channel layer), runs in its thread pool;
- production: daphne + a Celery worker + a private Redis (broker and channel layer).

Usage, from the repository root (needs PostgreSQL on 127.0.0.1:5432 and `redis-server` on
PATH; a database `bench_accept` is created, migrated and dropped at exit):

    .venv/bin/python bench/bench_accept.py [--runs 100] [--modes embedded,production]

`BENCH_PG_URL` (default postgres://postgres@127.0.0.1:5432) names the PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WARM_UP = 5


async def iterations(web, token: str, app_id: str, count: int) -> dict[str, list[float]]:
    import httpx
    import websockets

    headers = {"Authorization": f"Token {token}"}
    runs_url = f"/admin/apps/{app_id}/coding-agent/runs"
    timings: dict[str, list[float]] = {"accepted": [], "post": [], "socket": [], "get": []}
    async with httpx.AsyncClient(base_url=web.url, headers=headers, timeout=30, trust_env=False) as http:
        for n in range(WARM_UP + count):
            t0 = time.perf_counter()
            response = await http.post(runs_url, json={"input": f"Run {n}"})
            t_post = time.perf_counter()
            assert response.status_code == 202, response.text
            run_id = response.json()["id"]
            url = f"{web.ws_url}/ws/admin/apps/{app_id}/coding-agent/runs/{run_id}/stream?after_seq=0"
            async with websockets.connect(url, additional_headers=headers, proxy=None) as ws:
                first = json.loads(await ws.recv())
                t_accepted = time.perf_counter()
                assert first["event"] == "run.accepted", first
                last = first
                async for frame in ws:  # to the end of the run: the server closes after the terminal event
                    last = json.loads(frame)
            assert last["event"] == "run.completed", last
            t_get = time.perf_counter()
            response = await http.get(f"{runs_url}/{run_id}")
            t_got = time.perf_counter()
            assert response.status_code == 200 and response.json()["status"] == "completed", response.text
            if n >= WARM_UP:
                timings["accepted"].append(t_accepted - t0)
                timings["post"].append(t_post - t0)
                timings["socket"].append(t_accepted - t_post)
                timings["get"].append(t_got - t_get)
    return timings


def run_mode(mode: str, work: Path, token: str, app_id: str, count: int) -> dict[str, list[float]]:
    from tests.e2e.servers import CeleryWorker, Daphne, RedisServer, server_env

    started = []
    try:
        if mode == "embedded":
            web = Daphne(server_env(work / mode, redis_url=None), work, name=f"daphne-{mode}").start()
            started.append(web)
        else:
            redis = RedisServer(work).start()
            started.append(redis)
            env = server_env(work / mode, redis_url=redis.url)
            web = Daphne(env, work, name=f"daphne-{mode}").start()
            started.append(web)
            started.append(CeleryWorker(env, work, name="worker").start())
        return asyncio.run(iterations(web, token, app_id, count))
    finally:
        for process in reversed(started):
            process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100, help="measured runs per mode (default 100)")
    parser.add_argument(
        "--modes",
        default="embedded,production",
        help="comma-separated, of: embedded, production (default both)",
    )
    args = parser.parse_args()  # before any work: --help and a bad option only print
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    unknown = set(args.modes.split(",")) - {"embedded", "production"}
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}: the modes are embedded and production")

    from bench.common import django_on_postgres, percentile

    (REPO / "bench" / ".work").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-accept-", dir=REPO / "bench" / ".work"))
    django_on_postgres("bench_accept", data_dir=str(work / "data"))
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from coding_agent import models_catalog
    from coding_agent.models import ChatModel
    from published_apps.starters import create_app

    user = get_user_model().objects.create_user("bench-accept")
    token = Token.objects.create(user=user).key
    models_catalog.set_default(
        ChatModel.objects.create(id="bench-ok", label="Bench", provider="scripted", script=[{"text": "OK."}])
    )

    results = {}
    for mode in args.modes.split(","):
        app = create_app(owner=user, name=f"Accept {mode}", template="landing")
        results[mode] = run_mode(mode, work, token, str(app.id), args.runs)
        print(f"  {mode}: done", file=sys.stderr, flush=True)

    def ms(values, q):
        return percentile(values, q) * 1000

    labels = {
        "accepted": "POST runs -> run.accepted on ws",
        "post": "  of which: POST round trip",
        "socket": "  of which: ws open -> accepted",
        "get": "baseline: GET runs/{id}",
    }
    print(f"\nTime to run.accepted, {args.runs} runs per mode (milliseconds)")
    print(f"{'mode':<12}{'measure':<34}{'p50':>8}{'p99':>8}{'max':>8}")
    for mode, timings in results.items():
        for key, label in labels.items():
            values = timings[key]
            print(f"{mode:<12}{label:<34}{ms(values, 50):8.1f}{ms(values, 99):8.1f}{max(values) * 1000:8.1f}")
    print()
    for mode, timings in results.items():
        p50 = ms(timings["accepted"], 50) / ms(timings["get"], 50)
        p99 = ms(timings["accepted"], 99) / ms(timings["get"], 99)
        print(f"{mode}: accepted / GET round trip = {p50:.1f}x at p50, {p99:.1f}x at p99")
    shutil.rmtree(work, ignore_errors=True)  # server logs stay only when something failed


if __name__ == "__main__":
    main()
