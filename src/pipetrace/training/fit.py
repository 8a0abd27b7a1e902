"""The training step: the one place that imports the backend and trains.

It seeds every random generator, runs the training loop epoch by epoch, evaluates on the
test set after each, and turns the epochs into the trace's `Training` with an observation
per epoch.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import sys
import time

import numpy as np

from pipetrace.trace import Epoch, Settings, Training
from pipetrace.training.observations import observe



# Keras imports scikit-learn and matplotlib whenever they are installed, for integrations
# pipetrace never uses (its scikit-learn wrappers, its image-gallery plots): about 2 s and
# 90 MB of a 5 s, 590 MB start (measured on 2 cores). The `pipetrace` command owns its process,
# so it sets LEAN_IMPORT and Keras is imported without them; from Python nothing changes,
# since a notebook may want those integrations later.
LEAN_IMPORT = False
KERAS_EXTRAS_NOT_USED = ("sklearn", "matplotlib")


def import_keras(without: tuple[str, ...] = ()):
    """Import Keras on the TensorFlow backend, quietly, and return the module.

    Modules named in `without` look absent to Keras while it imports (it only *tries*
    them); they import normally afterwards.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    hidden = [name for name in without if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # `import name` now raises ImportError, which Keras expects
    try:
        import keras
    finally:
        for name in hidden:
            sys.modules.pop(name, None)
    return keras


def import_keras_in_background(needed: tuple[str, ...] = ()) -> concurrent.futures.Future:
    """Start importing Keras (and TensorFlow) in a thread; `.result()` returns the module.

    Reading and decompressing MNIST releases the GIL, so the two overlap on two cores.
    `needed` names modules the data stages use meanwhile (never hidden from anyone).
    """
    without = tuple(m for m in KERAS_EXTRAS_NOT_USED if m not in needed) if LEAN_IMPORT else ()
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-keras")
    future = executor.submit(import_keras, without)
    executor.shutdown(wait=False)
    return future


def fit(model, data, settings: Settings, classes: int, on_batch=None, on_epoch=None, record: bool = True) -> Training:
    """Train `model` on data = (x_train, y_train, x_test, y_test) and return the training trace.

    Each epoch is one pass of the training loop (see `TrainingLoop`) and one evaluation on
    the test set. `on_batch(done)` and `on_epoch(epoch)` let a view follow along.
    `record=False` keeps no per-batch losses and calls no one during an epoch (to measure
    what recording costs). A loss that stops being a number ends training and puts back the
    weights of the last finished epoch; Ctrl-C ends it and keeps the finished epochs.
    """
    from pipetrace.training.loop import TrainingLoop

    x_train, y_train, x_test, y_test = data
    loop = TrainingLoop(model, settings.batch_size, settings.seed)
    records: list[dict] = []
    status = "completed"
    started = time.perf_counter()
    try:
        for epoch in range(1, settings.epochs + 1):
            epoch_started = time.perf_counter()
            before = model.get_weights()  # a few hundred KB: put back if this epoch blows up
            result = loop.epoch(x_train, y_train, on_batch if record else None)
            test_loss, test_accuracy = loop.evaluate(x_test, y_test)
            records.append({
                "epoch": epoch,
                "loss": _finite(result.loss),
                "accuracy": result.accuracy,
                "test_loss": _finite(test_loss),
                "test_accuracy": test_accuracy,
                "seconds": time.perf_counter() - epoch_started,
                "batch_losses": [_rounded(v) for v in result.batch_losses] if record else [],
            })
            if on_epoch:
                on_epoch(_epoch(records[-1], observe(records, classes, settings.learning_rate)[-1]))
            if not result.finite:
                model.set_weights(before)
                status = "diverged"
                break
    except KeyboardInterrupt:
        status = "interrupted"
    observations = observe(records, classes, settings.learning_rate)
    return Training(
        epochs_planned=settings.epochs,
        batch_size=settings.batch_size,
        steps_per_epoch=math.ceil(len(x_train) / settings.batch_size),
        steps_per_record=1,
        epochs=[_epoch(r, o) for r, o in zip(records, observations)],
        status=status,
        seconds=time.perf_counter() - started,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _rounded(value: float) -> float | None:
    """Five significant digits are plenty for a chart, and keep trace.json small."""
    return float(f"{value:.5g}") if math.isfinite(value) else None


def _epoch(record: dict, observation: str) -> Epoch:
    return Epoch(**record, observation=observation)


def seed_everything(seed: int) -> None:
    """Same seed, same weights, same shuffles, same trace numbers (on the same machine)."""
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    np.random.seed(seed)
