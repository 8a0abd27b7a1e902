"""What each kind of layer did to one input, said with its own numbers.

One function per kind of layer the probe knows (Dense, Conv2D, pooling, Flatten, Dropout,
BatchNormalization, Rescaling, Reshape); any other layer is still described by its output
shape and value range.
"""

from __future__ import annotations

import numpy as np

from pipetrace.numbers import number, percent
from pipetrace.trace import LayerTrace
from pipetrace.training.output_kind import PER_UNIT, SIGMOID, SOFTMAX, VALUE, activation_name

TOP_UNITS = 5
MAX_VALUES = 4096  # a layer's values are kept in the trace up to this many numbers
MAX_MAPS = 16  # feature maps of a Conv2D kept as small images
NICE = {"relu": "ReLU", "softmax": "Softmax", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU", "elu": "ELU",
        "selu": "SELU", "silu": "SiLU", "leaky_relu": "LeakyReLU"}


def describe_input(x: np.ndarray) -> LayerTrace:
    flat = x.reshape(-1)
    ink = int(np.count_nonzero(flat))
    shape = f" ({' x '.join(map(str, x.shape))})" if x.ndim > 1 else ""
    return LayerTrace(
        name="Input",
        shape=[int(n) for n in x.shape],
        summary=(
            f"{flat.size} values{shape} from {number(flat.min(), 3)} to {number(flat.max(), 3)}, mean {number(flat.mean(), 3)}; "
            f"{ink} are ink (> 0), {flat.size - ink} are blank (0)"
        ),
        values=_values(flat),
        details={"min": float(flat.min()), "max": float(flat.max()), "mean": float(flat.mean()), "nonzero": ink},
        kind="Input",
    )


def describe_layer(layer, inputs: np.ndarray, out: np.ndarray, before: np.ndarray | None, is_output: bool,
                   hidden_number: int, class_names: list[str], output: str = "softmax") -> LayerTrace:
    """One layer's story; `hidden_number` is its position among the hidden Dense layers (0: not numbered)."""
    kind = type(layer).__name__
    activation = activation_name(layer.activation) if hasattr(layer, "activation") else ""
    if is_output:
        return _output(layer, kind, out, before, output, class_names)
    story = {
        "Dense": _dense, "Conv2D": _conv, "MaxPooling2D": _pool, "AveragePooling2D": _pool,
        "GlobalAveragePooling2D": _pool, "GlobalMaxPooling2D": _pool, "Flatten": _flatten, "Dropout": _dropout,
        "BatchNormalization": _batchnorm, "Rescaling": _rescaling, "Reshape": _reshape,
    }.get(kind, _other)
    trace = story(layer, inputs, out, before, activation)
    if kind == "Dense" and hidden_number:
        trace.name = trace.name.replace("Hidden:", f"Hidden {hidden_number}:")
    trace.kind, trace.layer = kind, layer.name
    return trace


def describe_outcome(output: LayerTrace, kind: str, label, class_names: list[str]) -> LayerTrace:
    """The last step: what the output layer's values say, in the words of its kind of head."""
    values = np.asarray(output.values, dtype=np.float64)
    if kind == VALUE:
        return _predicted_value(values, label)
    if kind in PER_UNIT and len(values) > 1:
        return _predicted_labels(values, class_names)
    if kind in PER_UNIT:
        predicted = int(values[0] >= 0.5)
        confidence = float(values[0] if predicted else 1 - values[0])
        said = (f"The probability of class 1 ('{class_names[1]}') is {number(values[0], 4)}, so the prediction is "
                f"'{class_names[predicted]}' (at 0.5 or above: class 1) with {percent(confidence, 2)} confidence")
        return describe_prediction(predicted, confidence, label, class_names, said)
    predicted = int(np.argmax(values))
    return describe_prediction(predicted, float(values[predicted]), label, class_names)


