"""What may truly be said about a run's activation, optimizer and layers: small closed tables.

Every mode, the quiz and the glossary take their wording about the network from here, keyed
by the activation, optimizer or layer kind the trace recorded, so a tanh network is never
described as ReLU and an SGD run never gets Adam's update. A kind missing from a table has no
entry: the caller then says nothing rather than something wrong.

Formulas follow Keras 3 (keras/src/optimizers/*.py, keras/src/losses): Adam's bias correction is
folded into its step size, epsilon is added to sqrt(v); RMSprop adds epsilon inside the root;
SGD with momentum keeps a velocity u (Keras' `velocity = momentum * velocity - lr * g; w = w + velocity`).

>>> activation_words("tanh").zero_below
False
>>> optimizer_words("SGD").update[0]
'w <- w - rate * g'
>>> optimizer_words("SGD", momentum=0.9).update[1]
'w <- w + u'
>>> optimizer_words("Lion") is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipetrace.trace import LayerInfo, Trace
from pipetrace.training.diagnoses import DIAGNOSES, Diagnosis, health_diagnoses  # noqa: F401  (the diagnoses' table)

EPSILON = 1e-7  # Keras' cross-entropy clips probabilities to [EPSILON, 1 - EPSILON] before the log


@dataclass(frozen=True)
class ActivationWords:
    """How one activation treats a neuron's weighted sum z, in words and as a formula."""

    nice: str  # ReLU, tanh, ...
    formula: str  # h = ... of z
    negatives: str  # what it does to a negative weighted sum
    zero_below: bool  # True only when every negative sum becomes exactly 0 (then "fired" means output > 0)
    positive_iff_sum_positive: bool  # output > 0 exactly when z > 0 (false for sigmoid: always > 0)
    passes: str  # the mental model of a hidden neuron with this activation


ACTIVATIONS = {
    "relu": ActivationWords("ReLU", "max(0, z)", "set to 0", True, True,
                            "a detector: a weighted vote of its inputs, passed on only when the vote is positive "
                            "(ReLU sets every negative sum to 0: the neuron is silent)"),
    "tanh": ActivationWords("tanh", "tanh(z)", "squeezed into -1..0 (tanh keeps their sign)", False, True,
                            "a weighted vote of its inputs squeezed into -1..1: strong votes for or against saturate "
                            "near 1 or -1, and negative outputs are passed on as negative evidence"),
    "sigmoid": ActivationWords("sigmoid", "1 / (1 + e^-z)", "squeezed into 0..0.5", False, False,
                               "a weighted vote of its inputs squeezed into 0..1, like a soft yes/no; every output is "
                               "above 0, so no neuron is ever silent"),
    "linear": ActivationWords("no activation", "z", "passed on unchanged", False, True,
                              "a weighted sum passed on as it is: without a non-linear activation, stacked layers "
                              "can only compute one linear function of the pixels"),
    "leaky_relu": ActivationWords("LeakyReLU", "z if z > 0 else 0.2 * z", "multiplied by 0.2", False, True,
                                  "a detector: a positive sum passes unchanged, a negative one still leaks through at a fifth of its size"),
    "elu": ActivationWords("ELU", "z if z > 0 else e^z - 1", "bent towards -1 (e^z - 1)", False, True,
                           "a detector: a positive sum passes unchanged, a negative one gives a smooth output down to -1"),
    "selu": ActivationWords("SELU", "1.0507 * (z if z > 0 else 1.6733 * (e^z - 1))", "bent towards -1.758", False, True,
                            "a scaled ELU: positive sums grow by 1.0507, negative ones bend down towards -1.758"),
    "gelu": ActivationWords("GELU", "z * Phi(z) (Phi: the normal distribution's CDF)", "damped towards 0 (small negative outputs)",
                            False, True, "a smooth detector: large positive sums pass, negative ones are damped towards 0"),
    "silu": ActivationWords("SiLU", "z * sigmoid(z)", "damped towards 0 (small negative outputs)", False, True,
                            "a smooth detector: large positive sums pass, negative ones are damped towards 0"),
}


