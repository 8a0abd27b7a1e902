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
from pipetrace.probe.layer_story import describe_input, describe_layer, describe_outcome
from pipetrace.trace import Prediction
from pipetrace.training.output_kind import UNSUPPORTED, VALUE, activation_name


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


def trace_predictions(model, xs, labels: list, samples: list[int], images=None,
                      class_names: list[str] | None = None) -> list[Prediction]:
    """`trace_prediction` for many inputs at once: one pass through the network for all of them.

    Each layer is shown with the values that really flowed into it (its inbound tensors, so a
    branched functional model is followed along its branches) and what came out of it, both
    computed by Keras. A model the probe cannot follow is refused in one line (`PipetraceError`).
    """
    from pipetrace.training.output_kind import output_kind

    kind = output_kind(model)
    _check_followable(model, kind)
    xs = np.asarray(xs, dtype=np.float32)
    graph = getattr(model, "_functional", None) or model  # a Sequential runs as the functional graph it holds
    nodes = _nodes(graph)
    values = _values_by_tensor(graph, nodes, xs)
    final = next(node for node in nodes if id(node.outputs[0]) == id(graph.outputs[0]))
    steps = [node.operation for node in nodes]
    outputs = [values[id(node.outputs[0])] for node in nodes]
    inputs = [_inbound(node, values) for node in nodes]
    befores = [_before_activation(step, inbound) for step, inbound in zip(steps, inputs)]
    units = int(outputs[-1].shape[-1]) if outputs[-1].ndim > 1 else 1
    names = _class_names(class_names, kind, units)
    checked = [_checked_label(label, kind, units, names) for label in labels]
    scores = _scores_node(final, nodes)  # the Dense whose outputs a final Softmax / Activation layer turns into the output
    hidden = [node for node in nodes if node is not final and node is not scores and type(node.operation).__name__ == "Dense"]
    number = {id(node): position for position, node in enumerate(hidden, start=1)} if len(hidden) > 1 else {}
    traced = []
    for i, (x, label, sample) in enumerate(zip(xs, checked, samples)):
        traces = [describe_input(x)]
        for node, out, inbound, before in zip(nodes, outputs, inputs, befores):
            first = inbound[0][i] if isinstance(inbound, list) else inbound[i]
            traces.append(describe_layer(node.operation, first, out[i], None if before is None else before[i],
                                         node is final, number.get(id(node), 0), names, kind.kind))
            if node is scores:
                traces[-1].name = traces[-1].name.replace("Hidden:", "Scores:")
        prediction = describe_outcome(traces[-1], kind.kind, label, names)
        image = images[i] if images is not None else _picture(x)
        traced.append(Prediction(
            sample=sample,
            label=prediction.details["predicted"] if label is None or kind.kind == VALUE else int(label),
            image=np.asarray(image).tolist(),
            layers=[*traces, prediction],
            predicted=prediction.details["predicted"],
            confidence=prediction.details["confidence"],
            output=kind.kind,
        ))
    return traced


def _scores_node(final, nodes):
    """The Dense call right before a final step that has no weights of its own (Softmax, Activation), if any."""
    if getattr(final.operation, "weights", None) or len(final.input_tensors) != 1:
        return None
    feeding = next((node for node in nodes if id(node.outputs[0]) == id(final.input_tensors[0])), None)
    return feeding if feeding is not None and type(feeding.operation).__name__ == "Dense" else None


def _check_followable(model, kind) -> None:
    """One line for a model the probe cannot follow: subclassed, several inputs or outputs, an unknown head."""
    from pipetrace.training.network import follow_problem

    name = getattr(model, "name", type(model).__name__)
    problem = follow_problem(model)
    if problem:
        raise PipetraceError(f"trace_prediction: {name}: {problem}")
    if kind.kind == UNSUPPORTED:
        raise PipetraceError(f"trace_prediction: {name}: not supported: {kind.why}")


