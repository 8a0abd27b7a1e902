"""The training step: the one place that imports the backend and calls `model.fit`.

It seeds every random generator, trains with the recorder attached, and turns the
recorder's epochs into the trace's `Training` with an observation per epoch.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import time

import numpy as np

from pipetrace.trace import Epoch, Settings, Training
from pipetrace.training.observations import observe

STEPS_PER_EXECUTION = 16  # batches run per call into the backend: less Python between steps


def import_keras():
    """Import Keras on the TensorFlow backend, quietly, and return the module."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def import_keras_in_background() -> concurrent.futures.Future:
    """Start importing Keras (and TensorFlow) in a thread; `.result()` returns the module.

    Reading and decompressing MNIST releases the GIL, so the two overlap on two cores.
    """
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-keras")
    future = executor.submit(import_keras)
    executor.shutdown(wait=False)
    return future


def fit(model, data, settings: Settings, classes: int, on_batch=None, on_epoch=None, record: bool = True) -> Training:
    """Train `model` on data = (x_train, y_train, x_test, y_test) and return the training trace.

    `on_batch(step)` and `on_epoch(epoch)` let a view follow along. `record=False` trains
    with no pipetrace callback at all, as plain Keras would (to measure what recording costs):
    the epochs then come from Keras' History, each with the average epoch time and no
    per-batch losses.
    """
    from pipetrace.training.recorder import TrainingRecorder

    x_train, y_train, x_test, y_test = data
    observed: list[dict] = []

    def epoch_done(record: dict) -> None:
        observed.append(record)
        if on_epoch:
            on_epoch(_epoch(record, observe(observed, classes, settings.learning_rate)[-1]))

    recorder = TrainingRecorder(on_batch=on_batch, on_epoch=epoch_done) if record else None
    started = time.perf_counter()
    status = "completed"
    try:
        model.fit(
            x_train,
            y_train,
            batch_size=settings.batch_size,
            epochs=settings.epochs,
            validation_data=(x_test, y_test),
            shuffle=True,
            callbacks=[recorder] if recorder else [],
            verbose=0,
        )
    except KeyboardInterrupt:
        status = "interrupted"
    seconds = time.perf_counter() - started
    records = recorder.epochs if recorder else _from_history(model.history.history, seconds)
    if recorder and recorder.diverged_at is not None:
        status = "diverged"
    observations = observe(records, classes, settings.learning_rate)
    return Training(
        epochs_planned=settings.epochs,
        batch_size=settings.batch_size,
        steps_per_epoch=math.ceil(len(x_train) / settings.batch_size),
        steps_per_record=STEPS_PER_EXECUTION,
        epochs=[_epoch(r, o) for r, o in zip(records, observations)],
        status=status,
        seconds=seconds,
    )


def _from_history(history: dict, seconds: float) -> list[dict]:
    """Epoch records from Keras' own History (used when recording is off)."""
    from pipetrace.training.recorder import finite_or_none

    count = len(history.get("loss", []))
    return [
        {
            "epoch": i + 1,
            "loss": finite_or_none(history["loss"][i]),
            "accuracy": finite_or_none(history["accuracy"][i]),
            "test_loss": finite_or_none(history["val_loss"][i]),
            "test_accuracy": finite_or_none(history["val_accuracy"][i]),
            "seconds": seconds / count,
            "batch_losses": [],
        }
        for i in range(count)
    ]


def _epoch(record: dict, observation: str) -> Epoch:
    return Epoch(**record, observation=observation)


def seed_everything(seed: int) -> None:
    """Same seed, same weights, same shuffles, same trace numbers (on the same machine)."""
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    np.random.seed(seed)
