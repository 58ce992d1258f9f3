"""How much time Maraum adds to the model's stream, and how far one Daphne process goes.

For each concurrency level it runs the same arrival pattern twice against a fake Anthropic
upstream (fixed time to first token and token rate, a separate process):
  1. baseline: the `anthropic` SDK reading the upstream directly (the floor);
  2. through Maraum: simulated learners, real websocket clients doing real turns against a
     Daphne process with real PostgreSQL (a scratch database), each holding a chat open.
Learners arrive staggered over --ramp seconds and the level is held for --hold seconds.

    .venv/bin/python bench/chat_latency.py [--levels 1,50,200,500] [--hold 30] [--ramp 5]

Prints a table and one JSON line; writes bench/results/chat_latency.json.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.request import urlopen

import anthropic
import harness  # bench/harness.py, beside this script
import psutil
import websockets

from tests.support.servers import fake_anthropic_process, free_port  # after harness: finds tests/

REFUSED = re.compile(r'data-frame="notice">([^<]+)<')
QUESTION = "Wie sagt man 'Ich hätte gern' auf Englisch?"


async def baseline_level(
    url: str, level: int, ramp: float, hold: float, model: str, backend: str = "aiohttp"
) -> dict:
    """The floor: the SDK alone, with its aiohttp backend (as Maraum uses it) or its default
    httpx one. Its CPU per token is this process's CPU over the tokens it read."""
    ttft, gaps, failed, turns, tokens = [], [], 0, 0, 0
    sent_at: dict[str, float] = {}
    http_client = anthropic.DefaultAioHttpClient() if backend == "aiohttp" else None
    cpu_started = time.process_time()
    async with anthropic.AsyncAnthropic(
        base_url=url, api_key="bench", max_retries=0, http_client=http_client
    ) as client:
        started = time.monotonic()
        window_start, deadline = started + ramp, started + ramp + hold

        async def user(index: int) -> None:
            nonlocal failed, turns, tokens
            await asyncio.sleep(index * ramp / level)
            while time.monotonic() < deadline:
                mark = uuid.uuid4().hex
                sent, last = time.monotonic(), None
                if sent >= window_start:
                    sent_at[mark] = sent
                try:
                    # Read as Maraum reads it (chat/providers/anthropic.py): the SDK makes
                    # the request, the event lines are parsed as plain JSON. The SDK's typed
                    # events saturate this one client process long before the upstream does.
                    async with client.messages.with_streaming_response.create(
                        model=model,
                        max_tokens=400,
                        stream=True,
                        messages=[{"role": "user", "content": f"{QUESTION} [bench:{mark}]"}],
                    ) as response:
                        async for line in response.iter_lines():
                            if not line.startswith("data:") or "text_delta" not in line:
                                continue
                            json.loads(line[5:])
                            tokens += 1
                            now = time.monotonic()
                            if sent < window_start:  # turns of the ramp only warm up
                                pass
                            elif last is None:
                                ttft.append((now - sent) * 1000)
                            else:
                                gaps.append((now - last) * 1000)
                            last = now
                    turns += 1
                except Exception:
                    failed += 1

        await asyncio.gather(*(user(i) for i in range(level)))
    cpu = time.process_time() - cpu_started
    return {
        "backend": backend,
        "cpu_us_per_token": round(cpu * 1e6 / tokens, 1) if tokens else None,
        "ttft_ms": harness.percentiles(ttft),
        "before_call_ms": _before_call(url, sent_at),
        "token_gap_ms": harness.percentiles(gaps),
        "turns": turns,
        "failed_turns": failed,
        "turns_per_s": round(turns / (ramp + hold), 2),
    }


def _before_call(upstream_url: str, sent_at: dict[str, float]) -> dict:
    """Per held turn, from its message sent to its model request read by the upstream (which
    stamps the requests carrying a mark): without the upstream's timer jitter in it."""
    arrivals = json.loads(_get(f"{upstream_url}/_bench/arrivals"))
    return harness.percentiles(
        [(arrivals[mark] - sent) * 1000 for mark, sent in sent_at.items() if mark in arrivals]
    )


def _get(url: str) -> str:
    with urlopen(url, timeout=10) as response:
        return response.read().decode()


