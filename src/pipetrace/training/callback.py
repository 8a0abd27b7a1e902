"""`pipetrace.TraceCallback`: pipetrace's training trace inside any `model.fit(...)` you write.

It records what `pipetrace run` records for its own network: every epoch's loss, accuracy,
test loss and test accuracy (when fit has validation data), time, per-batch losses, and an
observation computed from those numbers.

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

import time

from pipetrace.trace import Epoch, Training
from pipetrace.training.observations import observe
from pipetrace.training.recorder import TrainingRecorder


class TraceCallback(TrainingRecorder):
    """Records the training trace; after `fit`, `callback.training` holds it (a `Training`).

    Like `pipetrace run`, it stops training at the first batch whose loss is not a finite
    number and puts back the weights of the last good epoch. `rich.print(callback.training)`
    draws the epoch table and the loss chart.
    """

    def __init__(self, batch_size: int = 0):
        super().__init__()
        self.batch_size = batch_size
        self.training: Training | None = None

    def on_train_begin(self, logs=None):
        self._fit_started = time.perf_counter()
        self.epochs = []
        self.diverged_at = None

    def on_train_end(self, logs=None):
        classes = int(self.model.outputs[0].shape[-1]) if getattr(self.model, "outputs", None) else 2
        rate = _learning_rate(self.model)
        observations = observe(self.epochs, classes, rate)
        status = "diverged" if self.diverged_at is not None else "completed"
        if self.params.get("epochs") and len(self.epochs) < self.params["epochs"] and status == "completed":
            status = "stopped early"
        self.training = Training(
            epochs_planned=int(self.params.get("epochs") or len(self.epochs)),
            batch_size=self.batch_size,
            steps_per_epoch=int(self.params.get("steps") or 0),
            steps_per_record=int(getattr(self.model, "steps_per_execution", 1) or 1),
            epochs=[Epoch(**record, observation=text) for record, text in zip(self.epochs, observations)],
            status=status,
            seconds=time.perf_counter() - self._fit_started,
        )


def _learning_rate(model) -> float | None:
    """The optimizer's starting learning rate, for the advice a diverging run gets."""
    try:
        rate = model.optimizer.learning_rate
        return float(getattr(rate, "initial_learning_rate", None) or float(rate))
    except (AttributeError, TypeError, ValueError):
        return None
