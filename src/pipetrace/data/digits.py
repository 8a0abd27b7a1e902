"""scikit-learn's 1,797 handwritten digits, 8 x 8 pixels with values 0..16: small data with no download.

The data ships inside scikit-learn as ``sklearn/datasets/data/digits.csv.gz`` (64 pixels and the
label on each line). We read that file directly, which takes milliseconds, instead of importing
``sklearn.datasets`` (seconds); if a scikit-learn release moves the file, `load_digits` is used.
The data has no official split, so it gets a seeded, stratified one.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from pipetrace.data.dataset import Dataset, SourceFile
from pipetrace.data.split import describe_split, stratified_split
from pipetrace.errors import DataError

DIGITS_FILE = "digits.csv.gz"
PIXEL_MAX = 16  # the digits were made by counting ink in 4 x 4 blocks of a 32 x 32 bitmap: 0..16


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """The scikit-learn digits as a Dataset (uint8 pixels 0..16, pixel_max 16), split by class.

    >>> d = load_digits()
    >>> d.x_train.shape, d.x_test.shape, d.pixel_max, d.class_names[:3]
    ((1438, 8, 8), (359, 8, 8), 16.0, ['0', '1', '2'])
    """
    images, labels, file = _read()
    train, test = stratified_split(labels, test_fraction, seed, "scikit-learn digits")
    return Dataset(
        name="digits",
        source="scikit-learn's bundled handwritten digits (sklearn.datasets.load_digits): "
               "1,797 images of 8 x 8 pixels, values 0..16",
        x_train=images[train], y_train=labels[train],
        x_test=images[test], y_test=labels[test],
        class_names=[str(digit) for digit in range(10)],
        files=[file] if file else [],
        pixel_max=float(PIXEL_MAX),
        split=describe_split(test_fraction, seed),
    )


def _read() -> tuple[np.ndarray, np.ndarray, SourceFile | None]:
    path = _bundled_file()
    if path is not None:
        raw = path.read_bytes()
        table = np.loadtxt(gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",", dtype=np.uint8)
        file = SourceFile(f"sklearn/datasets/data/{DIGITS_FILE}", hashlib.sha256(raw).hexdigest(), verified=False)
        return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64), file
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:
        raise DataError("the digits dataset needs scikit-learn: pip install scikit-learn") from error
    bunch = sklearn_digits()
    return bunch.images.astype(np.uint8), bunch.target.astype(np.int64), None


def _bundled_file() -> Path | None:
    """The csv inside the installed scikit-learn, found without importing it (None if absent)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "datasets" / "data" / DIGITS_FILE
        if path.is_file():
            return path
    return None
