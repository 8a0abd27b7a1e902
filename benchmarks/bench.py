"""pipetrace against TensorFlow's beginner quickstart, side by side in one run, as ratios.

Runs, as separate processes and alternating (so a noisy neighbour hurts all alike):
  quickstart   benchmarks/quickstart.py (the published tutorial, loader swapped)
  pipetrace    `pipetrace run` with its defaults (full trace, report, model saved)
  no-record    the same run trained by plain Keras, no pipetrace callback (`--no-record`)
then times `pipetrace show trace.json` and `pipetrace --help`. For each it reports the median
wall time, CPU time and peak RSS (from the child's own rusage), and test accuracy; then
the targets of issue 4, each PASS or FAIL.

    make bench                 # or: .venv/bin/python benchmarks/bench.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from targets import missed_targets
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GIB = 1024**3


def measure(command: list[str]) -> dict:
    """Wall and CPU seconds and peak RSS bytes of one child process (os.wait4 gives its own rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT,
                                   env={**os.environ, "NO_COLOR": "1", "TF_CPP_MIN_LOG_LEVEL": "2", })
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss * 1024,
                "returncode": os.waitstatus_to_exitcode(status), "stdout": out.read().decode(), "stderr": err.read().decode()}


def run_quickstart() -> dict:
    result = measure([sys.executable, str(ROOT / "benchmarks" / "quickstart.py")])
    _check(result, "quickstart")
    facts = json.loads(result["stdout"].strip().splitlines()[-1])
    return {**result, "accuracy": facts["test_accuracy"], "train": facts["fit_seconds"]}


def run_pipetrace(out: Path, record: bool) -> dict:
    command = [str(BIN / "pipetrace"), "run", "--force", "--out", str(out)]  # the whole trace printed (to a pipe)
    result = measure(command + ([] if record else ["--no-record"]))
    _check(result, "pipetrace run")
    trace = json.loads((out / "trace.json").read_text())
    return {**result, "accuracy": trace["evaluation"]["test_accuracy"], "train": trace["training"]["seconds"]}


def _check(result: dict, name: str) -> None:
    if result["returncode"] != 0:
        sys.exit(f"{name} failed (status {result['returncode']}):\n{result['stderr'][-2000:]}")


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed (default: report it, exit 0)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, list[dict]] = {"quickstart": [], "pipetrace": [], "no-record": []}
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}/{args.rounds}: quickstart, pipetrace, no-record", file=sys.stderr, flush=True)
            runs["quickstart"].append(run_quickstart())
            runs["pipetrace"].append(run_pipetrace(Path(tmp) / "on", record=True))
            runs["no-record"].append(run_pipetrace(Path(tmp) / "off", record=False))
        trace_file = str(Path(tmp) / "on" / "trace.json")
        show = [measure([str(BIN / "pipetrace"), "show", trace_file]) for _ in range(args.rounds)]
        helps = [measure([str(BIN / "pipetrace"), "--help"]) for _ in range(args.rounds)]

    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, {_memory()}, Python {platform.python_version()}, "
          f"{platform.platform(terse=True)}; {args.rounds} alternating rounds, medians\n")
    print(f"| {'program':<26} | {'wall s':>7} | {'CPU s':>7} | {'train s':>7} | {'peak RSS':>9} | {'test acc':>8} |")
    print(f"|{'-' * 28}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 11}|{'-' * 10}|")
    for name, results in runs.items():
        print(f"| {name:<26} | {median(results, 'wall'):7.2f} | {median(results, 'cpu'):7.2f} | "
              f"{median(results, 'train'):7.2f} | {median(results, 'rss') / GIB:6.2f} GiB | {median(results, 'accuracy'):8.2%} |")
    for name, results in (("pipetrace show trace.json", show), ("pipetrace --help", helps)):
        print(f"| {name:<26} | {median(results, 'wall'):7.2f} | {median(results, 'cpu'):7.2f} | {'':>7} | "
              f"{median(results, 'rss') / GIB:6.2f} GiB | {'':>8} |")

    quick, ours, off = runs["quickstart"], runs["pipetrace"], runs["no-record"]
    wall_ratio = median(ours, "wall") / median(quick, "wall")
    overhead = median(ours, "train") / median(off, "train") - 1
    targets = [
        ("wall time vs quickstart", f"{wall_ratio:.3f}x", wall_ratio <= 0.25, "<= 0.25x"),
        ("test accuracy", f"{min(r['accuracy'] for r in ours):.2%} (lowest)", min(r["accuracy"] for r in ours) >= 0.975, ">= 97.5%"),
        ("peak RSS", f"{max(r['rss'] for r in ours) / GIB:.2f} GiB (highest)", max(r["rss"] for r in ours) <= GIB, "<= 1.0 GiB"),
        ("tracing overhead (training)", f"{overhead:+.1%}", overhead <= 0.05, "<= 5%"),
        ("pipetrace show", f"{median(show, 'wall'):.2f} s", median(show, "wall") < 1.0, "< 1 s"),
        ("pipetrace --help", f"{median(helps, 'wall'):.2f} s", median(helps, "wall") < 0.5, "< 0.5 s"),
    ]
    print(f"\n| {'target':<28} | {'measured':<18} | {'goal':<10} | result |")
    print(f"|{'-' * 30}|{'-' * 20}|{'-' * 12}|--------|")
    for name, measured, ok, goal in targets:
        print(f"| {name:<28} | {measured:<18} | {goal:<10} | {'PASS' if ok else 'FAIL':<6} |")
    missed = [name for name, _, ok, _ in targets if not ok]
    return missed_targets(missed, args.strict)


def _memory() -> str:
    try:
        kib = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
        return f"{kib / 1024**2:.0f} GiB RAM"
    except (OSError, StopIteration):
        return "RAM unknown"


if __name__ == "__main__":
    sys.exit(main())
