"""What a Keras model's output *is*, decided in one place: probabilities, logits, a value, ...

Evaluation, the prediction probe, the callback's judgements and the views all ask this module
(or the kind it wrote into the trace, `Network.output` / `Prediction.output`), never a layer's
activation name themselves. The kind comes from the layer (or operation) that makes the model's
output and from the loss the model was compiled with:

- "softmax": probabilities of one class among many, made by the model (activation "softmax" by
  any name: "softmax", `tf.nn.softmax`, `keras.activations.softmax`, a `Softmax` or
  `Activation("softmax")` layer, `keras.ops.softmax` in a functional model);
- "logits": one score per class, no softmax in the model; the loss says `from_logits=True`
  (a categorical cross-entropy), or the model is not compiled and has several linear units;
- "sigmoid": a probability per unit made by the model (1 unit: probability of class 1; several:
  each label's own probability, a multi-label head);
- "sigmoid logits": a score per unit that a binary cross-entropy with `from_logits=True` turns
  into a probability;
- "value": a real value per unit (regression: a mean squared error, mean absolute error, ... loss,
  or an uncompiled model with one linear unit).

Anything else (a final log_softmax, a linear head under a loss that expects probabilities, an
activation pipetrace does not know) is `UNSUPPORTED`, with the reason in `OutputKind.why`.

>>> output_kind(model).kind          # doctest: +SKIP
'softmax'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

SOFTMAX, LOGITS, SIGMOID, SIGMOID_LOGITS, VALUE, UNSUPPORTED = (
    "softmax", "logits", "sigmoid", "sigmoid logits", "value", "unsupported")
ONE_OF_MANY = (SOFTMAX, LOGITS)  # a classifier whose classes exclude each other: ln(classes) and chance hold
PER_UNIT = (SIGMOID, SIGMOID_LOGITS)  # a probability per unit

CATEGORICAL_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy")
BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")
REGRESSION_LOSSES = (
    "mean_squared_error", "mse", "mean_absolute_error", "mae", "huber", "huber_loss", "log_cosh", "logcosh",
    "mean_squared_logarithmic_error", "msle", "mean_absolute_percentage_error", "mape",
)


@dataclass(frozen=True)
class OutputKind:
    """What the model's output is (`kind`, one of the names above), for how many units, and why not, if not."""

    kind: str
    units: int | None  # the size of the output's last axis (None: not known, a subclassed model)
    why: str = ""  # for UNSUPPORTED: what is not supported, in words

    @property
    def one_of_many(self) -> bool:
        """A softmax classifier (probabilities or logits): the only kind ln(classes) and chance speak of."""
        return self.kind in ONE_OF_MANY

    @property
    def classes(self) -> int | None:
        """The classes a softmax classifier chooses among (None for any other kind, or when not known)."""
        return self.units if self.one_of_many and self.units and self.units > 1 else None

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """The model's outputs as probabilities (softmax or sigmoid applied where the model leaves it to the loss)."""
        outputs = np.asarray(outputs, dtype=np.float64)
        if self.kind == LOGITS:
            shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
            return shifted / shifted.sum(axis=-1, keepdims=True)
        if self.kind == SIGMOID_LOGITS:
            return 1 / (1 + np.exp(-outputs))
        return outputs

    def class_losses(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Each example's sparse categorical cross-entropy as Keras computes it (a softmax classifier only).

        From logits: log-sum-exp minus the label's logit (no clipping); from probabilities: each row
        divided by its sum, clipped to [1e-7, 1 - 1e-7], then -log of the label's.
        """
        outputs = np.asarray(outputs, dtype=np.float64)
        rows = np.arange(len(labels))
        if self.kind == LOGITS:
            top = outputs.max(axis=1)
            return top + np.log(np.exp(outputs - top[:, None]).sum(axis=1)) - outputs[rows, labels]
        picked = outputs[rows, labels] / outputs.sum(axis=1)
        return -np.log(np.clip(picked, 1e-7, 1 - 1e-7))


def output_kind(model) -> OutputKind:
    """The kind of `model`'s output, from the operation that makes it and the loss it was compiled with."""
    outputs = _outputs(model)
    loss, from_logits = loss_facts(getattr(model, "loss", None))
    if outputs is None:  # a subclassed model: only its loss can say
        return _from_loss_alone(loss, from_logits)
    if len(outputs) != 1:
        return OutputKind(UNSUPPORTED, None, f"it has {len(outputs)} outputs (pipetrace traces models with one output)")
    units = outputs[0].shape[-1] if len(outputs[0].shape) > 1 else 1
    units = int(units) if units is not None else None
    activation = final_activation(outputs[0])
    return _decide(activation, units, loss, from_logits)


def _decide(activation: str, units: int | None, loss: str | None, from_logits: bool) -> OutputKind:
    if activation == "softmax":
        if loss in CATEGORICAL_LOSSES and from_logits:
            return OutputKind(UNSUPPORTED, units, "it ends in softmax but its loss takes logits (from_logits=True), "
                                                  "so Keras applies softmax twice")
        if loss in BINARY_LOSSES or loss in REGRESSION_LOSSES:
            return OutputKind(UNSUPPORTED, units, f"it ends in softmax but is trained with {loss}")
        return OutputKind(SOFTMAX, units)
    if activation == "sigmoid":
        if loss is not None and loss not in BINARY_LOSSES:
            return OutputKind(UNSUPPORTED, units, f"it ends in sigmoid but is trained with {loss}")
        return OutputKind(SIGMOID, units)
    if loss in REGRESSION_LOSSES:
        return OutputKind(VALUE, units)
    if activation not in KNOWN_ACTIVATIONS:
        return OutputKind(UNSUPPORTED, units, f"its last layer's activation {activation!r} is not one pipetrace knows")
    if loss in CATEGORICAL_LOSSES and from_logits:
        return OutputKind(LOGITS, units)
    if loss in BINARY_LOSSES and from_logits:
        return OutputKind(SIGMOID_LOGITS, units)
    if loss is None and activation == "linear":  # not compiled: several scores read as logits, one as a value
        return OutputKind(LOGITS if units and units > 1 else VALUE, units)
    if loss in CATEGORICAL_LOSSES or loss in BINARY_LOSSES:
        return OutputKind(UNSUPPORTED, units, f"its last layer has no softmax or sigmoid ({activation}) but its loss "
                                               f"{loss} expects probabilities (from_logits=False)")
    return OutputKind(UNSUPPORTED, units, f"its output ({activation}) under the loss {loss or '(none)'} is not one "
                                          "pipetrace can read")


def _from_loss_alone(loss: str | None, from_logits: bool) -> OutputKind:
    if loss in CATEGORICAL_LOSSES:
        return OutputKind(LOGITS if from_logits else SOFTMAX, None)
    if loss in BINARY_LOSSES:
        return OutputKind(SIGMOID_LOGITS if from_logits else SIGMOID, None)
    if loss in REGRESSION_LOSSES:
        return OutputKind(VALUE, None)
    return OutputKind(UNSUPPORTED, None, "it is a subclassed model whose output pipetrace cannot see")


KNOWN_ACTIVATIONS = ("linear", "relu", "tanh", "elu", "selu", "gelu", "silu", "swish", "leaky_relu", "softplus",
                     "relu6", "exponential")


def activation_name(function) -> str:
    """'softmax' for `keras.activations.softmax`, `tf.nn.softmax` (softmax_v2), ...; 'linear' for none."""
    if function is None:
        return "linear"
    name = getattr(function, "__name__", None) or type(function).__name__
    name = re.sub(r"_v\d+$", "", name.lower())
    return {"swish": "silu", "leakyrelu": "leaky_relu"}.get(name, name)


def final_activation(tensor) -> str:
    """The activation that makes `tensor`: a layer's activation, a Softmax/Activation layer, or an op's name."""
    history = getattr(tensor, "_keras_history", None)
    operation = history[0] if history else None
    if operation is None:
        return "linear"
    kind = type(operation).__name__
    if kind == "Softmax":  # keras.layers.Softmax, or keras.ops.softmax in a functional model
        return "softmax"
    if kind == "Sigmoid":
        return "sigmoid"
    if hasattr(operation, "activation"):
        return activation_name(operation.activation)
    if kind in ("Dropout", "Flatten", "Reshape", "Identity", "ActivityRegularization") and operation.input is not None:
        return final_activation(operation.input)  # passes its input's values on: the kind is its input's
    return "linear" if kind in ("BatchNormalization", "LayerNormalization", "Add", "Average") else kind.lower()


def loss_facts(loss) -> tuple[str | None, bool]:
    """(the loss's name in snake case, its from_logits) for a loss given as a string, a Loss or a function."""
    if loss is None or isinstance(loss, (list, tuple, dict)):
        return None, False
    if isinstance(loss, str):
        return loss.lower(), False
    config = {}
    try:
        config = loss.get_config() or {}
    except Exception:  # a plain function, or a Loss without a config
        pass
    name = getattr(loss, "__name__", None) or type(loss).__name__
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() if not name.islower() else name
    return name, bool(config.get("from_logits", False))


def _outputs(model):
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    return list(outputs) if outputs else None
