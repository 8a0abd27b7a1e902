"""The numbers behind one prediction, recomputed from the trace's packed weights with NumPy.

The trace keeps every Dense layer's float32 kernel and bias (`Trace.weights`) and the input
values of the images it traced, so the forward pass, the loss and the gradient of any weight
can be worked out here, in float64 from the exact float32 values, without TensorFlow. `math`
prints them and the HTML report shows them; tests check them against Keras' GradientTape.

>>> numbers = arithmetic(trace)                   # doctest: +SKIP
>>> round(sum(numbers.probabilities), 6)          # doctest: +SKIP
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipetrace.errors import SettingsError
from pipetrace.trace import Prediction, Trace

EPSILON = 1e-7  # Keras clips probabilities to [1e-7, 1 - 1e-7] before the log
TERMS = 8  # the largest pixel x weight terms shown


def _erf(z):
    return np.vectorize(math.erf)(z)


ACTIVATIONS = {  # value and derivative of each activation Keras offers pipetrace's hidden layers
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "silu": (lambda z: z / (1 + np.exp(-z)), lambda z: (1 + np.exp(-z) + z * np.exp(-z)) / (1 + np.exp(-z)) ** 2),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(z)), lambda z: np.where(z > 0, 1.0, np.exp(z))),
    "selu": (lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z)),
             lambda z: 1.0507009873554805 * np.where(z > 0, 1.0, 1.6732632423543772 * np.exp(z))),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.2 * z), lambda z: np.where(z > 0, 1.0, 0.2)),
    "gelu": (lambda z: 0.5 * z * (1 + _erf(z / math.sqrt(2))),
             lambda z: 0.5 * (1 + _erf(z / math.sqrt(2))) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)),
}


@dataclass
class Term:
    """One input value times its weight, a piece of the neuron's weighted sum."""

    index: int
    x: float
    w: float

    @property
    def product(self) -> float:
        return self.x * self.w


@dataclass
class Arithmetic:
    """One prediction worked out: a hidden neuron, the logits, softmax, the loss, one weight's gradient."""

    sample: int
    label: int
    width: int  # image width, to name input index i as pixel (i // width, i % width)
    layer: str  # the first hidden layer's name
    activation: str
    neuron: int
    terms: list[Term]  # the largest |x * w| terms of the neuron's weighted sum
    term_count: int  # how many terms there are in all (the inputs)
    rest: float  # the sum of the other terms
    bias: float
    z: float  # the weighted sum, bias included
    a: float  # the neuron's output, activation(z)
    logits: list[float]
    shift: float  # the largest logit, subtracted before exp so nothing overflows
    exps: list[float]  # exp(logit - shift)
    total: float  # their sum
    probabilities: list[float]
    predicted: int
    loss: float  # -ln(probability of the true label)
    weight: tuple[int, int]  # (input index, neuron) of the first hidden layer's weight followed
    weight_value: float
    output_error: list[float]  # dL/dlogit = p - onehot(label)
    upstream: float  # dL/d(neuron output), the error flowing back to the neuron
    slope: float  # activation'(z)
    gradient: float  # dL/dw = x_i * slope * upstream
    learning_rate: float
    new_weight: float
    loss_after: float  # the loss with only that weight moved
    hidden_layers: int = 1
    notes: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # units of each Dense layer, the output layer last
    activations: list[str] = field(default_factory=list)  # each Dense layer's activation, the output layer last
    names: list[str] = field(default_factory=list)  # each Dense layer's name


def chosen_prediction(trace: Trace, sample: int | None = None) -> Prediction:
    """The followed test image, or another one the run traced (`--sample`)."""
    if sample is None or sample == trace.prediction.sample:
        return trace.prediction
    for p in trace.samples:
        if p.sample == sample:
            return p
    stored = ", ".join(str(p.sample) for p in trace.samples) or "none"
    raise SettingsError(f"--sample {sample}: this run traced test images {stored} only")


def input_values(trace: Trace, p: Prediction) -> np.ndarray:
    """The values the network read for this image (the trace's Input layer, else the stored pixels scaled)."""
    first = p.layers[0] if p.layers else None
    if first is not None and first.values:
        return np.asarray(first.values, dtype=np.float32).astype(np.float64)
    scale = trace.stages[1].details.get("scale", 255.0)
    return (np.asarray(p.image, dtype=np.float32) / np.float32(scale)).reshape(-1).astype(np.float64)


