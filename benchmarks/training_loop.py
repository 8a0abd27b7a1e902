"""How should the default run train? Each setting tried as a whole `pipetrace run`, side by side.

Every variant runs in its own process (so peak memory is its own), alternating over the
rounds, with the full MNIST data and 5 epochs; the table gives the median training time,
the median wall time of the whole run, its peak RSS, and test accuracy. BENCHMARKS.md keeps
the table and the choice made from it.

    .venv/bin/python benchmarks/training_loop.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (name, settings for pipetrace.run, training-loop constants in pipetrace.training.fit)
VARIANTS = [
    ("batch 32, lr 0.001 constant, arrays, 1 step/call", dict(batch_size=32, learning_rate=0.001, schedule="constant"), dict(FEED="arrays", STEPS_PER_EXECUTION=1)),
    ("batch 32, lr 0.001 constant, arrays, 16 steps/call", dict(batch_size=32, learning_rate=0.001, schedule="constant"), dict(FEED="arrays", STEPS_PER_EXECUTION=16)),
    ("batch 128, lr 0.001 constant, arrays, 16 steps/call", dict(batch_size=128, learning_rate=0.001, schedule="constant"), dict(FEED="arrays", STEPS_PER_EXECUTION=16)),
    ("batch 128, lr 0.005 cosine, arrays, 16 steps/call", dict(batch_size=128, learning_rate=0.005, schedule="cosine"), dict(FEED="arrays", STEPS_PER_EXECUTION=16)),
    ("batch 128, lr 0.005 cosine, stream, 16 steps/call", dict(batch_size=128, learning_rate=0.005, schedule="cosine"), dict(FEED="stream", STEPS_PER_EXECUTION=16)),
    ("batch 256, lr 0.005 cosine, stream, 16 steps/call", dict(batch_size=256, learning_rate=0.005, schedule="cosine"), dict(FEED="stream", STEPS_PER_EXECUTION=16)),
    ("batch 256, lr 0.008 cosine, stream, 16 steps/call", dict(batch_size=256, learning_rate=0.008, schedule="cosine"), dict(FEED="stream", STEPS_PER_EXECUTION=16)),
]

CHILD = """
import json, sys
from pipetrace.training import fit
settings, constants, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
fit.LEAN_IMPORT = True
for name, value in constants.items():
    setattr(fit, name, value)
import pipetrace
trace = pipetrace.run(out=out, force=True, **settings)
print(json.dumps({"train": trace.training.seconds, "accuracy": trace.evaluation.test_accuracy}))
"""


def run_variant(settings: dict, constants: dict, out: Path) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(settings), json.dumps(constants), str(out)],
                                   stdout=stdout, stderr=stderr, cwd=ROOT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"variant failed: {settings} {constants}\n{stderr.read().decode()[-2000:]}")
        facts = json.loads(stdout.read().decode().strip().splitlines()[-1])
    return {**facts, "wall": wall, "rss": usage.ru_maxrss * 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name, _, _ in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, settings, constants in VARIANTS:
                print(f"round {round_ + 1}: {name}", file=sys.stderr, flush=True)
                results[name].append(run_variant(settings, constants, Path(tmp) / "run"))
    print(f"\n| setting | training s | whole run s | peak RSS | test accuracy |\n|---|---|---|---|---|")
    for name, runs in results.items():
        med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
        accuracies = ", ".join(f"{r['accuracy']:.2%}" for r in runs)
        print(f"| {name} | {med('train'):.2f} | {med('wall'):.2f} | {med('rss') / 1024**3:.2f} GiB | {accuracies} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
