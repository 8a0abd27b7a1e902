"""Stage 2, Preprocessing: pixel values 0..255 (uint8) become 0.0..1.0 (float32).

Any source is scaled by its own "full ink" value (255 for 8-bit images, 16 for
scikit-learn's digits), so the network always sees 0..1.

Small inputs keep the first weighted sums small, which is what makes Adam's first steps
well-behaved. float32 is what Keras computes in, so no later copy is needed.
"""

from __future__ import annotations

import time

import numpy as np

from pipetrace.stages.measure import array_info
from pipetrace.trace import Stage


def preprocess(images: np.ndarray, sample_position: int, pixel_max: float = 255.0) -> tuple[np.ndarray, Stage]:
    """Return images / pixel_max as float32, showing real pixels of the followed image before and after."""
    started = time.perf_counter()
    scaled = images.astype(np.float32)
    np.divide(scaled, np.float32(pixel_max), out=scaled)
    seconds = time.perf_counter() - started

    raw, new = images[sample_position], scaled[sample_position]
    colour = raw.ndim == 3
    if colour:  # pick pixels by their brightest channel, show the first (red) channel
        raw, new = raw[..., 0], new[..., 0]
    examples = []
    for row, col in _example_pixels(raw):
        examples.append({"row": row, "col": col, "before": _number(raw[row, col]), "after": float(new[row, col])})
    pairs = ", ".join(f"{e['before']} -> {_decimal(e['after'])}" for e in examples)
    top = _number(np.float64(pixel_max))
    stage = Stage(
        number=2,
        name="Preprocessing",
        did=f"Divided every pixel by {top}: {images.dtype} 0..{top} became float32 0.0..1.0",
        inputs=[array_info("images", images)],
        outputs=[array_info("images", scaled)],
        example=f"Pixels of image {sample_position}{' (red channel)' if colour else ''}: {pairs}",
        seconds=seconds,
        details={"scale": float(pixel_max), "examples": examples},
    )
    return scaled, stage


def _number(value) -> int | float:
    """Whole raw values stay whole (137, not 137.0)."""
    value = float(value)
    return int(value) if value.is_integer() else value


def _decimal(value: float) -> str:
    """0.0, 1.0, 0.5059: at least one decimal, at most four."""
    text = f"{value:.4f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _example_pixels(image: np.ndarray) -> list[tuple[int, int]]:
    """The first background pixel, the first brightest one, and the one nearest mid-grey."""
    darkest = np.argwhere(image == image.min())[0]
    brightest = np.argwhere(image == image.max())[0]
    ink = np.argwhere((image > image.min()) & (image < image.max()))
    chosen = [darkest, brightest]
    if len(ink):
        values = image[ink[:, 0], ink[:, 1]].astype(int)
        chosen.append(ink[int(np.argmin(np.abs(values - 128)))])
    return [(int(r), int(c)) for r, c in chosen]