@dataclass(frozen=True)
class OptimizerWords:
    """One optimizer as Keras 3 runs it with its defaults: its update of a weight w from its gradient g."""

    name: str
    update: tuple[str, ...]  # the update, one formula a line (g: this batch's gradient dL/dw)
    step: str  # how the size of each step is set, in one sentence (typical rates: training.observations.TYPICAL_RATES)


OPTIMIZERS = {
    "SGD": OptimizerWords("SGD", ("w <- w - rate * g",),
                          "every step moves each weight by the learning rate times its gradient: a steep slope, a big step"),
    "Adam": OptimizerWords("Adam", (
        "m <- 0.9 * m + 0.1 * g            (running mean of the gradient)",
        "v <- 0.999 * v + 0.001 * g^2      (running mean of its square)",
        "w <- w - rate * sqrt(1 - 0.999^t) / (1 - 0.9^t) * m / (sqrt(v) + 1e-7)   (t: the step number, from 1)",
    ), "each weight's step is the learning rate times its running mean gradient divided by the gradient's "
       "running size, so steps stay about the learning rate whatever the slope"),
    "AdamW": OptimizerWords("AdamW", (
        "w <- w - rate * 0.004 * w          (weight decay, before the step)",
        "m <- 0.9 * m + 0.1 * g;  v <- 0.999 * v + 0.001 * g^2",
        "w <- w - rate * sqrt(1 - 0.999^t) / (1 - 0.9^t) * m / (sqrt(v) + 1e-7)",
    ), "Adam's steps (the running mean gradient divided by its running size), plus a small pull of every "
       "weight towards 0"),
    "RMSprop": OptimizerWords("RMSprop", (
        "v <- 0.9 * v + 0.1 * g^2          (running mean of the squared gradient)",
        "w <- w - rate * g / sqrt(v + 1e-7)",
    ), "each weight's step is the learning rate times its gradient divided by the gradient's running size"),
    "Adagrad": OptimizerWords("Adagrad", (
        "a <- a + g^2                      (every squared gradient so far, starting from 0.1)",
        "w <- w - rate * g / sqrt(a + 1e-7)",
    ), "each weight's step is the learning rate times its gradient divided by the root of all its squared "
       "gradients so far, so steps shrink as training goes on"),
}


def sgd_with_momentum(momentum: float) -> OptimizerWords:
    """Keras' SGD with momentum (not Nesterov, keras/src/optimizers/sgd.py): a velocity that keeps part of the last step.

    Along a steady slope the velocity settles where u = momentum * u - rate * g, at -rate * g / (1 - momentum):
    steps 1 / (1 - momentum) times plain SGD's (10 for 0.9).
    """
    times = 1 / (1 - momentum)
    shown = f"{times:.3g}" if times < 1000 else f"{times:,.0f}"  # 10, 1.43, 1,000: never 1e+03
    return OptimizerWords(f"SGD with momentum {momentum:g}", (
        f"u <- {momentum:g} * u - rate * g       (the velocity, 0 before the first step)",
        "w <- w + u",
    ), f"each step is {momentum:g} of the previous step minus the learning rate times the gradient, so along a "
       f"steady slope the steps build up to about {shown} times plain SGD's (1 / (1 - {momentum:g}))")


@dataclass(frozen=True)
class ShapingWords:
    """What the stage that shapes images for the network does, as a mental model."""

    model: str
    why: str


SHAPING = {
    "Flatten": ShapingWords("Reading the image like a book, row after row, into one long line.",
                            "A Dense layer multiplies a vector by a matrix, so each image must be one row of numbers."),
    "Reshape": ShapingWords("Adding a channel axis: each pixel becomes a list of channel values (one, for grey), "
                            "and the rows and columns stay where they were.",
                            "A Conv2D layer slides small filters over height x width x channels, so each image keeps its "
                            "grid and gains the channel axis."),
    "Reshape (kept)": ShapingWords("Keeping each image as it is: rows of pixels, height x width.",
                                   "This model reads height x width itself (a Flatten or a recurrent layer first), so the "
                                   "image needs no channel axis and no change."),
}