def describe_prediction(predicted: int, confidence: float, label: int | None, class_names: list[str],
                        said: str = "") -> LayerTrace:
    said = said or f"Predicted '{class_names[predicted]}' with {percent(confidence, 2)} confidence"
    if label is None:
        summary, correct = f"{said} (no true label given)", None
    else:
        correct = predicted == label
        summary = f"{said}; the true label is '{class_names[label]}': {'right' if correct else 'wrong'}"
    return LayerTrace(
        name="Prediction",
        shape=[1],
        summary=summary,
        values=[float(predicted)],
        details={"predicted": predicted, "label": label, "confidence": confidence, "correct": correct},
        kind="Prediction",
    )


def _predicted_labels(probabilities: np.ndarray, names: list[str]) -> LayerTrace:
    """A multi-label head: every label whose own probability is at least 0.5."""
    on = [i for i, p in enumerate(probabilities) if p >= 0.5]
    best = int(np.argmax(probabilities))
    listed = ", ".join(f"'{names[i]}' ({number(probabilities[i], 3)})" for i in on) or "none"
    summary = (f"Each of the {len(probabilities)} labels has its own probability (they need not sum to 1); labels at 0.5 "
               f"or above: {listed}; the most probable is '{names[best]}' ({number(probabilities[best], 4)})")
    return LayerTrace("Prediction", [len(on)], summary, [float(i) for i in on],
                      {"predicted": best, "label": None, "confidence": float(probabilities[best]), "correct": None,
                       "labels_on": on}, kind="Prediction")


def _predicted_value(values: np.ndarray, label) -> LayerTrace:
    """A regression head: the predicted value(s) and, with the true value, the error."""
    shown = number(values[0], 4) if values.size == 1 else "[" + ", ".join(number(v, 4) for v in values) + "]"
    details = {"predicted": 0, "label": None, "confidence": 0.0, "correct": None, "value": [float(v) for v in values]}
    if label is None:
        summary = f"Predicted value {shown} (no true value given)"
    else:
        error = values - label
        truth = number(label[0], 4) if label.size == 1 else "[" + ", ".join(number(v, 4) for v in label) + "]"
        said = number(error[0], 4) if error.size == 1 else "[" + ", ".join(number(v, 4) for v in error) + "]"
        summary = f"Predicted value {shown}; the true value is {truth}: error (predicted - true) {said}"
        details.update(true_value=[float(v) for v in label], error=[float(v) for v in error])
    return LayerTrace("Prediction", [int(values.size)], summary, [float(v) for v in values], details, kind="Prediction")


# ---- the kinds ------------------------------------------------------------------------


def _dense(layer, inputs, out, before, activation) -> LayerTrace:
    units = out.size
    title = f"Hidden: Dense + {NICE.get(activation, activation)}" if activation not in ("", "linear") else "Hidden: Dense"
    details = {"units": units}
    parts = []
    if before is not None:
        parts.append(f"Weighted sums ranged from {number(before.min(), 2)} to {number(before.max(), 2)}")
        details.update(pre_activation_min=float(before.min()), pre_activation_max=float(before.max()))
    fired = int(np.count_nonzero(out > 0))
    details["fired"] = fired
    order = np.argsort(-out, kind="stable")[:TOP_UNITS]
    details["top"] = [[int(i), float(out[i])] for i in order]
    strongest = ", ".join(f"#{i} ({number(out[i], 2)})" for i in order if activation != "relu" or out[i] > 0) or "none"
    if activation == "relu":
        parts.append(f"ReLU kept the {fired} positive {'one' if fired == 1 else 'ones'} ({percent(fired / units, 0)}) and set {units - fired} to 0. Strongest: {strongest}")
    else:
        parts.append(f"{NICE.get(activation, activation or 'no activation')} gave values from {number(out.min(), 2)} to {number(out.max(), 2)}; "
                     f"{fired} of {units} are above 0. Strongest: {strongest}")
    return LayerTrace(title, [units], "; ".join(parts), _values(out), details)


