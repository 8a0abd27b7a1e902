"""The lab's speed targets (issue 13), measured side by side with TensorFlow's beginner quickstart.

Starts the real `pipetrace lab` (embedded cluster, one worker), warms it with one tiny run, then,
alternating with the quickstart as a separate process, times from `POST /api/runs` with the
default settings (full MNIST) to its `done` event, and the first `stage` event after the POST.
With --scaling: N queued runs on W = 1 and W = 2 workers, against N/W times one run.
Live events' cost: the training seconds of the same run in a second lab started with
`--no-live-events` (only how runs end is published), alternating.

    .venv/bin/python benchmarks/lab.py --rounds 2
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import run_quickstart  # noqa: E402
from targets import missed_targets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"


def request(url: str, data: dict | None = None):
    body = json.dumps(data).encode() if data is not None else None
    return urllib.request.urlopen(urllib.request.Request(url, data=body, headers={"Authorization": f"token {TOKEN}"}),
                                  timeout=600)


def timed_run(base: str, settings: dict) -> dict:
    """Seconds from the POST to the first stage event and to the done event (read as server-sent events)."""
    started = time.perf_counter()
    run_id = json.load(request(f"{base}/api/runs", settings))["id"]
    first_stage = done = None
    for line in request(f"{base}/api/runs/{run_id}/events"):
        if line.startswith(b"event: stage") and first_stage is None:
            first_stage = time.perf_counter() - started
        if line.startswith(b"event: done"):
            done = time.perf_counter() - started
        if line.startswith((b"event: failed", b"event: stopped")):
            sys.exit(f"the lab run did not finish: {line!r}")
    trace = json.load(request(f"{base}/api/runs/{run_id}/trace.json"))
    return {"first_stage": first_stage, "done": done, "train": trace["training"]["seconds"]}


def started_lab(runs: str, workers: int = 1, *options: str):
    """A `pipetrace lab` process and its base address."""
    lab = subprocess.Popen([sys.executable, "-m", "pipetrace", "lab", "--no-open", "--runs", runs, "--workers", str(workers),
                            *options],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                           env={**os.environ, "PIPETRACE_LAB_TOKEN": TOKEN})
    lab.stdout.readline()
    return lab, lab.stdout.readline().strip().split("/#")[0]


def scaling(runs: str, count: int = 4) -> None:
    """Seconds for `count` runs queued at once on 1 and on 2 workers (each worker warmed first)."""
    settings = {"limit": 12000, "epochs": 1}
    rows = []
    for workers in (1, 2):
        lab, base = started_lab(runs, workers)
        try:
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:  # warm every worker
                list(pool.map(lambda _: timed_run(base, {"limit": 600, "epochs": 1}), range(workers)))
            one = timed_run(base, settings)["done"]
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(count) as pool:
                list(pool.map(lambda _: timed_run(base, settings), range(count)))
            rows.append((workers, one, time.perf_counter() - started))
        finally:
            lab.send_signal(signal.SIGINT)
            lab.wait(timeout=60)
    print(f"\n| workers | one run s | {count} runs s | {count} runs / one run | ideal |")
    print("|---------|-----------|-----------|------------------|-------|")
    for workers, one, many in rows:
        print(f"| {workers:>7} | {one:9.2f} | {many:9.2f} | {many / one:16.2f} | {count / workers:5.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scaling", action="store_true", help="also time 4 queued runs on 1 and 2 workers")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed (default: report it, exit 0)")
    args = parser.parse_args()
    if args.scaling:
        with TemporaryDirectory() as runs:
            scaling(runs)
    with TemporaryDirectory() as runs:
        lab, base = started_lab(runs)
        quiet_lab, quiet_base = started_lab(runs, 1, "--no-live-events")
        try:
            for address in (base, quiet_base):  # warms each worker: TensorFlow and MNIST, once
                timed_run(address, {"limit": 600, "epochs": 1})
            quick, warm, quiet = [], [], []
            for round_ in range(1, args.rounds + 1):
                print(f"round {round_}/{args.rounds}: quickstart, lab run, lab run without live events (defaults, full MNIST)",
                      file=sys.stderr, flush=True)
                quick.append(run_quickstart()["wall"])
                warm.append(timed_run(base, {}))
                quiet.append(timed_run(quiet_base, {})["train"])
        finally:
            for process in (lab, quiet_lab):
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)
    print("training seconds, live events on:", [round(r["train"], 2) for r in warm], "off:", [round(t, 2) for t in quiet],
          file=sys.stderr)
    quickstart = statistics.median(quick)
    done = statistics.median(r["done"] for r in warm)
    stage = statistics.median(r["first_stage"] for r in warm)
    overhead = statistics.median(r["train"] for r in warm) / statistics.median(quiet) - 1
    print(f"\n{os.cpu_count()} cores; {args.rounds} alternating rounds, medians\n")
    print(f"| {'measure':<40} | {'measured':<18} | {'goal':<12} | result |")
    print(f"|{'-' * 42}|{'-' * 20}|{'-' * 14}|--------|")
    rows = [
        ("quickstart wall time", f"{quickstart:.2f} s", "", None),
        ("lab warm path: POST -> done (defaults)", f"{done:.2f} s = {done / quickstart:.3f}x", "<= 0.15x", done / quickstart <= 0.15),
        ("lab: POST -> first stage event", f"{stage:.3f} s", "<= 0.5 s", stage <= 0.5),
        ("live events' cost on training", f"{overhead:+.1%}", "<= 5%", overhead <= 0.05),
    ]
    for name, measured, goal, ok in rows:
        print(f"| {name:<40} | {measured:<18} | {goal:<12} | {'' if ok is None else 'PASS' if ok else 'FAIL':<6} |")
    missed = [name for name, _, _, ok in rows if ok is False]
    return missed_targets(missed, args.strict)


if __name__ == "__main__":
    sys.exit(main())
