"""The training step: the one place that trains (the backend is imported by `training.backend`).

It measures the untrained network (epoch 0), runs the training loop epoch by epoch, measures
the training and test sets alike after each (inference mode), and turns the epochs into the
trace's `Training` with an observation per epoch.
"""

from __future__ import annotations

import math
import time

import numpy as np

from pipetrace.trace import Epoch, Settings, Training
from pipetrace.training.network import optimizer_momentum
from pipetrace.training.observations import observe
from pipetrace.training.backend import (  # noqa: F401  (import_keras_in_background: the pipeline's)
    import_keras, import_keras_in_background,
)


# Training images measured in inference mode after each epoch (a fixed, seeded subset). 2,000 cost about
# 2.4% of the default run's training time (10,000 would cost 7.8%: measured with the default run, 2 cores)
# and measure a 98% accuracy to +-0.3 points (one standard error), well inside a typical train/test gap.
TRAIN_MEASURED = 2_000


def fit(model, data, settings: Settings, classes: int, on_batch=None, on_epoch=None, record: bool = True,
        on_losses=None, class_names: list[str] | None = None, batches_next=None) -> Training:
    """Train `model` on data = (x_train, y_train, x_test, y_test) and return the training trace.

    Before training, the untrained network is measured on both sets (epoch 0, `Training.start`).
    Each epoch is one pass of the training loop (see `TrainingLoop`), then a measurement in
    inference mode (dropout off, weights fixed) of the test set and of a fixed, seeded subset of
    `TRAIN_MEASURED` training images, so the two are measured alike; the running mean during the
    pass is kept apart as `running_loss` / `running_accuracy`. `on_batch(done)` and
    `on_epoch(epoch)` let a view follow along; `on_losses(losses)`, the batches just trained (a live
    chart); `batches_next()`, how many batches the loop may train before it calls back next (see
    `TrainingLoop.epoch`: the lab's Pause and Step). `record=False` keeps no per-batch losses and calls
    no one during an epoch, and measures neither epoch 0 nor the training subset (to measure what
    tracing costs: loss/accuracy are then the running mean). A loss that stops being a number ends
    training and puts back the weights from before that epoch (`Training.restored_epoch`; 0 means
    the untrained start); Ctrl-C ends it and keeps the finished epochs.
    """
    from pipetrace.interrupts import with_pause_points
    from pipetrace.training.loop import TrainingLoop

    from pipetrace.training.health import HealthProbe, applied_learning_rate

    x_train, y_train, x_test, y_test = data
    loop = TrainingLoop(model, settings.batch_size, settings.seed)
    x_measured, y_measured = _measured_subset(x_train, y_train, settings.seed)
    health = HealthProbe.of(model) if record else None
    majority = _majority(y_train, classes)
    optimizer = _optimizer_name(model, settings)
    momentum = optimizer_momentum(model)  # SGD's: its typical learning rates are smaller
    records: list[dict] = []
    status = "completed"
    restored_epoch = None
    started = time.perf_counter()
    epoch, unrecorded = 0, None
    start = _start(loop, x_measured, y_measured, x_test, y_test, classes, bool(settings.model), majority,
                   class_names) if record else None
    if start is not None and health is not None:
        start.layers = health.measure(x_measured, y_measured)
    try:
        for epoch in range(1, settings.epochs + 1):
            epoch_started = time.perf_counter()
            before = model.get_weights()  # a few hundred KB: put back if this epoch blows up
            unrecorded = before  # the weights of the last recorded epoch, until this one is recorded
            result = loop.epoch(x_train, y_train, with_pause_points(f"epoch {epoch}", on_batch if record else None),
                                on_losses if record else None, batches_next if record else None)
            if result.finite:
                loss, accuracy = loop.evaluate(x_measured, y_measured) if record else (result.loss, result.accuracy)
                test_loss, test_accuracy, test_loss_noise = loop.measure(x_test, y_test)
            else:  # NaN weights measure nothing: every number of this epoch is unknown
                loss = accuracy = test_loss = test_accuracy = test_loss_noise = None
            records.append({
                "epoch": epoch,
                "loss": _finite(loss),
                "accuracy": accuracy,
                "test_loss": _finite(test_loss),
                "test_accuracy": test_accuracy,
                "seconds": time.perf_counter() - epoch_started,
                "batch_losses": [_rounded(v) for v in result.batch_losses] if record else [],
                "running_loss": _finite(result.loss),
                "running_accuracy": result.accuracy if result.finite else None,
                "test_loss_noise": _finite(test_loss_noise),
                "learning_rate": applied_learning_rate(loop.optimizer),
                "layers": health.measure(x_measured, y_measured) if health is not None and result.finite else [],
            })
            unrecorded = None
            if not result.finite:
                model.set_weights(before)
                status = "diverged"
                restored_epoch = epoch - 1
            if on_epoch:
                on_epoch(_epoch(records[-1], _observe(records, start, classes, settings, optimizer, momentum, restored_epoch, len(x_test),
                                      _named(majority, class_names), len(x_measured))[-1]))
            if not result.finite:
                break
    except KeyboardInterrupt:
        status = "interrupted"
        if unrecorded is not None and len(records) < epoch:  # stopped mid-epoch: the model must match its trace
            model.set_weights(unrecorded)
    observations = _observe(records, start, classes, settings, optimizer, momentum, restored_epoch, len(x_test),
                                      _named(majority, class_names), len(x_measured))
    return Training(
        epochs_planned=settings.epochs,
        batch_size=settings.batch_size,
        steps_per_epoch=math.ceil(len(x_train) / settings.batch_size),
        steps_per_record=1,
        epochs=[_epoch(r, o) for r, o in zip(records, observations)],
        status=status,
        seconds=time.perf_counter() - started,
        start=start,
        train_measured_on=len(x_measured) if record else 0,
        restored_epoch=restored_epoch,
        majority_class=majority[0],
        majority_share=majority[1],
    )


