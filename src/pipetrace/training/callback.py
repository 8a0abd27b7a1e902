"""`pipetrace.TraceCallback`: pipetrace's training trace inside any `model.fit(...)` you write.

It records what `pipetrace run` records for its own network: every epoch's loss, accuracy,
test loss and test accuracy (when fit has validation data), time, per-batch losses, and an
observation computed from those numbers. Like `pipetrace run`, it stops training at the
first batch whose loss is not a finite number and puts back the weights of the last epoch
that ended well, so the model you keep is a real one.

>>> import keras, numpy as np, pipetrace
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
>>> x, y = np.random.default_rng(0).random((64, 4), dtype="float32"), np.arange(64) % 3
>>> recorder = pipetrace.TraceCallback()
>>> history = model.fit(x, y, epochs=2, batch_size=16, validation_data=(x, y), callbacks=[recorder], verbose=0)
>>> [epoch.epoch for epoch in recorder.training.epochs]
[1, 2]
>>> "uniform guess" in recorder.training.epochs[0].observation   # compared with ln(3), chance's loss
True
"""

from __future__ import annotations

import inspect
import math
import time

import keras

from pipetrace.trace import Epoch, Training
from pipetrace.training.network import optimizer_momentum
from pipetrace.training.observations import observe
from pipetrace.training.output_kind import output_kind

ACCURACY_NAMES = ("accuracy", "sparse_categorical_accuracy", "acc", "categorical_accuracy")


class TraceCallback(keras.callbacks.Callback):
    """Records the training trace; after `fit`, `callback.training` holds it (a `Training`).

    `rich.print(callback.training)` draws the epoch table and the loss chart. Keras reports
    the *running mean* loss of the epoch after each step (or each `steps_per_execution`
    steps); the loss of those steps themselves is recovered from two consecutive means.
    """

    def __init__(self, batch_size: int | None = None):
        super().__init__()
        self.batch_size = batch_size  # used only where fit cannot tell (see fit_batch_size)
        self.epochs: list[dict] = []
        self.diverged_at: int | None = None
        self.training: Training | None = None

    def on_train_begin(self, logs=None):
        self._fit_started = time.perf_counter()
        self._batch_size = fit_batch_size() or self.batch_size
        self.epochs, self.diverged_at = [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._last_good_weights = self.model.get_weights()  # a few hundred KB: cheap insurance
        self._started = time.perf_counter()
        self._batch_losses: list[float | None] = []
        self._previous_mean, self._previous_step = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        step = min(batch + 1, self.params.get("steps") or batch + 1)  # Keras may overshoot on the last execution
        mean = float(logs["loss"]) if logs and "loss" in logs else math.nan
        # mean_k * k - mean_j * j = the sum of the losses of steps j+1..k; one value per call
        steps = max(step - self._previous_step, 1)
        loss = (mean * step - self._previous_mean * self._previous_step) / steps
        self._batch_losses.append(loss if math.isfinite(loss) else None)
        self._previous_mean, self._previous_step = mean, step
        if not math.isfinite(mean):
            self.diverged_at = len(self.epochs) + 1
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epochs.append({
            "epoch": epoch + 1,
            "loss": finite_or_none(logs.get("loss")),
            "accuracy": finite_or_none(_accuracy(logs, "")),
            "test_loss": finite_or_none(logs.get("val_loss")),
            "test_accuracy": finite_or_none(_accuracy(logs, "val_")),
            "seconds": time.perf_counter() - self._started,
            "batch_losses": [None if v is None else float(f"{v:.5g}") for v in self._batch_losses],
        })
        if self.epochs[-1]["loss"] is None and self.diverged_at is None:
            self.diverged_at = epoch + 1
            self.model.stop_training = True
        if self.diverged_at is not None:
            self.model.set_weights(self._last_good_weights)

    def on_train_end(self, logs=None):
        classes = output_kind(self.model).classes  # None unless a softmax classifier: no ln(classes), no chance
        optimizer = type(getattr(self.model, "optimizer", None)).__name__.lower()  # for a typical rate in advice
        observations = observe(self.epochs, classes, _learning_rate(self.model), optimizer=optimizer,
                               momentum=optimizer_momentum(self.model))
        status = "diverged" if self.diverged_at is not None else "completed"
        if self.params.get("epochs") and len(self.epochs) < self.params["epochs"] and status == "completed":
            status = "stopped early"
        self.training = Training(
            epochs_planned=int(self.params.get("epochs") or len(self.epochs)),
            batch_size=self._batch_size or 0,  # 0: the data did not say (a generator of batches)
            steps_per_epoch=int(self.params.get("steps") or 0),
            steps_per_record=int(getattr(self.model, "steps_per_execution", 1) or 1),
            epochs=[Epoch(**record, observation=text) for record, text in zip(self.epochs, observations)],
            status=status,
            seconds=time.perf_counter() - self._fit_started,
        )


def fit_batch_size() -> int | None:
    """The batch size of the `model.fit` now calling its callbacks, as its data adapter holds it.

    Keras gives callbacks `params` = {verbose, epochs, steps} and no batch size, so it is read
    from the `fit` call on the stack: its epoch iterator's adapter knows it (32 when `fit` was
    given arrays and no batch_size, the batch dimension of a batched tf.data.Dataset, None for a
    generator). None when no Keras `fit` is found.
    """
    frame = inspect.currentframe()
    while frame is not None:
        iterator = frame.f_locals.get("epoch_iterator") if frame.f_code.co_name == "fit" else None
        adapter = getattr(iterator, "data_adapter", None)
        if adapter is not None:
            try:
                size = adapter.batch_size
            except (AttributeError, TypeError, ValueError):
                return None
            return int(size) if size else None
        frame = frame.f_back
    return None


def _accuracy(logs: dict, prefix: str):
    """Keras names accuracy after how it was asked for; take whichever this model reports."""
    return next((logs[prefix + name] for name in ACCURACY_NAMES if prefix + name in logs), None)


def finite_or_none(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _learning_rate(model) -> float | None:
    """The optimizer's starting learning rate, for the advice a diverging run gets."""
    try:
        rate = model.optimizer.learning_rate
        return float(getattr(rate, "initial_learning_rate", None) or float(rate))
    except (AttributeError, TypeError, ValueError):
        return None
