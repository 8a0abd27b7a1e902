"""Short reprs for the Trace and its big parts: what `print(trace)`, `>>> trace` and a notebook's text show.

A dataclass's own repr prints every field, and a Trace holds 530 KB of base64 weights, images and
per-layer values: a repr of 800 KB that nobody reads and every saved notebook keeps. These say what a
part is in one line of a few hundred characters at most; the data itself stays one attribute away.

>>> trace                                                   # doctest: +SKIP
Trace(mnist, Input(784) -> Dense(128, relu) -> Dense(10, softmax), 5 epochs, test accuracy 98.1%)
"""

from __future__ import annotations

import math

from pipetrace.numbers import number, percent

LONGEST_NAME = 60  # a dataset given as a path, a layer summary: cut here, with an ellipsis
LONGEST_ARCHITECTURE = 160


def clip(text: str, longest: int = LONGEST_NAME) -> str:
    """`text`, or its start and an ellipsis when longer than `longest` characters."""
    return text if len(text) <= longest else text[: longest - 1] + "…"


def architecture(network) -> str:
    """Input(784) -> Dense(128, relu) -> Dense(10, softmax); a long one keeps its ends: A -> B -> … (12 layers) -> Y -> Z."""
    text = network.architecture
    if len(text) <= LONGEST_ARCHITECTURE:
        return text
    parts = text.split(" -> ")
    return " -> ".join([*parts[:2], f"… ({len(network.layers)} layers)", *parts[-2:]])


def epochs_done(training) -> str:
    """`5 epochs`, or `diverged after 2 of 5 epochs`."""
    done, planned = len(training.epochs), training.epochs_planned
    if training.status == "completed" and done == planned:
        return f"{done} epoch{'s' if done != 1 else ''}"
    return f"{training.status} after {done} of {planned} epoch{'s' if planned != 1 else ''}"


def trace_repr(trace) -> str:
    return (f"Trace({clip(str(trace.dataset.get('name', '?')))}, {architecture(trace.network)}, "
            f"{epochs_done(trace.training)}, test accuracy {percent(trace.evaluation.test_accuracy)})")


def training_repr(training) -> str:
    parts = [epochs_done(training)]
    losses = [e.loss for e in training.epochs]
    if losses:
        parts.append("loss " + (number(losses[0], 4) if len(losses) == 1 else f"{number(losses[0], 4)} -> {number(losses[-1], 4)}"))
        last = training.epochs[-1].test_accuracy
        if last is not None:
            parts.append(f"test accuracy {percent(last)}")
    parts.append(f"{training.seconds:.1f} s")
    return f"Training({', '.join(parts)})"


def epoch_repr(epoch) -> str:
    parts = [str(epoch.epoch), f"loss {number(epoch.loss, 4)}"]
    if epoch.accuracy is not None:
        parts.append(f"accuracy {percent(epoch.accuracy)}")
    if epoch.test_accuracy is not None:
        parts += [f"test loss {number(epoch.test_loss, 4)}", f"test accuracy {percent(epoch.test_accuracy)}"]
    parts.append(f"{epoch.seconds:.1f} s")
    return f"Epoch({', '.join(parts)})"


def stage_repr(stage) -> str:
    outputs = ", ".join(f"{a.name} {_shape(a.shape)} {a.dtype}" for a in stage.outputs[:4])
    more = f" and {len(stage.outputs) - 4} more" if len(stage.outputs) > 4 else ""
    return f"Stage({stage.number} {stage.name}: {outputs}{more}, {stage.seconds:.2f} s)"


def layer_info_repr(layer) -> str:
    label = layer.label or f"{layer.kind}({layer.units}, {layer.activation})"
    return f"LayerInfo({clip(label)}, {layer.params:,} parameters)"


def network_repr(network) -> str:
    return f"Network({architecture(network)}, {network.total_params:,} parameters, {network.optimizer_label})"


def evaluation_repr(evaluation) -> str:
    loss = f", test loss {number(evaluation.test_loss, 4)}" if evaluation.test_loss is not None else ""
    return (f"Evaluation(test accuracy {percent(evaluation.test_accuracy)}{loss}, {len(evaluation.confusion)} classes, "
            f"{len(evaluation.mistakes)} mistakes kept)")


def example_repr(example) -> str:
    return (f"Example(test image {example.index}, label {example.label}, predicted {example.predicted} "
            f"with {percent(example.confidence)})")


def packed_array_repr(packed) -> str:
    return f"PackedArray(float32 {_shape(packed.shape) or 'scalar'}, {4 * math.prod(packed.shape):,} bytes)"


def layer_trace_repr(layer) -> str:
    return f"LayerTrace({clip(layer.name)}, {_shape(layer.shape)}, {clip(layer.summary, 100)!r})"


def prediction_repr(prediction) -> str:
    outcome = prediction.layers[-1].details if prediction.layers else {}
    correct = outcome.get("correct", prediction.correct)
    verdict = "no true label given" if correct is None else "right" if correct else "wrong"
    if getattr(prediction, "output", "softmax") == "value":  # a regression: a value, not a class
        values = ", ".join(f"{value:.4g}" for value in outcome.get("value", []))
        return f"Prediction(test image {prediction.sample}, value {values}, {len(prediction.layers)} layers)"
    if "labels_on" in outcome:  # a multi-label head: every label at 0.5 or above
        return (f"Prediction(test image {prediction.sample}, labels at 0.5 or above {outcome['labels_on']}, "
                f"{len(prediction.layers)} layers)")
    label = "" if correct is None else f"label {prediction.label}, "
    return (f"Prediction(test image {prediction.sample}, {label}predicted {prediction.predicted} "
            f"with {percent(prediction.confidence)}, {verdict}, {len(prediction.layers)} layers)")


def _shape(shape) -> str:
    return " x ".join(map(str, shape))
