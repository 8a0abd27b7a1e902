"""Stage 3 takes the shape the network reads: flat rows for Dense networks, images for CNNs.

A convolutional network reads height x width x channels, so for it the stage adds the
channel axis (28 x 28 -> 28 x 28 x 1) and leaves flattening to the network's own Flatten
layer, where the prediction trace shows it.
"""

from __future__ import annotations

import time

import numpy as np

from pipetrace.stages.flatten import flatten
from pipetrace.stages.measure import array_info, shape_text
from pipetrace.trace import Stage


def shape_for_model(images: np.ndarray, sample_position: int, pixel: tuple[int, int], images_in: bool,
                    channels: bool = True) -> tuple[np.ndarray, Stage]:
    """Flatten (the model takes rows), add a channel axis (the model takes images), or neither.

    `channels=False`: the model reads height x width (a Flatten first, as TensorFlow's beginner
    quickstart model does), so grey images pass as they are.
    """
    if not images_in:
        return flatten(images, sample_position, pixel)
    if not channels and images.ndim == 3:
        return keep_images(images, sample_position, pixel)
    return add_channel_axis(images, sample_position, pixel)


def keep_images(images: np.ndarray, sample_position: int, pixel: tuple[int, int]) -> tuple[np.ndarray, Stage]:
    """N x H x W, unchanged: the model reads each image as height x width and flattens it itself."""
    started = time.perf_counter()
    row, col = pixel
    value = float(images[sample_position, row, col])
    stage = Stage(
        number=3,
        name="Reshape",
        did=f"Kept each {shape_text(images.shape[1:])} image as it is: the model reads height x width, with no channel axis",
        inputs=[array_info("images", images)],
        outputs=[array_info("images", images)],
        example=f"Pixel (row {row}, column {col}) of image {sample_position} stays at [{row}, {col}] (value {value:.4g})",
        seconds=time.perf_counter() - started,
        details={"height": int(images.shape[1]), "width": int(images.shape[2]), "channels": 1,
                 "row": row, "col": col, "value": value, "shares_memory": True},
    )
    return images, stage


def add_channel_axis(images: np.ndarray, sample_position: int, pixel: tuple[int, int]) -> tuple[np.ndarray, Stage]:
    """N x H x W -> N x H x W x 1 (colour images already have their channels and pass as they are)."""
    started = time.perf_counter()
    shaped = images[..., np.newaxis] if images.ndim == 3 else images
    seconds = time.perf_counter() - started
    row, col = pixel
    value = float(shaped[sample_position, row, col, 0])
    channels = shaped.shape[3]
    did = (
        f"Added a channel axis: each {shape_text(images.shape[1:])} image became {shape_text(shaped.shape[1:])}, "
        f"the height x width x channels a Conv2D layer reads; the network flattens later, in its own Flatten layer"
        if images.ndim == 3 else
        f"Kept each {shape_text(images.shape[1:])} image whole ({channels} channels), as a Conv2D layer reads it; "
        f"the network flattens later, in its own Flatten layer"
    )
    stage = Stage(
        number=3,
        name="Reshape",
        did=did,
        inputs=[array_info("images", images)],
        outputs=[array_info("images", shaped)],
        example=f"Pixel (row {row}, column {col}) of image {sample_position} is now at [{row}, {col}, 0] (value {value:.4g})",
        seconds=seconds,
        details={"height": int(shaped.shape[1]), "width": int(shaped.shape[2]), "channels": int(channels),
                 "row": row, "col": col, "value": value, "shares_memory": bool(np.shares_memory(images, shaped))},
    )
    return shaped, stage