def dense_layers(trace: Trace) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(name, activation, kernel, bias) of each Dense layer, in float64 from the packed float32."""
    if not trace.weights:
        raise SettingsError(
            "this trace holds no Dense weights to compute with (its network has other layers, such as Conv2D, "
            "or it was written before traces kept weights); math shows the output side only"
        )
    return [(w.name, w.activation, w.kernel.unpack().astype(np.float64), w.bias.unpack().astype(np.float64))
            for w in trace.weights]


def forward(layers, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every layer's weighted sums z and outputs a (the last layer's a: the softmax probabilities)."""
    sums, outs, a = [], [], x
    for _, activation, kernel, bias in layers:
        z = a @ kernel + bias
        a = softmax(z) if activation == "softmax" else _activation(activation)[0](z)
        sums.append(z)
        outs.append(a)
    return sums, outs


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise SettingsError(f"math mode does not know the activation {name!r}")
    return ACTIVATIONS[name]


def cross_entropy(probabilities: np.ndarray, label: int) -> float:
    """-ln p(label), unclipped: what model.fit and model.evaluate compute for a softmax output (Keras' loss reads
    the scores before softmax then, keras/src/backend/tensorflow/nn.py `_get_logits`, so nothing is clipped)."""
    return float(-np.log(max(float(probabilities[label]), np.finfo(np.float64).tiny)))


def arithmetic(trace: Trace, sample: int | None = None) -> Arithmetic:
    """Work out one prediction of `trace` (the followed image, or `sample`) from its weights."""
    p = chosen_prediction(trace, sample)
    layers = dense_layers(trace)
    if len(layers) < 2 or layers[-1][1] not in ("softmax", "linear"):
        raise SettingsError("math mode follows networks of Dense layers ending in softmax (or logits)")
    x = input_values(trace, p)
    if x.size != layers[0][2].shape[0]:
        raise SettingsError(f"the first Dense layer takes {layers[0][2].shape[0]} values but the image has {x.size}")
    sums, outs = forward(layers, x)
    name, activation, kernel, bias = layers[0]
    z1 = sums[0]
    neuron = int(np.argmax(z1))  # the neuron with the largest weighted sum: it fired for this image
    products = x * kernel[:, neuron]
    order = np.argsort(-np.abs(products), kind="stable")
    shown = order[:TERMS]
    terms = [Term(int(i), float(x[i]), float(kernel[i, neuron])) for i in shown]
    rest = float(products.sum() - products[shown].sum())

    logits = sums[-1]
    probabilities = softmax(logits)
    shift = float(logits.max())
    exps = np.exp(logits - shift)
    label = p.label
    loss = cross_entropy(probabilities, label)

    # backpropagation: the error at the logits, carried back layer by layer to the first one
    delta = probabilities.copy()
    delta[label] -= 1.0
    output_error = delta.copy()
    for k in range(len(layers) - 1, 0, -1):
        upstream_all = layers[k][2] @ delta
        delta = upstream_all * _activation(layers[k - 1][1])[1](sums[k - 1])
    upstream = float(upstream_all[neuron])
    slope = float(_activation(activation)[1](z1[neuron : neuron + 1])[0])
    i = int(shown[0])
    gradient = float(x[i] * delta[neuron])
    rate = trace.settings.learning_rate
    new_weight = float(kernel[i, neuron] - rate * gradient)
    moved = [(n, a_, k.copy(), b) for n, a_, k, b in layers]
    moved[0][2][i, neuron] = new_weight
    loss_after = cross_entropy(forward(moved, x)[1][-1], label)
    width = trace.stages[2].details.get("width", 28) if trace.stages[2].name == "Flatten" else 0
    return Arithmetic(
        sample=p.sample, label=label, width=width, layer=name, activation=activation, neuron=neuron,
        terms=terms, term_count=int(x.size), rest=rest, bias=float(bias[neuron]), z=float(z1[neuron]),
        a=float(outs[0][neuron]), logits=logits.tolist(), shift=shift, exps=exps.tolist(), total=float(exps.sum()),
        probabilities=probabilities.tolist(), predicted=int(np.argmax(probabilities)), loss=loss,
        weight=(i, neuron), weight_value=float(kernel[i, neuron]), output_error=output_error.tolist(),
        upstream=upstream, slope=slope, gradient=gradient, learning_rate=rate, new_weight=new_weight,
        loss_after=loss_after, hidden_layers=len(layers) - 1,
        sizes=[int(k.shape[1]) for _, _, k, _ in layers], activations=[a_ for _, a_, _, _ in layers],
        names=[n for n, _, _, _ in layers],
    )
