"""How should the default run train? Batch sizes, learning rates and training loops, side by side.

Each variant trains the default network (Dense(128, relu) -> Dense(10, softmax), Adam, 5 epochs,
the full MNIST data, seed 0) in its own process, so its peak memory is its own; the variants
alternate over the rounds. The table gives the median training seconds (5 epochs, test set
evaluated after each), the whole process' peak RSS and the test accuracy. BENCHMARKS.md keeps
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

# (how it trains, batch size, learning rate, schedule)
VARIANTS = [
    ("fit", 32, 0.001, "constant"),
    ("fit", 128, 0.005, "cosine"),
    ("fit-stream", 128, 0.005, "cosine"),
    ("loop", 128, 0.001, "constant"),
    ("loop", 128, 0.005, "cosine"),
    ("loop", 256, 0.005, "cosine"),
    ("loop", 256, 0.008, "cosine"),
    ("loop", 512, 0.01, "cosine"),
]
HOW = {
    "fit": "model.fit on the arrays (16 steps per call)",
    "fit-stream": "model.fit on a tf.data stream from NumPy",
    "loop": "pipetrace's TrainingLoop (16 steps per call)",
}

CHILD = r"""
import json, sys, time
import numpy as np
from pipetrace.training import fit as F
F.LEAN_IMPORT = True
keras = F.import_keras(F.KERAS_EXTRAS_NOT_USED)
from pipetrace.data import load_mnist
from pipetrace.trace import Settings
from pipetrace.training import network as N
from pipetrace.training.loop import TrainingLoop
how, batch, rate, schedule = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
data = load_mnist()
x = np.concatenate([data.x_train, data.x_test]).astype(np.float32)
np.divide(x, np.float32(255), out=x)
x = x.reshape(len(x), -1)
y = np.concatenate([data.y_train, data.y_test]).astype(np.int64)
x_train, y_train, x_test, y_test = x[:60000], y[:60000], x[60000:], y[60000:]
settings = Settings(batch_size=batch, learning_rate=rate, schedule=schedule)
F.seed_everything(0)
model = N.build_network(settings, (784,), 10)
steps = -(-60000 // batch)
N.compile_network(model, settings, steps * 5, steps_per_execution=16)  # for the model.fit variants
started = time.perf_counter()
if how == "loop":
    loop = TrainingLoop(model, batch, 0)
    for epoch in range(5):
        loop.epoch(x_train, y_train)
        loss, accuracy = loop.evaluate(x_test, y_test)
elif how == "fit":
    history = model.fit(x_train, y_train, batch_size=batch, epochs=5, validation_data=(x_test, y_test), verbose=0)
    accuracy = history.history["val_accuracy"][-1]
else:
    import tensorflow as tf
    def batches():
        rng = np.random.default_rng(0)
        while True:
            order = rng.permutation(60000)
            for start in range(0, 60000, batch * 16):
                rows = order[start : start + batch * 16]
                yield x_train[rows], y_train[rows]
    spec = (tf.TensorSpec((None, 784), tf.float32), tf.TensorSpec((None,), tf.int64))
    stream = tf.data.Dataset.from_generator(batches, output_signature=spec).rebatch(batch).prefetch(2)
    history = model.fit(stream, steps_per_epoch=steps, epochs=5, validation_data=(x_test, y_test), shuffle=False, verbose=0)
    accuracy = history.history["val_accuracy"][-1]
print(json.dumps({"train": time.perf_counter() - started, "accuracy": float(accuracy)}))
"""


def run_variant(variant: tuple) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen([sys.executable, "-c", CHILD, *map(str, variant)], stdout=stdout, stderr=stderr,
                                   cwd=ROOT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        stdout.seek(0)
        stderr.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"variant {variant} failed:\n{stderr.read().decode()[-2000:]}")
        facts = json.loads(stdout.read().decode().strip().splitlines()[-1])
    return {**facts, "rss": usage.ru_maxrss * 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[tuple, list[dict]] = {v: [] for v in VARIANTS}
    for round_ in range(args.rounds):
        for variant in VARIANTS:
            print(f"round {round_ + 1}: {variant}", file=sys.stderr, flush=True)
            results[variant].append(run_variant(variant))
    print("\n| how it trains | batch | learning rate | training s (5 epochs) | peak RSS | test accuracy |")
    print("|---|---|---|---|---|---|")
    for (how, batch, rate, schedule), runs in results.items():
        train = statistics.median(r["train"] for r in runs)
        rss = statistics.median(r["rss"] for r in runs) / 1024**3
        accuracy = statistics.median(r["accuracy"] for r in runs)
        print(f"| {HOW[how]} | {batch} | {rate:g} {schedule} | {train:.2f} | {rss:.2f} GiB | {accuracy:.2%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
