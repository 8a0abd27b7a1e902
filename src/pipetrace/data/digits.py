"""The 1,797 handwritten digits of 8 x 8 pixels with values 0..16 (UCI, as shipped by scikit-learn): small data, no download.

pipetrace bundles the table (``data/digits/digits.csv.gz``, 57 KB: 64 pixels and the label on
each line; origin and licences in ``data/digits/README.md``) and verifies it against
``SHA256SUMS`` on every load, like the bundled MNIST. The data has no official split, so it
gets a seeded, stratified one.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from pipetrace.data.dataset import Dataset, SourceFile
from pipetrace.data.split import describe_split, stratified_split
from pipetrace.errors import DataError

BUNDLED_DIR = Path(__file__).parent / "digits"
DIGITS_FILE = "digits.csv.gz"
PIXEL_MAX = 16  # the digits were made by counting ink in 4 x 4 blocks of a 32 x 32 bitmap: 0..16
PIXELS = 64


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """The handwritten digits as a Dataset (uint8 pixels 0..16, pixel_max 16), split by class.

    >>> d = load_digits()
    >>> d.x_train.shape, d.x_test.shape, d.pixel_max, d.class_names[:3]
    ((1438, 8, 8), (359, 8, 8), 16.0, ['0', '1', '2'])
    """
    images, labels, file = _read()
    train, test = stratified_split(labels, test_fraction, seed, "digits")
    return Dataset(
        name="digits",
        source="the UCI handwritten digits as shipped by scikit-learn (bundled, verified against SHA256SUMS): "
               "1,797 images of 8 x 8 pixels, values 0..16",
        x_train=images[train], y_train=labels[train],
        x_test=images[test], y_test=labels[test],
        class_names=[str(digit) for digit in range(10)],
        files=[file],
        pixel_max=float(PIXEL_MAX),
        split=describe_split(test_fraction, seed),
    )


def _read() -> tuple[np.ndarray, np.ndarray, SourceFile]:
    path = BUNDLED_DIR / DIGITS_FILE
    try:
        raw = path.read_bytes()
        expected = _expected_digest(BUNDLED_DIR / "SHA256SUMS")
    except OSError as error:
        raise DataError(f"{error.filename}: cannot be read ({error.strerror}); the bundled data is incomplete: "
                        "reinstall pipetrace") from error
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise DataError(f"{path}: checksum mismatch (sha256 {digest[:12]}..., SHA256SUMS expects "
                        f"{expected[:12]}...): the bundled data is damaged; reinstall pipetrace")
    table = np.loadtxt(gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",", dtype=np.uint8)
    images, labels = table[:, :PIXELS].reshape(-1, 8, 8), table[:, PIXELS].astype(np.int64)
    return images, labels, SourceFile(DIGITS_FILE, digest, verified=True)


def _expected_digest(sums: Path) -> str:
    for line in sums.read_text().splitlines():
        if line.strip() and line.split(maxsplit=1)[1].strip().lstrip("*") == DIGITS_FILE:
            return line.split()[0]
    return "no entry"
