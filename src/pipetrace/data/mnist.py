"""MNIST from the copy bundled with pipetrace (or any folder with the four standard IDX files).

The bundled files are verified against `SHA256SUMS` on every load, so a damaged install
is reported instead of silently training on bad data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from pipetrace.data.dataset import Dataset, SourceFile
from pipetrace.data.idx import read_idx
from pipetrace.errors import DataError

BUNDLED_DIR = Path(__file__).parent / "mnist"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
DIGITS = [str(d) for d in range(10)]


def load_mnist(data_dir: str | Path | None = None) -> Dataset:
    """Load MNIST-format data: the bundled copy by default, or the IDX files in `data_dir`.

    A folder may hold the files gzip-compressed (``*.gz``, as distributed) or plain.

    >>> d = load_mnist()
    >>> d.x_train.shape, d.x_test.shape, d.y_train[:10].tolist()
    ((60000, 28, 28), (10000, 28, 28), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    """
    bundled = data_dir is None
    folder = BUNDLED_DIR if bundled else Path(data_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder")
    sums = _read_sums(folder / "SHA256SUMS") if bundled else {}
    paths = [_find(folder, name) for name in FILES]
    files = []
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if bundled and sums.get(path.name) != digest:
            raise DataError(
                f"{path}: checksum mismatch (sha256 {digest[:12]}..., SHA256SUMS expects "
                f"{sums.get(path.name, 'no entry')[:12]}...): the bundled data is damaged; reinstall pipetrace"
            )
        files.append(SourceFile(path.name, digest, verified=bundled))

    x_train, y_train, x_test, y_test = (
        read_idx(p, expect_dims=3 if "images" in p.name else 1) for p in paths
    )
    for images, labels, part in ((x_train, y_train, "training"), (x_test, y_test, "test")):
        _check_pair(images, labels, part, paths)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{folder}: training images are {_shape(x_train.shape[1:])} but test images are "
            f"{_shape(x_test.shape[1:])}"
        )
    source = "bundled MNIST (verified against SHA256SUMS)" if bundled else f"IDX files in {folder}"
    name = "MNIST" if bundled else folder.name
    return Dataset(name, source, x_train, y_train, x_test, y_test, list(DIGITS), files)


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder / name}: file not found (expected the four standard MNIST file names)")


def _read_sums(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise DataError(f"{path}: checksum list not found; the bundled data is incomplete")
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest
    return sums


def _check_pair(images: np.ndarray, labels: np.ndarray, part: str, paths: list[Path]) -> None:
    image_file = paths[0] if part == "training" else paths[2]
    label_file = paths[1] if part == "training" else paths[3]
    if len(images) != len(labels):
        raise DataError(
            f"{label_file}: {len(labels)} {part} labels for {len(images)} images in {image_file.name}"
        )
    if len(labels) and labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise DataError(f"{label_file}: label {labels[bad]} at position {bad} is outside 0..9")
    if len(images) == 0:
        raise DataError(f"{image_file}: holds no images")


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))
