"""Stage 3, Flatten: each image becomes one row of numbers (28 x 28 -> 784).

A Dense layer takes a vector, so each image is read row by row: pixel (r, c) lands at
index 28 * r + c (in a colour image each pixel brings its C channels, so it starts at
(W * r + c) * C). `reshape` does this without copying a single value.
"""

from __future__ import annotations

import time

import numpy as np

from pipetrace.stages.measure import array_info, shape_text
from pipetrace.trace import Stage


def flatten(images: np.ndarray, sample_position: int, pixel: tuple[int, int]) -> tuple[np.ndarray, Stage]:
    """Reshape N x H x W (x C) to N x (H*W*C); show where `pixel` of the followed image lands."""
    started = time.perf_counter()
    vectors = images.reshape(len(images), -1)
    seconds = time.perf_counter() - started

    height, width = images.shape[1], images.shape[2]
    channels = images.shape[3] if images.ndim == 4 else 1
    row, col = pixel
    index = (width * row + col) * channels
    value = float(vectors[sample_position, index])
    formula = f"{width} x {row} + {col}" if channels == 1 else f"({width} x {row} + {col}) x {channels}"
    stage = Stage(
        number=3,
        name="Flatten",
        did=f"Laid each {shape_text(images.shape[1:])} image out as one row of {vectors.shape[1]} values",
        inputs=[array_info("images", images)],
        outputs=[array_info("vectors", vectors)],
        example=(
            f"Pixel (row {row}, column {col}) of image {sample_position} lands at index "
            f"{formula} = {index} (value {value:.4g})"
        ),
        seconds=seconds,
        details={
            "height": height,
            "width": width,
            "channels": channels,
            "row": row,
            "col": col,
            "index": index,
            "value": value,
            "shares_memory": bool(np.shares_memory(images, vectors)),
        },
    )
    return vectors, stage
