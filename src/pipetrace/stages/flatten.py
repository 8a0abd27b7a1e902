"""Stage 3, Flatten: each 28 x 28 image becomes one row of 784 numbers.

A Dense layer takes a vector, so each image is read row by row: pixel (r, c) lands at
index 28 * r + c. `reshape` does this without copying a single value.
"""

from __future__ import annotations

import time

import numpy as np

from pipetrace.stages.measure import array_info, shape_text
from pipetrace.trace import Stage


def flatten(images: np.ndarray, sample_position: int, pixel: tuple[int, int]) -> tuple[np.ndarray, Stage]:
    """Reshape N x H x W to N x (H*W); show where `pixel` of the followed image lands."""
    started = time.perf_counter()
    vectors = images.reshape(len(images), -1)
    seconds = time.perf_counter() - started

    height, width = images.shape[1], images.shape[2]
    row, col = pixel
    index = width * row + col
    value = float(vectors[sample_position, index])
    stage = Stage(
        number=3,
        name="Flatten",
        did=f"Laid each {shape_text(images.shape[1:])} image out as one row of {vectors.shape[1]} values",
        inputs=[array_info("images", images)],
        outputs=[array_info("vectors", vectors)],
        example=(
            f"Pixel (row {row}, column {col}) of image {sample_position} lands at index "
            f"{width} x {row} + {col} = {index} (value {value:.4g})"
        ),
        seconds=seconds,
        details={
            "height": height,
            "width": width,
            "row": row,
            "col": col,
            "index": index,
            "value": value,
            "shares_memory": bool(np.shares_memory(images, vectors)),
        },
    )
    return vectors, stage
