"""What a run will cost, estimated from its settings before anything is trained, and the budgets it must fit.

One rule for the command line (`pipetrace.run`, once the data's shape is known) and the lab (at POST,
before a run is queued): the network's parameter count decides the size of `trace.json` (its weights
are stored as base64 float32: 16/3 bytes a parameter), of `model.keras` (weights and the optimizer's
two slots: 12 bytes a parameter) and most of the training memory; the time is the network's
arithmetic (6 operations a parameter an image: forward and backward) at a measured rate.

A trace over the 64 MB any trace may be (`MAX_TRACE_BYTES`) could not be read back by any view,
so such a network is refused everywhere; the lab also refuses runs longer than its time budget.

>>> cost = estimate([128], inputs=784, classes=10, train_images=60_000, epochs=5)
>>> cost.parameters
101770
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipetrace.errors import SettingsError
from pipetrace.trace.fields import MAX_TRACE_BYTES

TRACE_BYTES_PER_PARAMETER = 16 / 3  # float32 in base64 (trace.fields): 4 bytes -> 5.33 characters
TRACE_REST_BYTES = 4 * 1024**2  # everything else in a trace (stages, evaluation, samples): ~2 MB for MNIST, kept with room
MODEL_BYTES_PER_PARAMETER = 12  # model.keras: weights + Adam's two slots (measured: 12.0 for 203,530 to 814,090 parameters)
MEMORY_BYTES_PER_PARAMETER = 4 + 4 + 8 + 3 * TRACE_BYTES_PER_PARAMETER  # weights, gradients, optimizer, trace text (~3 copies)
OPERATIONS_PER_PARAMETER_IMAGE = 6  # a dense layer's forward (2) and backward (4) multiply-adds, per weight per image
OPERATIONS_PER_SECOND = 4e9  # measured on a 2-core machine: 8 x 4096 units took ~15 hours for 5 epochs of MNIST
MAX_PARAMETERS = int((MAX_TRACE_BYTES - TRACE_REST_BYTES) / TRACE_BYTES_PER_PARAMETER)  # ~11.8 million


@dataclass(frozen=True)
class Cost:
    """A run's estimated cost."""

    parameters: int
    trace_bytes: int
    model_bytes: int
    memory_bytes: int
    seconds: float

    def text(self) -> str:
        return (f"{self.parameters:,} parameters: trace.json about {_size(self.trace_bytes)}, model.keras about "
                f"{_size(self.model_bytes)}, about {_size(self.memory_bytes)} of memory to train, about "
                f"{_duration(self.seconds)} of training")


def dense_parameters(hidden: list[int], inputs: int, classes: int) -> int:
    """Weights and biases of Dense layers `inputs` -> hidden... -> `classes`."""
    sizes = [inputs, *hidden, classes]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def estimate(hidden: list[int], *, inputs: int, classes: int, train_images: int, epochs: int,
             batch_size: int = 32, conv: bool = False, shape: tuple[int, ...] = ()) -> Cost:
    """The cost of training this network (`conv`: the small CNN of training.network on images of `shape`)."""
    parameters = dense_parameters(hidden, inputs, classes)
    if conv:
        height, width, channels = (*shape, 1)[:3] if len(shape) >= 2 else (int(math.isqrt(inputs)),) * 2 + (1,)
        flat = (height // 4) * (width // 4) * 32
        parameters = (9 * channels * 16 + 16) + (9 * 16 * 32 + 32) + dense_parameters(hidden, flat, classes)
    activations = 4 * 3 * batch_size * (sum(hidden) + classes + inputs)
    return Cost(
        parameters=parameters,
        trace_bytes=int(parameters * TRACE_BYTES_PER_PARAMETER) + TRACE_REST_BYTES,
        model_bytes=parameters * MODEL_BYTES_PER_PARAMETER,
        memory_bytes=int(parameters * MEMORY_BYTES_PER_PARAMETER) + activations,
        seconds=OPERATIONS_PER_PARAMETER_IMAGE * parameters * train_images * epochs / OPERATIONS_PER_SECOND,
    )


def check_cost(cost: Cost, max_seconds: float | None = None) -> Cost:
    """Raise SettingsError (naming --hidden, or --epochs for time) when the run cannot fit; return the cost.

    >>> check_cost(estimate([4096] * 8, inputs=784, classes=10, train_images=60_000, epochs=5))
    Traceback (most recent call last):
    ...
    pipetrace.errors.SettingsError: --hidden: this network has 120,725,514 parameters: trace.json about 648 MB, model.keras about 1.4 GB, about 3.9 GB of memory to train, about 15.1 hours of training; its trace would be over the 64 MB a trace may be (at most 11,796,480 parameters)
    """
    if cost.parameters > MAX_PARAMETERS:
        raise SettingsError(f"--hidden: this network has {cost.text()}; its trace would be over the "
                            f"{MAX_TRACE_BYTES // 2**20} MB a trace may be (at most {MAX_PARAMETERS:,} parameters)")
    if max_seconds is not None and cost.seconds > max_seconds:
        raise SettingsError(f"--epochs: this run has {cost.text()}, over this lab's {_duration(max_seconds)} "
                            "(fewer epochs, images or units; whoever starts the lab can change that with --max-hours)")
    return cost


def _size(count: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.2g} {unit}" if count / scale < 10 else f"{count / scale:.0f} {unit}"
    return f"{count:.0f} bytes"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"
