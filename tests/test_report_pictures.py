"""The report's PNGs: NumPy's path writes the same bytes as the per-value path it speeds up."""

from __future__ import annotations

import random

import pytest

from pipetrace.views.html import pictures


def per_value(pixels, pixel_max=255.0):
    """png_uri with the NumPy path turned off."""
    fast = pictures._bytes_at_once
    pictures._bytes_at_once = lambda *args: None
    try:
        return pictures.png_uri(pixels, pixel_max)
    finally:
        pictures._bytes_at_once = fast


@pytest.mark.parametrize("kind", ["grey", "colour", "one channel", "four channels", "fractions"])
def test_same_png_as_value_by_value(kind):
    rng = random.Random(kind)
    value = lambda: rng.choice([rng.randint(0, 255), rng.uniform(-30, 300), 0.5, 1.5, 2.5, 127.5])  # noqa: E731
    for _ in range(40):
        h, w = rng.randint(1, 9), rng.randint(1, 9)
        pixel = {"grey": value, "fractions": rng.random, "colour": lambda: [value(), value(), value()],
                 "one channel": lambda: [value()], "four channels": lambda: [value() for _ in range(4)]}[kind]
        pixels = [[pixel() for _ in range(w)] for _ in range(h)]
        pixel_max = 1.0 if kind == "fractions" else rng.choice([255.0, 1.0, 16.0, 0])
        assert pictures.png_uri(pixels, pixel_max) == per_value(pixels, pixel_max)


def test_irregular_pixels_take_the_per_value_path():
    ragged = [[1, 2, 3], [4, 5]]
    assert pictures._bytes_at_once(ragged, 1.0, False) is None
    with pytest.raises(ValueError):  # a NaN pixel is refused as before, not drawn as some byte
        pictures.png_uri([[float("nan"), 1.0]])