def _majority(y_train: np.ndarray, classes: int) -> tuple[int | None, float | None]:
    """The most common training label and its share of the training images."""
    if not len(y_train):
        return None, None
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=classes)
    top = int(counts.argmax())
    return top, float(counts[top] / counts.sum())


def _named(majority: tuple[int | None, float | None], class_names: list[str] | None) -> tuple[str, float] | None:
    top, share = majority
    if top is None:
        return None
    return (class_names[top] if class_names and top < len(class_names) else str(top)), share


def _measured_subset(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training images measured after each epoch: all of them, or a seeded random TRAIN_MEASURED.

    Random, not the first ones, since a dataset may come sorted by class.
    """
    if len(x) <= TRAIN_MEASURED:
        return x, y
    rows = np.sort(np.random.default_rng(seed).choice(len(x), TRAIN_MEASURED, replace=False))
    return x[rows], y[rows]


def _start(loop, x_measured, y_measured, x_test, y_test, classes: int, given_weights: bool = False,
           majority: tuple[int | None, float | None] = (None, None), class_names: list[str] | None = None) -> Epoch:
    """Epoch 0: the network before training on both sets, the point every curve starts from."""
    from pipetrace.training.observations import baseline_words, describe_start

    started = time.perf_counter()
    loss, accuracy = loop.evaluate(x_measured, y_measured)
    test_loss, test_accuracy, test_loss_noise = loop.measure(x_test, y_test)
    record = {"epoch": 0, "loss": _finite(loss), "accuracy": accuracy, "test_loss": _finite(test_loss),
              "test_accuracy": test_accuracy, "seconds": time.perf_counter() - started,
              "test_loss_noise": _finite(test_loss_noise)}
    named = _named(majority, class_names)
    bar = baseline_words(classes, named[1], named[0]) if named else None
    return Epoch(**record, observation=describe_start(record, classes, given_weights, bar))


def _observe(records: list[dict], start: Epoch | None, classes: int, settings: Settings, optimizer: str,
             momentum: float, restored_epoch: int | None, test_count: int, majority: tuple[str, float] | None = None,
             measured: int = 0) -> list[str]:
    return observe(records, classes, settings.learning_rate, optimizer=optimizer,
                   start=_as_record(start) if start is not None else None, restored_epoch=restored_epoch,
                   test_count=test_count, comparable=start is not None, momentum=momentum, majority=majority,
                   measured=measured)


def _as_record(epoch: Epoch) -> dict:
    return {"epoch": epoch.epoch, "loss": epoch.loss, "accuracy": epoch.accuracy,
            "test_loss": epoch.test_loss, "test_accuracy": epoch.test_accuracy, "layers": epoch.layers}


def _optimizer_name(model, settings: Settings) -> str:
    """The optimizer that really trains (a loaded model brings its own): 'adam', 'sgd', 'rmsprop', ..."""
    optimizer = getattr(model, "optimizer", None)
    return type(optimizer).__name__.lower() if optimizer is not None else settings.optimizer


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


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