async def maraum_level(
    port: int,
    servers: list[psutil.Process],
    balancer: psutil.Process | None,
    learners: list[dict],
    ramp: float,
    hold: float,
    token_ms: float,
    upstream: psutil.Process,
    upstream_url: str,
    profile: Path | None = None,
) -> dict:
    level = len(learners)
    ttft, lateness, failed, turns, window_turns, window_tokens = [], [], 0, 0, 0, 0
    sent_at: dict[str, float] = {}  # each held turn's mark, and when its frame was sent
    errors: Counter = Counter()
    started = time.monotonic()
    window_start, deadline = started + ramp, started + ramp + hold
    origin = f"http://127.0.0.1:{port}"

    async def learner(index: int, who: dict) -> None:
        nonlocal failed, turns, window_turns, window_tokens
        await asyncio.sleep(index * ramp / level)
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/sessions/{who['session_id']}/",
                additional_headers={"Cookie": who["cookie"], "Origin": origin},
                max_size=2**22,
                open_timeout=30,
            ) as socket:
                await socket.recv()  # the sync frame
                while time.monotonic() < deadline:
                    mark = uuid.uuid4().hex  # the upstream stamps the request that carries it
                    sent, first, tokens = time.monotonic(), None, 0
                    await socket.send(
                        json.dumps(
                            {
                                "chat": "helper",
                                "message": f"{QUESTION} [bench:{mark}]",
                                "client_message_id": str(uuid.uuid4()),
                            }
                        )
                    )
                    if sent >= window_start:
                        sent_at[mark] = sent
                    while True:
                        frame = await asyncio.wait_for(socket.recv(), 60)
                        now = time.monotonic()
                        texts = [json.loads(frame)["text"]] if frame.startswith("{") else []
                        for text in texts:
                            words = len(text.split())
                            if first is None:
                                first = now
                                if sent >= window_start:  # turns of the ramp only warm up
                                    ttft.append((now - sent) * 1000)
                            elif sent >= window_start:  # how late this frame's first token is
                                lateness.append((now - first) * 1000 - tokens * token_ms)
                            tokens += words
                            if window_start <= now <= deadline:
                                window_tokens += words
                        if 'data-frame="reply-finished"' in frame:
                            turns += 1
                            window_turns += window_start <= now <= deadline
                            break
                        refused = REFUSED.search(frame)
                        if 'data-slot="retry"' in frame or refused:
                            failed += 1
                            errors[refused.group(1) if refused else "reply failed"] += 1
                            break
        except Exception as error:
            failed += 1
            errors[f"{type(error).__name__}: {str(error)[:100]}"] += 1

    tasks = [asyncio.create_task(learner(i, who)) for i, who in enumerate(learners)]
    await asyncio.sleep(max(0.0, window_start - time.monotonic()))
    # With several processes the counter is one process's: queries per turn are not counted.
    queries_before = int(_get(f"{origin}/__bench__/queries")) if balancer is None else None
    me = psutil.Process()
    others = [upstream, me] + ([balancer] if balancer else [])
    for process in servers + others:
        process.cpu_percent(None)
    cpu_before = sum(_cpu_seconds(server) for server in servers)
    rss = [sum(server.memory_info().rss for server in servers)]
    spying = (
        harness.py_spy([s.pid for s in servers], deadline - time.monotonic() - 1, profile)
        if profile
        else contextlib.nullcontext()
    )
    with spying:
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            rss.append(sum(server.memory_info().rss for server in servers))
    server_cpu_seconds = sum(_cpu_seconds(server) for server in servers) - cpu_before
    cpu = sum(server.cpu_percent(None) for server in servers)
    upstream_cpu, client_cpu = upstream.cpu_percent(None), me.cpu_percent(None)
    balancer_cpu = balancer.cpu_percent(None) if balancer else None
    queries = (
        int(_get(f"{origin}/__bench__/queries")) - queries_before
        if queries_before is not None
        else None
    )
    await asyncio.gather(*tasks)
    where = (
        harness.where_time_goes([Path(f"{profile}.{s.pid}") for s in servers]) if profile else None
    )
    return {
        "ttft_ms": harness.percentiles(ttft),
        # From the learner's frame sent to the model's request read by the upstream, per turn:
        # the turn's own part of the added first token, without the upstream's timer jitter.
        "before_call_ms": _before_call(upstream_url, sent_at),
        "token_lateness_ms": harness.percentiles(lateness),
        "turns": turns,
        "failed_turns": failed,
        "turns_per_s": round(window_turns / hold, 2),
        "server_cpu_percent": round(cpu, 1),
        # The server's CPU over the tokens its learners received, in the held window (words
        # as the page shows them; the fake upstream's tokens are one word each).
        "cpu_us_per_token": round(server_cpu_seconds * 1e6 / window_tokens, 1)
        if window_tokens
        else None,
        "balancer_cpu_percent": round(balancer_cpu, 1) if balancer_cpu is not None else None,
        "upstream_cpu_percent": round(upstream_cpu, 1),
        "client_cpu_percent": round(client_cpu, 1),
        "server_rss_mb": round(max(rss) / 2**20, 1),
        "queries_per_turn": round(queries / window_turns, 2)
        if window_turns and queries is not None
        else None,
        "errors": dict(errors),
        "where_time_goes": where,
    }


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _added(through: dict, base: dict) -> dict:
    return {
        q: (
            round(through[q] - base[q], 2)
            if through[q] is not None and base[q] is not None
            else None
        )
        for q in ("median", "p95", "p99")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,50,200,500")
    parser.add_argument("--ramp", type=float, default=5.0)
    parser.add_argument("--hold", type=float, default=30.0)
    parser.add_argument(
        "--baseline-hold",
        type=float,
        default=None,
        help="hold for the baseline (default: same as --hold)",
    )
    parser.add_argument("--ttft", type=float, default=0.8)
    parser.add_argument("--tokens-per-second", type=float, default=60.0)
    parser.add_argument("--tokens", type=int, default=120)
    parser.add_argument(
        "--processes",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: two processes on Redis (REDIS_URL or this machine's) behind HAProxy",
    )
    parser.add_argument(
        "--httpx-floor-at",
        type=int,
        default=200,
        help="also measure the floor with the SDK's default httpx backend at this level",
    )
    parser.add_argument(
        "--server",
        choices=("daphne", "uvicorn"),
        default="daphne",
        help="the ASGI server of the one-process runs (uvicorn: to compare, not for production)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the servers with py-spy in each held window and print where the time goes",
    )
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    token_ms = 1000 / args.tokens_per_second
    baseline_hold = args.baseline_hold or args.hold

    results = {"config": vars(args), "levels": {}}
    with (
        fake_anthropic_process(args.ttft, args.tokens_per_second, args.tokens) as (
            upstream,
            fake,
        ),
        harness.scratch_database() as database,
    ):
        harness.setup_django(database)
        learners = harness.create_learners(max(levels))
        env = {
            "ANTHROPIC_API_KEY": "bench",
            "ANTHROPIC_BASE_URL": upstream,
            "CHAT_MESSAGES_PER_LEARNER": "1000000/minute",
            "MODEL_CALLS_PER_DAY": "100000000",
            "DATABASE_POOL": "true",
            "DATABASE_POOL_MAX_SIZE": "20",
        }
        with _servers(args.processes, database.runtime_url, env, args.server) as (
            servers,
            balancer,
            port,
        ):
            for level in levels:
                base = asyncio.run(
                    baseline_level(upstream, level, args.ramp, baseline_hold, "claude-haiku-4-5")
                )
                through = asyncio.run(
                    maraum_level(
                        port,
                        servers,
                        balancer,
                        learners[:level],
                        args.ramp,
                        args.hold,
                        token_ms,
                        psutil.Process(fake.pid),
                        upstream,
                        Path(tempfile.gettempdir()) / f"maraum-profile-{args.processes}p-{level}"
                        if args.profile
                        else None,
                    )
                )
                through["added_ttft_ms"] = _added(through["ttft_ms"], base["ttft_ms"])
                # Tokens arriving in bursts mean this one Python client could not keep up:
                # the floor itself is then not measured, and "added" means nothing.
                base["client_bound"] = (base["token_gap_ms"]["median"] or 0) < token_ms / 4
                results["levels"][level] = {"baseline": base, "maraum": through}
                if level == args.httpx_floor_at and args.processes == 1:
                    results["levels"][level]["baseline_httpx"] = asyncio.run(
                        baseline_level(
                            upstream, level, args.ramp, baseline_hold, "claude-haiku-4-5", "httpx"
                        )
                    )
                _print_level(level, results["levels"][level])
    name = "chat_latency" if args.processes == 1 else f"chat_latency_{args.processes}p"
    name += "_uvicorn" if args.server == "uvicorn" else ""
    path = harness.write_results(name, results)
    print(json.dumps(results))
    print(f"written to {path}")


@contextlib.contextmanager
def _servers(processes: int, database_url: str, env: dict, server: str = "daphne"):
    """(server processes, balancer process or None, the port learners connect to)."""
    if processes == 1:
        serve = harness.bench_uvicorn if server == "uvicorn" else harness.bench_daphne
        with serve(database_url, env) as (process, port):
            yield [psutil.Process(process.pid)], None, port
        return
    from maraum.cluster import cluster

    env = dict(
        env,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bench.settings",
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        LOG_LEVEL="WARNING",
        HTTPS="false",
    )
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="maraum-bench-"))  # the processes' access logs
    with cluster(
        processes, port=port, env=env, app="bench.asgi:application", log_dir=logs
    ) as running:
        balancer, servers = running
        yield [psutil.Process(s.pid) for s in servers], psutil.Process(balancer.pid), port


