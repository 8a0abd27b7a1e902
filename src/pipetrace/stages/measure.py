"""Small measuring helpers shared by the stages."""

from __future__ import annotations

import numpy as np

from pipetrace.trace import ArrayInfo


def array_info(name: str, array: np.ndarray) -> ArrayInfo:
    """Shape, dtype and value range of `array`, as plain JSON numbers."""
    if array.size:
        low, high = float(array.min()), float(array.max())
    else:
        low = high = 0.0
    return ArrayInfo(name, [int(n) for n in array.shape], str(array.dtype), low, high)


def shape_text(shape: list[int] | tuple[int, ...]) -> str:
    """70000 x 28 x 28, the way the seed page writes shapes."""
    return " x ".join(f"{n}" for n in shape)
