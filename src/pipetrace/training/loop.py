"""The training loop, written out: shuffle, batch, forward, loss, gradients, optimizer step.

`model.fit` does the same, but on two CPU cores its machinery (a tf.data pipeline over a
full TensorFlow copy of the data, callbacks and metric bookkeeping every few steps) costs
about twice the arithmetic of this small network, and the copy adds 188 MB of training
images. This loop hands TensorFlow 16 shuffled batches per call, gathered straight from the
NumPy array the stages made, and keeps the exact loss of every batch. BENCHMARKS.md has the
measurements. It is the one TensorFlow-specific piece of pipetrace (tf.function, GradientTape).

>>> loop = TrainingLoop(model, batch_size=128, seed=0)              # doctest: +SKIP
>>> record = loop.epoch(x_train, y_train)                           # doctest: +SKIP
>>> record.loss, record.accuracy, len(record.batch_losses)          # doctest: +SKIP
(0.262, 0.924, 469)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BATCHES_PER_CALL = 16  # optimizer steps per call into TensorFlow: Python runs 30 times an epoch, not 469


@dataclass
class EpochResult:
    """What one pass over the training data measured."""

    loss: float  # mean loss over the epoch's examples (what Keras reports as `loss`)
    accuracy: float
    batch_losses: list[float] = field(default_factory=list)  # the loss of each batch, in order
    finite: bool = True  # False when a batch's loss was NaN or infinite (training stopped there)


class TrainingLoop:
    """Trains a compiled Keras model with its own optimizer and loss, batch by batch."""

    def __init__(self, model, batch_size: int, seed: int, batches_per_call: int = BATCHES_PER_CALL):
        import tensorflow as tf

        self.model = model
        self.batch_size = batch_size
        self.batches_per_call = batches_per_call
        self.rng = np.random.default_rng(seed)
        self.loss_fn = model.loss
        self.optimizer = model.optimizer
        self.optimizer.build(model.trainable_variables)
        shape = tuple(model.inputs[0].shape[1:])
        # autograph=False: the loop below is written as tf.while_loop already, so TensorFlow need not
        # rewrite any Python into graph code (tracing the first call gets about 0.1 s shorter)
        self._train = tf.function(
            self._train_batches, autograph=False,
            input_signature=[tf.TensorSpec((None, None, *shape), tf.float32), tf.TensorSpec((None, None), tf.int64)],
        )
        self._test = tf.function(
            self._test_batch, autograph=False,
            input_signature=[tf.TensorSpec((None, *shape), tf.float32), tf.TensorSpec((None,), tf.int64)],
        )

    def _train_batches(self, x, y):
        """One optimizer step on each of x[0], x[1], ...; each batch's loss and count of right answers."""
        import tensorflow as tf

        count = tf.shape(x)[0]

        def step(i, losses, right):
            with tf.GradientTape() as tape:
                outputs = self.model(x[i], training=True)
                loss = self.loss_fn(y[i], outputs)
                # as Keras' train_step: under mixed_float16 the LossScaleOptimizer multiplies the loss here
                # (so small float16 gradients do not round to 0) and divides the gradients again in apply
                scaled = self.optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled, self.model.trainable_variables)
            self.optimizer.apply(gradients, self.model.trainable_variables)
            correct = tf.reduce_sum(tf.cast(tf.argmax(outputs, axis=-1) == y[i], tf.float32))
            return i + 1, losses.write(i, loss), right.write(i, correct)

        empty = (tf.constant(0), tf.TensorArray(tf.float32, size=count), tf.TensorArray(tf.float32, size=count))
        _, losses, right = tf.while_loop(lambda i, *_: i < count, step, empty)
        return losses.stack(), right.stack()

    def _test_batch(self, x, y):
        """The summed loss, summed squared loss and count of right answers on one batch, without training."""
        import tensorflow as tf

        outputs = self.model(x, training=False)
        # the same loss, not yet averaged (Keras' clipping included), in float32 as Keras computes it (mixed_float16)
        per_example = self.loss_fn.call(y, tf.cast(outputs, tf.float32))
        right = tf.reduce_sum(tf.cast(tf.argmax(outputs, axis=-1) == y, tf.float32))
        return tf.reduce_sum(per_example), tf.reduce_sum(tf.square(per_example)), right

    def epoch(self, x: np.ndarray, y: np.ndarray, on_batches=None, on_losses=None, batches_next=None) -> EpochResult:
        """One pass over (x, y) in a new seeded order; `on_losses(losses)` (those batches' losses), then `on_batches(done)`, after every call.

        `batches_next()`, asked before every call, may lower how many batches that call trains
        (None: `batches_per_call`): the lab's Pause and Step train one batch a call. The batches, their
        order and the numbers are the same either way; only how often Python is called back changes.
        """
        order = self.rng.permutation(len(x))
        size = self.batch_size
        full = len(x) // size * size
        losses: list[float] = []
        total_loss = total_right = 0.0
        seen = start = 0
        while start < len(x):
            if start < full:
                count = self.batches_per_call
                if batches_next is not None:
                    count = max(1, min(count, batches_next() or count))
                stop = min(start + size * count, full)
            else:
                stop = len(x)  # the last, smaller batch, alone
            rows = order[start:stop]
            start = stop
            per_batch = size if len(rows) >= size else len(rows)
            xb = x[rows].reshape(-1, per_batch, *x.shape[1:])
            yb = y[rows].astype(np.int64).reshape(-1, per_batch)
            batch_losses, right = self._train(xb, yb)
            batch_losses = batch_losses.numpy()
            losses.extend(float(v) for v in batch_losses)
            total_loss += float((batch_losses * per_batch).sum())
            total_right += float(right.numpy().sum())
            seen += len(rows)
            if on_losses:
                on_losses([float(v) for v in batch_losses])
            if on_batches:
                on_batches(len(losses))
            if not np.isfinite(batch_losses).all():
                return EpochResult(math.nan, total_right / seen, losses, finite=False)
        return EpochResult(total_loss / seen, total_right / seen, losses)

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch: int = 2000) -> tuple[float, float]:
        """Mean loss and accuracy on (x, y), without training."""
        loss, accuracy, _ = self.measure(x, y, batch)
        return loss, accuracy

    def measure(self, x: np.ndarray, y: np.ndarray, batch: int = 2000) -> tuple[float, float, float]:
        """Mean loss, accuracy, and the standard error of that mean loss (its noise over these examples)."""
        total_loss = total_squares = total_right = 0.0
        for start in range(0, len(x), batch):
            loss, squares, right = self._test(x[start : start + batch], y[start : start + batch].astype(np.int64))
            total_loss += float(loss)
            total_squares += float(squares)
            total_right += float(right)
        n = len(x)
        mean = total_loss / n
        variance = max(total_squares / n - mean * mean, 0.0) * n / max(n - 1, 1)
        return mean, total_right / n, math.sqrt(variance / n) if math.isfinite(variance) else math.nan