def _print_level(level: int, figures: dict) -> None:
    base, through = figures["baseline"], figures["maraum"]

    def fmt(p: dict) -> str:
        return f"median {p['median']} / p95 {p['p95']} / p99 {p['p99']} ms"

    print(f"\n== {level} concurrent chat{'s' if level != 1 else ''}")
    print(
        f"  baseline  time to first token   {fmt(base['ttft_ms'])}  ({base['turns']} turns, "
        f"{base['failed_turns']} failed)"
    )
    print(
        f"  baseline  gap between tokens    {fmt(base['token_gap_ms'])}"
        + ("  (CLIENT-BOUND: baseline not measured)" if base["client_bound"] else "")
    )
    print(
        f"  maraum    time to first token   {fmt(through['ttft_ms'])}  ({through['turns']} "
        f"turns, {through['failed_turns']} failed)"
    )
    print(f"  added     time to first token   {fmt(through['added_ttft_ms'])}")
    print(f"  baseline  before the model call {fmt(base['before_call_ms'])}  (the SDK's request)")
    print(f"  maraum    before the model call {fmt(through['before_call_ms'])}  (per turn)")
    print(f"  added     inter-token lateness  {fmt(through['token_lateness_ms'])}")
    print(
        f"  maraum    {through['turns_per_s']} turns/s,"
        f" server CPU {through['server_cpu_percent']}%, RSS {through['server_rss_mb']} MB,"
        f" {through['queries_per_turn']} queries/turn"
    )
    print(
        f"  same cores: fake upstream CPU {through['upstream_cpu_percent']}%,"
        f" load-generating client CPU {through['client_cpu_percent']}%"
    )
    floors = [figures[key] for key in ("baseline", "baseline_httpx") if key in figures]
    print(
        f"  CPU per streamed token: maraum {through['cpu_us_per_token']} µs;"
        + "".join(f" SDK floor ({f['backend']}) {f['cpu_us_per_token']} µs;" for f in floors)
        + (
            f" ratio {through['cpu_us_per_token'] / base['cpu_us_per_token']:.2f}×"
            if through["cpu_us_per_token"] and base["cpu_us_per_token"]
            else ""
        )
    )
    if through["balancer_cpu_percent"] is not None:
        print(f"  balancer (HAProxy) CPU {through['balancer_cpu_percent']}%")
    if through["where_time_goes"]:
        where = through["where_time_goes"]
        print(f"  where the servers' Python time goes ({where['samples']} samples):")
        print(
            "    by library: " + ", ".join(f"{k} {v}%" for k, v in where["by_package_self"].items())
        )
        print("    ours, with what they call:")
        for name, share in where["ours_inclusive"].items():
            print(f"      {share:5.1f}%  {name}")
    if through["errors"]:
        print(f"  failures: {through['errors']}")


if __name__ == "__main__":
    main()
