"""Time to first byte and queries per page, against a minimal Django view as the floor.

A learner with 200 completed sessions (and an active one) requests each page in turn from a
Daphne process on a scratch database.

    .venv/bin/python bench/pages.py [--requests 200] [--history 200]

Prints a table and one JSON line; writes bench/results/pages.json.
"""

import argparse
import http.client
import json
import time

import harness  # bench/harness.py, beside this script


def _request(port: int, path: str, cookie: str) -> float:
    """Milliseconds from sending the request to the status line (time to first byte)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.connect()
        started = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        elapsed = (time.perf_counter() - started) * 1000
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        return elapsed
    finally:
        conn.close()


def _queries(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/__bench__/queries")
    count = int(conn.getresponse().read())
    conn.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--history", type=int, default=200)
    args = parser.parse_args()

    results = {"config": vars(args), "pages": {}}
    with harness.scratch_database() as database:
        harness.setup_django(database)
        [learner] = harness.create_learners(1, completed_sessions=args.history)
        pages = {
            "minimal view (floor)": "/__bench__/minimal",
            "picker": "/",
            "history": "/history/",
            "chat": f"/sessions/{learner['session_id']}/",
        }
        with harness.bench_daphne(database.runtime_url, {}) as (_, port):
            for name, path in pages.items():
                for _ in range(10):  # warm-up: templates, connections
                    _request(port, path, learner["cookie"])
                before = _queries(port)
                timings = [_request(port, path, learner["cookie"]) for _ in range(args.requests)]
                queries = (_queries(port) - before) / args.requests
                results["pages"][name] = {
                    "path": path,
                    "ttfb_ms": harness.percentiles(timings),
                    "queries": round(queries, 2),
                }
    floor = results["pages"]["minimal view (floor)"]["ttfb_ms"]["median"]
    print(f"{'page':24} {'median':>8} {'p95':>8} {'p99':>8} {'x floor':>8} {'queries':>8}")
    for name, page in results["pages"].items():
        ttfb = page["ttfb_ms"]
        page["times_floor"] = round(ttfb["median"] / floor, 2)
        print(
            f"{name:24} {ttfb['median']:>8} {ttfb['p95']:>8} {ttfb['p99']:>8}"
            f" {page['times_floor']:>8} {page['queries']:>8}"
        )
    path = harness.write_results("pages", results)
    print(json.dumps(results))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