def _conv(layer, inputs, out, before, activation) -> LayerTrace:
    height, width, filters = out.shape
    kernel = "x".join(map(str, layer.kernel_size))
    positive = float((out > 0).mean())
    strength = out.reshape(-1, filters).mean(axis=0)
    strongest = int(np.argmax(strength))
    maps = [np.round(out[:, :, f], 4).tolist() for f in range(min(filters, MAX_MAPS))]
    summary = (
        f"{filters} filters of {kernel} slid over the {inputs.shape[0]} x {inputs.shape[1]} input: "
        f"{height} x {width} x {filters} values, {percent(positive, 0)} of them above 0"
        + (f" after {NICE.get(activation, activation)}" if activation not in ("", "linear") else "")
        + f"; filter #{strongest} responded most (mean {number(strength[strongest], 2)})"
    )
    details = {"filters": filters, "kernel": kernel, "positive_share": positive, "strongest_filter": strongest,
               "feature_maps": maps, "map_min": float(out.min()), "map_max": float(out.max())}
    weights = layer.get_weights()
    if weights and weights[0].ndim == 4 and weights[0].shape[2] == 1:  # a filter over one channel is a small picture
        details["filter_weights"] = [np.round(weights[0][:, :, 0, f], 4).tolist() for f in range(min(filters, MAX_MAPS))]
    if before is not None:
        details.update(pre_activation_min=float(before.min()), pre_activation_max=float(before.max()))
    name = f"Conv2D + {NICE.get(activation, activation)}" if activation not in ("", "linear") else "Conv2D"
    return LayerTrace(name, [height, width, filters], summary, _values(out), details)


def _pool(layer, inputs, out, before, activation) -> LayerTrace:
    kind = type(layer).__name__
    how = "largest" if "Max" in kind else "average"
    window = "x".join(map(str, getattr(layer, "pool_size", ()))) or "whole-map"
    summary = (
        f"Kept the {how} value of each {window} window: {_shape(inputs.shape)} -> {_shape(out.shape)} "
        f"({inputs.size} -> {out.size} values, from {number(out.min(), 2)} to {number(out.max(), 2)})"
    )
    return LayerTrace(kind, list(out.shape), summary, _values(out), {"window": window})


def _flatten(layer, inputs, out, before, activation) -> LayerTrace:
    summary = f"Laid the {_shape(inputs.shape)} values out as one row of {out.size}, unchanged"
    return LayerTrace("Flatten", [out.size], summary, _values(out), {"unchanged": bool(np.allclose(inputs.reshape(-1), out))})


def _dropout(layer, inputs, out, before, activation) -> LayerTrace:
    same = bool(np.array_equal(inputs.reshape(-1), out.reshape(-1)))
    summary = (
        f"Inactive at prediction time: passed all {out.size} values through unchanged; while training it set a "
        f"random {layer.rate:.0%} of them to 0 at each step (and scaled the rest up by {number(1 / (1 - layer.rate), 2)})"
    )
    return LayerTrace(f"Dropout({layer.rate:g})", list(out.shape), summary, _values(out), {"rate": float(layer.rate), "inactive": same})


def _batchnorm(layer, inputs, out, before, activation) -> LayerTrace:
    summary = (
        f"Normalized each channel with the mean and variance learned during training: values from "
        f"{number(inputs.min(), 2)}..{number(inputs.max(), 2)} became {number(out.min(), 2)}..{number(out.max(), 2)}"
    )
    return LayerTrace("BatchNormalization", list(out.shape), summary, _values(out), {"in_min": float(inputs.min()), "in_max": float(inputs.max())})


def _rescaling(layer, inputs, out, before, activation) -> LayerTrace:
    summary = f"Multiplied by {layer.scale:g} and added {layer.offset:g}: {inputs.min():.3g}..{inputs.max():.3g} became {out.min():.3g}..{out.max():.3g}"
    return LayerTrace("Rescaling", list(out.shape), summary, _values(out), {"scale": float(layer.scale), "offset": float(layer.offset)})


def _reshape(layer, inputs, out, before, activation) -> LayerTrace:
    summary = f"Rearranged {_shape(inputs.shape)} into {_shape(out.shape)}, the same {out.size} values"
    return LayerTrace("Reshape", list(out.shape), summary, _values(out), {})


