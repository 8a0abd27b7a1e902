"""The training step: the one place that imports the backend and calls `model.fit`.

It seeds every random generator, trains with the recorder attached, and turns the
recorder's epochs into the trace's `Training` with an observation per epoch.
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

STEPS_PER_EXECUTION = 16  # batches run per call into the backend: less Python between steps
FEED = "stream"  # "stream": batches drawn from NumPy as training goes; "arrays": Keras copies the arrays first


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
    steps = math.ceil(len(x_train) / settings.batch_size)
    if FEED == "stream":
        inputs = dict(x=streamed_batches(x_train, y_train, settings.batch_size, settings.seed), steps_per_epoch=steps,
                      shuffle=False)  # the stream shuffles, seeded
    else:
        inputs = dict(x=x_train, y=y_train, batch_size=settings.batch_size, shuffle=True)
    started = time.perf_counter()
    status = "completed"
    try:
        model.fit(
            **inputs,
            epochs=settings.epochs,
            validation_data=(x_test, y_test),
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
        steps_per_epoch=steps,
        steps_per_record=STEPS_PER_EXECUTION,
        epochs=[_epoch(r, o) for r, o in zip(records, observations)],
        status=status,
        seconds=seconds,
    )


def streamed_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, batches_per_draw: int = 16):
    """Shuffled batches taken from the NumPy arrays as training goes (a `tf.data.Dataset`).

    Given arrays, Keras first copies them into TensorFlow: for MNIST a second 188 MB copy of
    the training images, plus about 140 MB more while it converts. Streaming from the one
    copy the stages made keeps the run's peak memory well under 1 GiB. Each epoch is a new
    seeded permutation; `batches_per_draw` batches are gathered per call into Python, so
    the generator costs next to nothing, and every epoch has ceil(N / batch_size) batches.
    """
    import tensorflow as tf

    draw = batch_size * batches_per_draw

    def epochs():
        rng = np.random.default_rng(seed)
        while True:
            order = rng.permutation(len(x))
            for start in range(0, len(x), draw):
                rows = order[start : start + draw]
                yield x[rows], y[rows]

    signature = (
        tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype)),
        tf.TensorSpec((None,), tf.as_dtype(y.dtype)),
    )
    return tf.data.Dataset.from_generator(epochs, output_signature=signature).rebatch(batch_size).prefetch(2)


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