def shaping_key(stage) -> str:
    """SHAPING's key for the stage: a Reshape that kept the images as they were has words of its own."""
    kept = stage.name == "Reshape" and stage.inputs and stage.outputs and stage.inputs[0].shape == stage.outputs[0].shape
    return "Reshape (kept)" if kept and len(stage.outputs[0].shape) == 3 else stage.name


def layer_role(layer: LayerInfo) -> str | None:
    """What one layer does, with its own configuration, or None for a kind the table does not know."""
    c = layer.config
    act = activation_words(layer.activation)
    then = f", then {act.nice}" if act is not None and layer.activation not in ("", "linear") else ""
    if layer.activation == "softmax":
        then = ", then softmax turns the scores into probabilities"
    if layer.kind == "Dense":
        return f"each of its {layer.units} units takes a weighted sum of all {layer.input_size:,} inputs plus a bias{then}"
    if layer.kind == "Conv2D" and "kernel_size" in c:
        k = "x".join(map(str, c["kernel_size"]))
        return (f"slides {layer.units} filters of {k} over its input; each output is one filter's weighted sum over one "
                f"window{then}, so a pattern is found wherever it is in the image")
    if layer.kind in ("MaxPooling2D", "AveragePooling2D") and "pool_size" in c:
        how = "largest" if layer.kind.startswith("Max") else "average"
        return f"keeps the {how} value of each {'x'.join(map(str, c['pool_size']))} window: the maps shrink, nothing is learned"
    if layer.kind == "Flatten":
        return f"lays its {' x '.join(map(str, layer.input_shape))} input out as one row of {layer.units:,} values, unchanged"
    if layer.kind == "Dropout" and "rate" in c:
        return (f"while training only, sets a random {c['rate']:.0%} of its inputs to 0 at each step and scales the rest "
                f"by 1 / (1 - {c['rate']:g}); when predicting it passes everything through")
    if layer.kind == "Reshape":
        return f"rearranges its input into {' x '.join(map(str, layer.output_shape))}, the same values"
    if layer.kind == "BatchNormalization":
        return "normalizes each channel with the mean and variance learned in training, then scales and shifts it"
    if layer.kind == "Rescaling":
        return "multiplies its input by a constant and adds an offset"
    return None


def activation_words(name: str) -> ActivationWords | None:
    """The words for a Keras activation name ('' means none), or None for one the table does not know."""
    return ACTIVATIONS.get(name or "linear")


def optimizer_words(name: str, momentum: float = 0.0) -> OptimizerWords | None:
    """The words for an optimizer as the trace names it (Network.optimizer), or None when unknown."""
    if name == "SGD" and momentum:
        return sgd_with_momentum(momentum)
    return OPTIMIZERS.get(name)


def run_optimizer(trace: Trace) -> OptimizerWords | None:
    """The optimizer this run trained with, with the momentum its network recorded (0.0 in older traces)."""
    return optimizer_words(trace.network.optimizer, trace.network.momentum)


def hidden_layers(trace: Trace) -> list[LayerInfo]:
    """The Dense layers before the output layer, in order."""
    dense = trace.network.dense_layers
    return dense[:-1]


def hidden_activation(trace: Trace) -> str | None:
    """The first hidden Dense layer's activation as the network recorded it ('linear' for none), or None."""
    hidden = hidden_layers(trace)
    if not hidden:
        return None
    return hidden[0].activation or "linear"


def all_hidden_activations(trace: Trace) -> set[str]:
    """Every activation of the network's learning layers before the output (Dense and Conv2D)."""
    layers = trace.network.layers
    return {(layer.activation or "linear") for layer in layers[:-1] if layer.kind in ("Dense", "Conv2D")}


def chance(trace: Trace) -> float:
    """The accuracy of guessing one class for everything: 1 / number of classes."""
    from pipetrace.training.observations import chance as chance_of

    return chance_of(len(trace.dataset["class_names"]))


def untrained_loss(classes: int) -> float:
    """The loss of a network that spreads its probability evenly over the classes: -ln(1 / classes) = ln(classes)."""
    return math.log(classes)
