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
>>> recorder.to_trace(model, x, y).stages   # a whole Trace; the data stages before fit were not seen
[]
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
    steps), each batch weighted by its number of examples; the loss of those steps themselves
    is read from the sums behind that mean (Keras' loss tracker: total and count), so the last,
    smaller batch of an epoch gets its own loss, not a share of the others'.
    """

    def __init__(self, batch_size: int | None = None):
        super().__init__()
        self.batch_size = batch_size  # used only where neither fit nor its batches tell (see fit_batch_size)
        self.epochs: list[dict] = []
        self.diverged_at: int | None = None
        self.training: Training | None = None

    def on_train_begin(self, logs=None):
        self._fit_started = time.perf_counter()
        self._batch_size = fit_batch_size()
        self._tracker = loss_tracker(self.model)
        self._first_epoch: int | None = None  # Keras' initial_epoch, seen when the first epoch begins
        self._record_sizes: list[tuple[float, int]] = []  # (examples, steps) of each record of the first epoch
        self._steps_seen = 0
        self.epochs, self.diverged_at = [], None

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch is None:
            self._first_epoch = epoch
        self._last_good_weights = self.model.get_weights()  # a few hundred KB: cheap insurance
        self._started = time.perf_counter()
        self._batch_losses: list[float | None] = []
        self._previous_total, self._previous_count, self._previous_step = 0.0, 0.0, 0
        self._rate = None

    def on_train_batch_end(self, batch, logs=None):
        step = min(batch + 1, self.params.get("steps") or batch + 1)  # Keras may overshoot on the last execution
        steps = max(step - self._previous_step, 1)
        mean = float(logs["loss"]) if logs and "loss" in logs else math.nan
        self._batch_losses.append(self._record_loss(mean, steps))
        self._previous_step = step
        if step >= (self.params.get("steps") or 0) or not math.isfinite(mean):  # the epoch's last step (or any, unknown)
            self._rate = applied_learning_rate(self.model)
        if not math.isfinite(mean):
            self.diverged_at = len(self.epochs) + 1
            self.model.stop_training = True

    def _record_loss(self, mean: float, steps: int) -> float | None:
        """The loss of the steps since the last call: their examples' share of Keras' running sum.

        `mean` is Keras' running mean (its tracker's total / count), so the sum is mean x count: one
        read of the count a step (a TensorFlow variable read costs about 50 us).

        None when it cannot be known: a `train_step` of your own that does not feed Keras' loss
        tracker (its `loss` need not be a running mean at all), or a loss that is not finite.
        """
        if self._tracker is None:
            return None
        count = float(self._tracker.count)
        total = mean * count
        examples = count - self._previous_count
        loss = (total - self._previous_total) / examples if examples > 0 else math.nan
        if not self.epochs:
            self._record_sizes.append((examples, steps))
        self._previous_total, self._previous_count = total, count
        return loss if math.isfinite(loss) else None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._steps_seen = max(self._steps_seen, self._previous_step)
        if self._rate is None:  # the epoch stopped short of its last step: read it now
            self._rate = applied_learning_rate(self.model)
        self.epochs.append({
            "epoch": epoch + 1,  # as Keras numbers it (fit(initial_epoch=2) starts at epoch 3)
            "loss": finite_or_none(logs.get("loss")),
            "accuracy": finite_or_none(_accuracy(logs, "")),
            "test_loss": finite_or_none(logs.get("val_loss")),
            "test_accuracy": finite_or_none(_accuracy(logs, "val_")),
            "seconds": time.perf_counter() - self._started,
            "batch_losses": [None if v is None else float(f"{v:.5g}") for v in self._batch_losses],
            "learning_rate": self._rate,
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
        last_epoch = int(self.params.get("epochs") or 0)  # fit's `epochs`: the number of the last epoch
        first_epoch = self._first_epoch if self._first_epoch is not None else last_epoch
        status = "diverged" if self.diverged_at is not None else "completed"
        if status == "completed" and self.epochs and self.epochs[-1]["epoch"] < last_epoch:
            status = "stopped early"
        self.training = Training(
            epochs_planned=max(last_epoch - first_epoch, len(self.epochs)),  # fit(epochs=4, initial_epoch=2): 2
            batch_size=self._batch_size or measured_batch_size(self._record_sizes) or self.batch_size or 0,  # 0: unknown
            steps_per_epoch=int(self.params.get("steps") or self._steps_seen),
            steps_per_record=int(getattr(self.model, "steps_per_execution", 1) or 1),
            epochs=[Epoch(**record, observation=text) for record, text in zip(self.epochs, observations)],
            status=status,
            seconds=time.perf_counter() - self._fit_started,
        )

    def to_trace(self, model=None, x_test=None, y_test=None, *, name: str = "your data", class_names=None,
                 sample: int = 0):
        """The recorded fit as a whole `Trace` (save, load, render, `pipetrace show`), measured on (x_test, y_test).

        `model`: the model fit trained (default: the one this callback was given). The data stages
        before fit were not seen: the trace has none (see `pipetrace.training.fit_trace`).
        """
        from pipetrace.training.fit_trace import trace_from_fit

        examples = int(sum(examples for examples, _ in getattr(self, "_record_sizes", [])))
        return trace_from_fit(self.training, model if model is not None else self.model, x_test, y_test, name=name,
                              class_names=class_names, sample=sample, examples_per_epoch=examples)


def loss_tracker(model):
    """Keras' `Mean` of the loss (`model.metrics[0]`, named "loss"): its total and count are sums over examples.

    None when the model has none (a `train_step` of your own that reports its loss its own way).
    """
    tracker = getattr(model, "_loss_tracker", None)
    return tracker if hasattr(tracker, "total") and hasattr(tracker, "count") else None


def measured_batch_size(records: list[tuple[float, int]]) -> int:
    """The batch size the first epoch's examples show, when the data did not say (a `tf.data` dataset
    batched without `drop_remainder`, a generator): the largest batch of the records before the last
    (the last may be the smaller remainder); 0 when one record holds the whole epoch in several steps."""
    full = [examples / steps for examples, steps in records[:-1] if examples > 0]
    if full:
        return int(max(full))
    if len(records) == 1 and records[0][1] == 1 and records[0][0] > 0:
        return int(records[0][0])  # one batch: all of the epoch's examples
    return 0


def applied_learning_rate(model) -> float | None:
    """The learning rate the optimizer applied in its last step (a schedule read at that step, not the next)."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # mixed precision's LossScaleOptimizer wraps one
    try:
        rate = getattr(optimizer, "_learning_rate", None)
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            done = int(optimizer.iterations)
            return float(rate(max(done - 1, 0)))
        return float(optimizer.learning_rate)
    except (AttributeError, TypeError, ValueError):
        return None


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
