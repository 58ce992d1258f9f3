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
import json
import logging
import re
import time
import uuid
from collections import Counter
from urllib.request import urlopen

import anthropic
import harness  # bench/harness.py, beside this script
import psutil
import websockets

from tests.support.servers import fake_anthropic_process  # after harness: it finds tests/

REFUSED = re.compile(r'data-frame="notice">([^<]+)<')
QUESTION = "Wie sagt man 'Ich hätte gern' auf Englisch?"


async def baseline_level(url: str, level: int, ramp: float, hold: float, model: str) -> dict:
    ttft, gaps, failed, turns = [], [], 0, 0
    async with anthropic.AsyncAnthropic(base_url=url, api_key="bench", max_retries=0) as client:
        started = time.monotonic()
        window_start, deadline = started + ramp, started + ramp + hold

        async def user(index: int) -> None:
            nonlocal failed, turns
            await asyncio.sleep(index * ramp / level)
            while time.monotonic() < deadline:
                sent, last = time.monotonic(), None
                try:
                    # Read as Maraum reads it (chat/providers/anthropic.py): the SDK makes
                    # the request, the event lines are parsed as plain JSON. The SDK's typed
                    # events saturate this one client process long before the upstream does.
                    async with client.messages.with_streaming_response.create(
                        model=model,
                        max_tokens=400,
                        stream=True,
                        messages=[{"role": "user", "content": QUESTION}],
                    ) as response:
                        async for line in response.iter_lines():
                            if not line.startswith("data:") or "text_delta" not in line:
                                continue
                            json.loads(line[5:])
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
    return {
        "ttft_ms": harness.percentiles(ttft),
        "token_gap_ms": harness.percentiles(gaps),
        "turns": turns,
        "failed_turns": failed,
        "turns_per_s": round(turns / (ramp + hold), 2),
    }


def _get(url: str) -> str:
    with urlopen(url, timeout=10) as response:
        return response.read().decode()


async def maraum_level(
    port: int,
    server: psutil.Process,
    learners: list[dict],
    ramp: float,
    hold: float,
    token_ms: float,
    upstream: psutil.Process,
) -> dict:
    level = len(learners)
    ttft, lateness, failed, turns, window_turns = [], [], 0, 0, 0
    errors: Counter = Counter()
    started = time.monotonic()
    window_start, deadline = started + ramp, started + ramp + hold
    origin = f"http://127.0.0.1:{port}"

    async def learner(index: int, who: dict) -> None:
        nonlocal failed, turns, window_turns
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
                    sent, first, tokens = time.monotonic(), None, 0
                    await socket.send(
                        json.dumps(
                            {
                                "chat": "helper",
                                "message": QUESTION,
                                "client_message_id": str(uuid.uuid4()),
                            }
                        )
                    )
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
    queries_before = int(_get(f"{origin}/__bench__/queries"))
    me = psutil.Process()
    for process in (server, upstream, me):
        process.cpu_percent(None)
    rss = [server.memory_info().rss]
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        rss.append(server.memory_info().rss)
    cpu, upstream_cpu, client_cpu = (p.cpu_percent(None) for p in (server, upstream, me))
    queries = int(_get(f"{origin}/__bench__/queries")) - queries_before
    await asyncio.gather(*tasks)
    return {
        "ttft_ms": harness.percentiles(ttft),
        "token_lateness_ms": harness.percentiles(lateness),
        "turns": turns,
        "failed_turns": failed,
        "turns_per_s": round(window_turns / hold, 2),
        "server_cpu_percent": round(cpu, 1),
        "upstream_cpu_percent": round(upstream_cpu, 1),
        "client_cpu_percent": round(client_cpu, 1),
        "server_rss_mb": round(max(rss) / 2**20, 1),
        "queries_per_turn": round(queries / window_turns, 2) if window_turns else None,
        "errors": dict(errors),
    }


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
        with harness.bench_daphne(database.runtime_url, env) as (process, port):
            server = psutil.Process(process.pid)
            for level in levels:
                base = asyncio.run(
                    baseline_level(upstream, level, args.ramp, baseline_hold, "claude-haiku-4-5")
                )
                through = asyncio.run(
                    maraum_level(
                        port,
                        server,
                        learners[:level],
                        args.ramp,
                        args.hold,
                        token_ms,
                        psutil.Process(fake.pid),
                    )
                )
                through["added_ttft_ms"] = _added(through["ttft_ms"], base["ttft_ms"])
                # Tokens arriving in bursts mean this one Python client could not keep up:
                # the floor itself is then not measured, and "added" means nothing.
                base["client_bound"] = (base["token_gap_ms"]["median"] or 0) < token_ms / 4
                results["levels"][level] = {"baseline": base, "maraum": through}
                _print_level(level, base, through)
    path = harness.write_results("chat_latency", results)
    print(json.dumps(results))
    print(f"written to {path}")


def _print_level(level: int, base: dict, through: dict) -> None:
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
    if through["errors"]:
        print(f"  failures: {through['errors']}")


if __name__ == "__main__":
    main()