def _other(layer, inputs, out, before, activation) -> LayerTrace:
    kind = type(layer).__name__
    summary = f"{kind} (a layer pipetrace shows by its numbers): output {_shape(out.shape)}, values from {out.min():.3g} to {out.max():.3g}"
    return LayerTrace(kind, list(out.shape), summary, _values(out), {"min": float(out.min()), "max": float(out.max())})


def _output(layer, kind, out, before, output, class_names) -> LayerTrace:
    """The output layer, in the words of its kind of head (see pipetrace.training.output_kind)."""
    if output == VALUE:
        summary = (f"The model outputs {'a real value' if out.size == 1 else f'{out.size} real values'} "
                   f"(a regression head, no activation): {', '.join(number(v, 4) for v in out.reshape(-1))}")
        trace = LayerTrace(f"Output: {kind}", [out.size], summary, [float(v) for v in out.reshape(-1)], {})
    elif output in PER_UNIT:
        trace = _sigmoid_output(kind, out, before, output, class_names)
    else:
        trace = _softmax_output(kind, out, before, output, class_names)
    trace.kind, trace.layer = kind, layer.name
    return trace


def _softmax_output(kind, out, before, output, class_names) -> LayerTrace:
    if output == SOFTMAX:
        probabilities, logits = out, before
        how = f"Softmax turned {out.size} scores"
    else:  # the model outputs logits: softmax them here so the trace can show probabilities
        logits = out
        shifted = np.exp(out - out.max())
        probabilities = shifted / shifted.sum()
        how = f"The model outputs {out.size} scores (logits); softmax, applied here, turned them"
    best = int(np.argmax(probabilities))
    scores = "" if logits is None else f" (from {number(logits.min(), 2)} to {number(logits.max(), 2)})"
    title = "Output: Softmax" if kind == "Softmax" else f"Output: {kind} + Softmax"
    summary = (
        f"{how}{scores} into probabilities that sum to {number(probabilities.sum(), 6)}; the largest, "
        f"{number(probabilities[best], 4)}, is for '{class_names[best]}'"
    )
    details = {"sum": float(probabilities.sum())}
    if logits is not None:
        details["logits"] = [float(v) for v in logits]
    return LayerTrace(title, [out.size], summary, [float(v) for v in probabilities], details)


def _sigmoid_output(kind, out, before, output, class_names) -> LayerTrace:
    if output == SIGMOID:
        probabilities, scores = out, before
        how = "Sigmoid turned"
    else:  # the loss applies the sigmoid: apply it here so the trace shows probabilities
        probabilities, scores = 1 / (1 + np.exp(-out)), out
        how = "The model outputs scores (logits); sigmoid, applied here, turned"
    if scores is None:
        raw = ""
    elif out.size == 1:
        raw = f" ({number(scores[0], 3)})"
    else:
        raw = f" (from {number(scores.min(), 2)} to {number(scores.max(), 2)})"
    if out.size == 1:
        summary = (f"{how} one score{raw} into the probability of class 1 ('{class_names[1]}'): "
                   f"{number(probabilities[0], 4)} (class 0, '{class_names[0]}': {number(1 - probabilities[0], 4)})")
    else:
        summary = (f"{how} each of {out.size} scores{raw} into the probability of its own label, each from 0 to 1 "
                   f"(they need not sum to 1; here {number(probabilities.sum(), 4)})")
    details = {} if scores is None else {"logits": [float(v) for v in scores]}
    title = "Output: Sigmoid" if kind == "Activation" else f"Output: {kind} + Sigmoid"
    return LayerTrace(title, [out.size], summary, [float(v) for v in probabilities], details)


def _values(array: np.ndarray) -> list[float]:
    flat = array.reshape(-1)
    return [float(v) for v in flat] if flat.size <= MAX_VALUES else []


def _shape(shape) -> str:
    return " x ".join(map(str, shape))
