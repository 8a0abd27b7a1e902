"""How much data pipetrace takes in, checked from headers before anything is decompressed or decoded.

A dataset is input from anyone: a 1 MB ``.npz`` can claim three 20000 x 20000 images and a 2 MB
gzip file gigabytes of pixels. Each reader works out the size from the file's header (an
``.npy`` header, an IDX header, an image's size in its header, a count of files) and asks here
before it allocates anything. Every budget is a named constant; the one a learner may
legitimately need more of (the data budget) can be raised with an environment variable, and the
message says how.

>>> check_data_bytes(55_000_000, "mnist")           # MNIST: 55 MB, well inside
>>> check_data_bytes(3 * 20000 * 20000, "x.npz: x_train")
Traceback (most recent call last):
...
pipetrace.errors.DataError: x.npz: x_train holds 1.2 GB (1,200,000,000 bytes) of data, over pipetrace's data budget of 1.07 GB; if you mean it, raise the budget: PIPETRACE_DATA_BUDGET_GB=2 pipetrace run ...
"""

from __future__ import annotations

import math
import os

from pipetrace.errors import DataError, SettingsError

DATA_BUDGET_BYTES = 1024**3  # arrays as stored on disk, all parts together (MNIST is 55 MB, CIFAR-10 184 MB)
DATA_BUDGET_ENV = "PIPETRACE_DATA_BUDGET_GB"  # raise the data budget, in GB (10^9 bytes)
MAX_IMAGE_SIDE = 4096  # pixels per side of an image given as an array (an .npz, IDX): a network input, not a photo
MAX_CLASSES = 1000  # classes in one dataset (ImageNet has 1000); the trace holds at most as many
MAX_IMAGE_FILES = 1_000_000  # files in an image folder, counted before any is opened
MAX_DECODED_IMAGE_BYTES = 128 * 2**20  # one image file decoded at full size (a 42-megapixel RGB photo), from its header


def data_budget() -> int:
    """The data budget in bytes: DATA_BUDGET_BYTES, or PIPETRACE_DATA_BUDGET_GB when set."""
    text = os.environ.get(DATA_BUDGET_ENV)
    if text is None:
        return DATA_BUDGET_BYTES
    try:
        gigabytes = float(text)
    except ValueError:
        gigabytes = math.nan
    if not math.isfinite(gigabytes) or gigabytes <= 0:
        raise SettingsError(f"{DATA_BUDGET_ENV}={text!r}: must be a positive number of gigabytes, such as 4")
    return int(gigabytes * 1e9)


def check_data_bytes(size: int, what: str) -> None:
    """Raise DataError when `size` bytes (worked out from a header) exceed the data budget; `what` starts the message."""
    budget = data_budget()
    if size > budget:
        suggestion = max(2, math.ceil(size / 1e9 * 1.1))
        raise DataError(
            f"{what} holds {_gb(size)} ({size:,} bytes) of data, over pipetrace's data budget of {_gb(budget)}; "
            f"if you mean it, raise the budget: {DATA_BUDGET_ENV}={suggestion} pipetrace run ..."
        )


def check_image_side(height: int, width: int, what: str) -> None:
    """Images given as arrays are network inputs: at most MAX_IMAGE_SIDE pixels a side."""
    if height > MAX_IMAGE_SIDE or width > MAX_IMAGE_SIDE:
        raise DataError(
            f"{what}: images of {height} x {width} pixels are larger than pipetrace takes "
            f"({MAX_IMAGE_SIDE} x {MAX_IMAGE_SIDE} at most); resize them first"
        )


def check_decoded_image(width: int, height: int, bands: int, band_bytes: int, what: str) -> None:
    """One image's pixels at full size, from its header, before Pillow decodes it (its pixel limit counts no bytes)."""
    size = width * height * bands * band_bytes
    if size > MAX_DECODED_IMAGE_BYTES:
        raise DataError(
            f"{what}: {width} x {height} pixels, {bands} band(s) of {8 * band_bytes} bits, decode to {_gb(size)}, "
            f"more than pipetrace decodes for one image ({_gb(MAX_DECODED_IMAGE_BYTES)}); make the image smaller"
        )


def check_class_count(count: int, what: str) -> None:
    if count > MAX_CLASSES:
        raise DataError(f"{what}: {count:,} classes, more than pipetrace takes ({MAX_CLASSES} at most)")


def _gb(size: int) -> str:
    return f"{size / 1e9:.3g} GB"
