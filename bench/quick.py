"""The quick benchmark set behind `make bench`: chat latency at 1, 50, 200 and 500 concurrent
chats (30 s held each, the baseline 15 s) and page timings; the figures go to
bench/results/latest.json. Takes about four to five minutes on a 2-core machine."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def main() -> None:
    for script, args in (
        ("chat_latency.py", ["--levels", "1,50,200,500", "--hold", "30", "--baseline-hold", "15"]),
        ("pages.py", []),
    ):
        subprocess.run([sys.executable, str(BENCH / script), *args], check=True)
    latest = {
        name: json.loads((RESULTS / f"{name}.json").read_text())
        for name in ("chat_latency", "pages")
    }
    (RESULTS / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")
    print(f"written to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
