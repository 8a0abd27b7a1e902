"""Which units of the first hidden layer gave 0 for every test image a trace followed through the network.

A ReLU unit whose weighted sum is negative outputs exactly 0 and passes back no gradient; one that is 0
on every image has stopped learning for good (a 'dead' unit). A trace holds the first hidden layer's
outputs for the followed test image and the other images it traced (`Trace.samples`), so this is
measured on those images only, and says how many they are.

>>> silent = silent_units(trace)                    # doctest: +SKIP
>>> (len(silent.units), silent.of, silent.images)    # doctest: +SKIP
(12, 128, 15)
"""

from __future__ import annotations

from dataclasses import dataclass

from pipetrace.trace import Trace

ZERO_FLOOR = ("relu", "relu6")  # activations whose output is exactly 0 for every negative weighted sum


@dataclass(frozen=True)
class SilentUnits:
    units: frozenset[int]  # the silent units' indices (0-based)
    of: int  # the layer's units
    images: int  # the test images measured
    activation: str


def silent_units(trace: Trace) -> SilentUnits | None:
    """The first hidden layer's silent units on the traced test images; None when the trace cannot tell (no
    weights or outputs for it, or an activation that is not 0 for negative sums, such as tanh)."""
    if not trace.weights or trace.weights[0].activation not in ZERO_FLOOR:
        return None
    shape = trace.weights[0].kernel.shape
    units = shape[1] if len(shape) == 2 else 0
    outputs = [values for values in (_first_hidden(p, units) for p in [trace.prediction, *trace.samples])
               if values is not None]
    if not units or not outputs:
        return None
    silent = set(range(units))
    for values in outputs:
        silent -= {j for j, v in enumerate(values) if not (_number(v) and v <= 0)}
    return SilentUnits(frozenset(silent), units, len(outputs), trace.weights[0].activation)


def _first_hidden(prediction, units: int) -> list | None:
    layer = prediction.first_hidden if prediction is not None else None
    values = getattr(layer, "values", None)
    return values if isinstance(values, list) and len(values) == units else None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
