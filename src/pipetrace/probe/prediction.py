"""Follow one input through a network, layer by layer, and say what each layer did to it.

Works for any Sequential or functional Keras model with one input: each layer's output
comes from Keras itself (so the last one is exactly what `model.predict` gives); for layers
with an activation, the values before it (weighted sums, logits) are computed too, so the
trace shows both sides. The first network of the seed page gives four layers: Input ->
Hidden: Dense + ReLU -> Output: Dense + Softmax -> Prediction.

>>> p = trace_prediction(model, x_test[0], label=7)          # doctest: +SKIP
>>> [layer.name for layer in p.layers]                       # doctest: +SKIP
['Input', 'Hidden: Dense + ReLU', 'Output: Dense + Softmax', 'Prediction']
"""

from __future__ import annotations

import numpy as np

from pipetrace.errors import PipetraceError
from pipetrace.probe.layer_story import describe_input, describe_layer, describe_prediction
from pipetrace.trace import Prediction


def trace_prediction(model, x, label: int | None = None, sample: int = 0, image=None,
                     class_names: list[str] | None = None) -> Prediction:
    """Run one input `x` through `model` and trace every layer.

    `x` is one input (`x_test[0]`) or a batch of one (`x_test[:1]`, as `model.predict` takes);
    any other shape raises `PipetraceError` naming the shape the model expects. `image` is the
    raw picture shown for the input (defaults to `x` scaled to 0..255); `label` the true class
    if known; `class_names` the names of the outputs.
    """
    images = None if image is None else [image]
    return trace_predictions(model, batch_of_one(model, x), [label], [sample], images, class_names)[0]


def batch_of_one(model, x) -> np.ndarray:
    """`x` as a batch holding one input, checked against the model's input shape (when the model knows it)."""
    x = np.asarray(x)
    expected = _input_shape(model)
    if expected is None or _fits(x.shape, expected):
        return x[None]
    if x.ndim == len(expected) + 1 and x.shape[0] == 1 and _fits(x.shape[1:], expected):
        return x
    many = f" (a batch of {x.shape[0]}: pass one of them, such as x[0] or x[:1])" if (
        x.ndim == len(expected) + 1 and _fits(x.shape[1:], expected)) else ""
    raise PipetraceError(
        f"trace_prediction: {model.name} takes one input of shape {_shape_text(expected)} or a batch of one, "
        f"{_shape_text((1, *expected))}; got shape {_shape_text(x.shape)}{many}")


def _input_shape(model) -> tuple | None:
    """The shape of one input (no batch axis; None where any size goes), or None if the model has not said."""
    try:
        inputs = model.inputs
        return tuple(inputs[0].shape[1:]) if inputs and len(inputs) == 1 else None
    except (AttributeError, TypeError, ValueError):
        return None


def _fits(shape: tuple, expected: tuple) -> bool:
    return len(shape) == len(expected) and all(want is None or want == got for got, want in zip(shape, expected))


def _shape_text(shape) -> str:
    return "(" + ", ".join("any" if size is None else str(size) for size in shape) + ("," if len(shape) == 1 else "") + ")"


def trace_predictions(model, xs, labels: list[int | None], samples: list[int], images=None,
                      class_names: list[str] | None = None) -> list[Prediction]:
    """`trace_prediction` for many inputs at once: one pass through the network for all of them."""
    import keras

    xs = np.asarray(xs, dtype=np.float32)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    outputs = _layer_outputs(model, layers, xs)
    befores, previous = [], xs
    for layer, out in zip(layers, outputs):
        befores.append(_before_activation(layer, previous))
        previous = out
    names = class_names or [str(c) for c in range(int(outputs[-1].shape[-1]))]
    hidden_count = sum(1 for layer in layers[:-1] if type(layer).__name__ == "Dense")
    traced = []
    for i, (x, label, sample) in enumerate(zip(xs, labels, samples)):
        traces = [describe_input(x)]
        previous_out = x
        for index, (layer, out, before) in enumerate(zip(layers, outputs, befores)):
            is_output = index == len(layers) - 1
            traces.append(describe_layer(layer, previous_out, out[i], None if before is None else before[i],
                                         is_output, hidden_count, names))
            previous_out = out[i]
        probabilities = traces[-1].values
        predicted = int(np.argmax(probabilities))
        traces.append(describe_prediction(predicted, float(probabilities[predicted]), label, names))
        image = images[i] if images is not None else _picture(x)
        traced.append(Prediction(
            sample=sample,
            label=predicted if label is None else int(label),
            image=np.asarray(image).tolist(),
            layers=traces,
            predicted=predicted,
            confidence=float(probabilities[predicted]),
        ))
    return traced


def _picture(x: np.ndarray) -> np.ndarray:
    """An input of 0..1 values shown as 0..255 pixels (rows; a flat input becomes one row)."""
    image = np.clip(x * 255, 0, 255).round().astype(int)
    return image.reshape(image.shape[0], -1) if image.ndim > 1 else image.reshape(1, -1)


def _layer_outputs(model, layers, batch: np.ndarray) -> list[np.ndarray]:
    """Every layer's output for `batch`, computed by Keras in one pass."""
    import keras

    probe = keras.Model(model.inputs[0], [layer.output for layer in layers])
    outputs = probe(batch, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [keras.ops.convert_to_numpy(o).astype(np.float64) for o in outputs]


def _before_activation(layer, inputs: np.ndarray) -> np.ndarray | None:
    """The layer's output with its activation switched off (weighted sums, logits, ...)."""
    import keras

    activation = getattr(layer, "activation", None)
    if activation is None or getattr(activation, "__name__", "linear") == "linear":
        return None
    layer.activation = keras.activations.linear
    try:
        return keras.ops.convert_to_numpy(layer(inputs.astype(np.float32), training=False)).astype(np.float64)
    except Exception:  # a layer that cannot be called on its input alone: skip the "before" view
        return None
    finally:
        layer.activation = activation
