"""Cheap health checks after each epoch: dead units, saturated units, gradient sizes, the rate applied.

Measured on the training images the run already measures after each epoch (`fit.TRAIN_MEASURED`, at most
2,000), in one forward and one backward pass: a few milliseconds for the default network, next to seconds
of training. What they show (a dead ReLU layer, saturated sigmoids, a gradient that fades towards the
input, a schedule that reached 0) is judged in `training.diagnoses`.

>>> probe = HealthProbe(model)                              # doctest: +SKIP
>>> [(h.layer, h.dead) for h in probe.measure(x, y)]        # doctest: +SKIP
[('hidden_1', 3), ('output', None)]
"""

from __future__ import annotations

import math

import numpy as np

from pipetrace.trace import LayerHealth

MEASURED_KINDS = ("Dense", "Conv2D")
SATURATING = {"sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99)}  # outputs beyond these are saturated (slope < ~0.01)
GRADIENT_IMAGES = 512  # the backward pass reads this many of the measured images (a gradient's size settles fast)


class HealthProbe:
    """Reads each Dense/Conv2D layer's outputs and kernel gradient for a batch of images, without training."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        self.layers = [layer for layer in model.layers if type(layer).__name__ in MEASURED_KINDS]
        self.activations = [_activation_name(layer) for layer in self.layers]
        self.loss_fn = model.loss
        self.kernels = [layer.kernel for layer in self.layers]
        self._probe = keras.Model(model.inputs, [layer.output for layer in self.layers] + list(model.outputs))
        self._measure = tf.function(self._outputs_and_gradients, autograph=False)
        self.broken = False

    @classmethod
    def of(cls, model) -> HealthProbe | None:
        """A probe for `model`, or None for a model whose layers it cannot read (a subclassed model, no kernels)."""
        try:
            probe = cls(model)
        except Exception:  # noqa: BLE001 - any model Keras cannot rewire simply goes unmeasured
            return None
        return probe if probe.layers else None

    def _outputs_and_gradients(self, x, y):
        import tensorflow as tf

        outputs = self._probe(x, training=False)
        maxima, saturated = [], []
        for output, name in zip(outputs[:-1], self.activations):
            axes = list(range(len(output.shape) - 1))  # every image and position: one value per unit or filter
            maxima.append(tf.reduce_max(output, axis=axes))
            low, high = SATURATING.get(name, (-math.inf, math.inf))
            saturated.append(tf.reduce_mean(tf.cast((output <= low) | (output >= high), tf.float32)))
        count = tf.minimum(tf.shape(x)[0], GRADIENT_IMAGES)
        with tf.GradientTape() as tape:
            loss = self.loss_fn(y[:count], self._probe(x[:count], training=False)[-1])
        gradients = tape.gradient(loss, self.kernels)
        sizes = [tf.sqrt(tf.reduce_mean(tf.square(g))) if g is not None else tf.constant(math.nan) for g in gradients]
        return maxima, saturated, sizes

    def measure(self, x: np.ndarray, y: np.ndarray) -> list[LayerHealth]:
        """One `LayerHealth` per Dense/Conv2D layer, measured on (x, y); none for a model it cannot measure."""
        if self.broken:
            return []
        try:
            maxima, saturated, sizes = self._measure(x, y.astype(np.int64))
        except Exception:  # noqa: BLE001 - a health check must never stop a run: this model simply goes unmeasured
            self.broken = True
            return []
        health = []
        for layer, name, top, share, size in zip(self.layers, self.activations, maxima, saturated, sizes):
            top, size = top.numpy(), float(size)
            health.append(LayerHealth(
                layer=layer.name,
                units=int(top.shape[-1]),
                activation=name,
                dead=int((top <= 0).sum()) if name == "relu" else None,
                saturated=float(share) if name in SATURATING else None,
                gradient=size if math.isfinite(size) else None,
            ))
        return health


def applied_learning_rate(optimizer) -> float | None:
    """The learning rate the optimizer applied in its last step (a schedule read at that step), or None."""
    from keras.optimizers.schedules import LearningRateSchedule

    try:
        current = optimizer._learning_rate  # Keras 3 keeps the float, variable or schedule here
        if isinstance(current, LearningRateSchedule):
            value = current(max(int(optimizer.iterations.numpy()) - 1, 0))
        else:
            value = optimizer.learning_rate
        value = float(np.asarray(value))
    except (AttributeError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") or "linear"
