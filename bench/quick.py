"""The quick benchmark set behind `make bench`: chat latency at 1, 50, 200 and 500 concurrent
chats on one process and at 200 and 500 on two processes behind HAProxy (20 s held each, the
SDK floor 10 s, measured in the same run), and page timings; the figures go to
bench/results/latest.json. Takes about five minutes on a 2-core machine. Two processes need
Redis (REDIS_URL, or this machine's) and HAProxy; without them that part is skipped."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def main() -> None:
    held = ["--hold", "20", "--baseline-hold", "10"]
    runs = [("chat_latency.py", ["--levels", "1,50,200,500", *held])]
    if shutil.which("haproxy") and _redis_answers():
        runs.append(("chat_latency.py", ["--levels", "200,500", "--processes", "2", *held]))
    else:
        print("two processes skipped: they need HAProxy and Redis")
    runs.append(("pages.py", []))
    for script, args in runs:
        subprocess.run([sys.executable, str(BENCH / script), *args], check=True)
    latest = {
        name: json.loads((RESULTS / f"{name}.json").read_text())
        for name in ("chat_latency", "chat_latency_2p", "pages")
        if (RESULTS / f"{name}.json").exists()
    }
    (RESULTS / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")
    print(f"written to {RESULTS / 'latest.json'}")


def _redis_answers() -> bool:
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


if __name__ == "__main__":
    main()
