"""A Keras callback that records the training trace as it happens.

It keeps each epoch's metrics, time and per-batch losses, and stops training at the
first batch whose loss is not a finite number (so a diverging run ends with a clear record
instead of epochs of NaN). It then puts back the weights of the last epoch that finished
with a finite loss, so the model that is saved, evaluated and probed is a real one.

>>> recorder = TrainingRecorder()                         # doctest: +SKIP
>>> model.fit(x, y, validation_data=(xt, yt), callbacks=[recorder])  # doctest: +SKIP
>>> recorder.epochs[0]["loss"]                            # doctest: +SKIP
0.2871
"""

from __future__ import annotations

import math
import time

import keras


class TrainingRecorder(keras.callbacks.Callback):
    """Records epochs (loss, accuracy, test loss, test accuracy, seconds, batch losses).

    `on_batch` and `on_epoch` are optional hooks for live views (a progress bar).
    Keras reports the *running mean* loss of the epoch after each step; the loss of the
    step itself is recovered from two consecutive means.
    """

    def __init__(self, on_batch=None, on_epoch=None):
        super().__init__()
        self.epochs: list[dict] = []
        self.diverged_at: int | None = None
        self._on_batch = on_batch
        self._on_epoch = on_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._last_good_weights = self.model.get_weights()  # a few hundred KB: cheap insurance
        self._started = time.perf_counter()
        self._batch_losses: list[float | None] = []
        self._previous_mean = 0.0
        self._previous_step = 0

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
        if self._on_batch:
            self._on_batch(step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        record = {
            "epoch": epoch + 1,
            "loss": finite_or_none(logs.get("loss")),
            "accuracy": finite_or_none(_accuracy(logs, "")),
            "test_loss": finite_or_none(logs.get("val_loss")),
            "test_accuracy": finite_or_none(_accuracy(logs, "val_")),
            "seconds": time.perf_counter() - self._started,
            "batch_losses": [_round(v) for v in self._batch_losses],
        }
        if record["loss"] is None and self.diverged_at is None:
            self.diverged_at = epoch + 1
            self.model.stop_training = True
        if self.diverged_at is not None:
            self.model.set_weights(self._last_good_weights)
        self.epochs.append(record)
        if self._on_epoch:
            self._on_epoch(record)


ACCURACY_NAMES = ("accuracy", "sparse_categorical_accuracy", "acc", "categorical_accuracy")


def _accuracy(logs: dict, prefix: str):
    """Keras names accuracy after how it was asked for; take whichever this model reports."""
    return next((logs[prefix + name] for name in ACCURACY_NAMES if prefix + name in logs), None)


def finite_or_none(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.5g}")