def _nodes(graph) -> list:
    """Every call of a layer or operation in the model's graph, in the order Keras runs them (inputs first).

    A node holds the tensors that really flowed into that call, so a branched model is followed along its
    branches, and a layer called twice is shown once per call.
    """
    by_depth = graph._nodes_by_depth
    nodes = [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]
             if node.operation is not None and not node.is_input]
    for node in nodes:
        if len(node.outputs) != 1:
            raise PipetraceError(f"trace_prediction: layer {node.operation.name} has {len(node.outputs)} outputs; "
                                 "pipetrace follows layers with one output")
    return nodes


def _values_by_tensor(graph, nodes, batch: np.ndarray) -> dict[int, np.ndarray]:
    """Every call's output for `batch`, computed by Keras in one pass, keyed by the id of its symbolic tensor."""
    import keras

    probe = keras.Model(graph.inputs[0], [node.outputs[0] for node in nodes])
    outputs = probe(batch, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    values = {id(graph.inputs[0]): batch.astype(np.float64)}
    for node, out in zip(nodes, outputs):
        values[id(node.outputs[0])] = keras.ops.convert_to_numpy(out).astype(np.float64)
    return values


def _inbound(node, values: dict[int, np.ndarray]):
    """The values that flowed into this call: its real inbound tensor(s), not the layer listed before it."""
    tensors = node.input_tensors
    return values[id(tensors[0])] if len(tensors) == 1 else [values[id(tensor)] for tensor in tensors]


def _class_names(class_names, kind, units: int) -> list[str]:
    from pipetrace.training.output_kind import SIGMOID, SIGMOID_LOGITS

    wanted = 2 if kind.kind in (SIGMOID, SIGMOID_LOGITS) and units == 1 else units
    if class_names is None:
        return [str(c) for c in range(wanted)]
    names = [str(name) for name in class_names]
    if kind.kind != VALUE and len(names) != wanted:
        raise PipetraceError(f"trace_prediction: {len(names)} class names for a model with {wanted} "
                             f"{'classes' if kind.kind != SIGMOID or units == 1 else 'labels'}")
    return names


def _checked_label(label, kind, units: int, names: list[str]):
    """The true label, checked against what this head predicts (a class, class 0 or 1, a value)."""
    from pipetrace.training.output_kind import PER_UNIT

    if label is None:
        return None
    if kind.kind == VALUE:
        value = np.asarray(label, dtype=np.float64).reshape(-1)
        if value.size != units:
            raise PipetraceError(f"trace_prediction: label= has {value.size} values; the model outputs {units}")
        return value
    if kind.kind in PER_UNIT and units > 1:
        raise PipetraceError("trace_prediction: label= is one class, but this model gives each of its "
                             f"{units} labels its own probability (multi-label); leave label out")
    if isinstance(label, (bool, np.bool_)) or not float(label).is_integer() or not 0 <= int(label) < len(names):
        raise PipetraceError(f"trace_prediction: label={label!r} is not one of the model's {len(names)} classes "
                             f"(0 to {len(names) - 1})")
    return int(label)


def _picture(x: np.ndarray) -> np.ndarray:
    """An input of 0..1 values shown as 0..255 pixels (rows; a flat input becomes one row)."""
    image = np.clip(x * 255, 0, 255).round().astype(int)
    return image.reshape(image.shape[0], -1) if image.ndim > 1 else image.reshape(1, -1)


def _before_activation(layer, inputs: np.ndarray) -> np.ndarray | None:
    """The layer's output with its activation switched off (weighted sums, logits, ...)."""
    import keras

    if type(layer).__name__ == "Softmax" and not isinstance(inputs, list):
        return inputs  # a Softmax layer (or keras.ops.softmax): what flowed in are the scores it turned into probabilities
    activation = getattr(layer, "activation", None)
    if activation is None or activation_name(activation) == "linear" or isinstance(inputs, list):
        return None
    try:
        layer.activation = keras.activations.linear
    except AttributeError:  # a recurrent layer's activation is its cell's, with no setter: no "before" view
        return None
    try:
        return keras.ops.convert_to_numpy(layer(inputs.astype(np.float32), training=False)).astype(np.float64)
    except Exception:  # a layer that cannot be called on its input alone: skip the "before" view
        return None
    finally:
        layer.activation = activation
