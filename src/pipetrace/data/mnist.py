"""MNIST from the copy bundled with pipetrace (or any folder with the four standard IDX files).

The bundled files are verified against `SHA256SUMS` on every load, so a damaged install
is reported instead of silently training on bad data. A folder of IDX files may carry a
`classes.txt` (one class name per line) whose names replace the digits, so Fashion-MNIST
says "T-shirt/top" where MNIST says "0".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pipetrace.data.dataset import Dataset, SourceFile, file_sha256
from pipetrace.data.budgets import check_class_count, check_data_bytes
from pipetrace.data.idx import idx_shape, read_idx
from pipetrace.data.names import check_class_name, readable
from pipetrace.errors import DataError

BUNDLED_DIR = Path(__file__).parent / "mnist"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
DIGITS = [str(d) for d in range(10)]
CLASSES_FILE = "classes.txt"
SPLIT = f"the official split: training images from {TRAIN_IMAGES}, test images from {TEST_IMAGES}"


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
    class_names = list(DIGITS) if bundled else _class_names(folder / CLASSES_FILE)
    promised = sum(math.prod(idx_shape(p)) for p in paths)  # from the headers, before any values are read
    check_data_bytes(promised, f"{readable(folder)}: the four IDX files together")
    files = []
    for path in paths:
        digest = file_sha256(path)
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
        _check_pair(images, labels, part, paths, len(class_names))
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{folder}: training images are {_shape(x_train.shape[1:])} but test images are "
            f"{_shape(x_test.shape[1:])}"
        )
    source = "bundled MNIST (verified against SHA256SUMS)" if bundled else f"IDX files in {readable(folder)}"
    name = "MNIST" if bundled else readable(folder.name)
    return Dataset(name, source, x_train, y_train, x_test, y_test, class_names, files,
                   pixel_max=255.0, split=SPLIT)


def _class_names(path: Path) -> list[str]:
    """The names in `classes.txt`, one a line, or the digits 0..9 when the folder has none."""
    if not path.is_file():
        return list(DIGITS)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be read as UTF-8 text ({error})") from error
    while lines and not lines[-1].strip():
        lines.pop()
    names = [line.strip() for line in lines]
    if len(names) < 2:
        raise DataError(f"{path}: lists {len(names)} class name(s); a classifier needs at least 2, one a line")
    if "" in names:
        raise DataError(f"{path}: line {names.index('') + 1} is empty; every class needs a name")
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise DataError(f"{path}: the class name {twice!r} appears twice")
    check_class_count(len(names), str(path))
    for name in names:
        check_class_name(name, readable(path))
    return names


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


def _check_pair(images: np.ndarray, labels: np.ndarray, part: str, paths: list[Path], classes: int = 10) -> None:
    image_file = paths[0] if part == "training" else paths[2]
    label_file = paths[1] if part == "training" else paths[3]
    if len(images) != len(labels):
        raise DataError(
            f"{label_file}: {len(labels)} {part} labels for {len(images)} images in {image_file.name}"
        )
    if len(labels) and labels.max() >= classes:
        bad = int(np.argmax(labels >= classes))
        named = "" if classes == 10 else f" ({CLASSES_FILE} names {classes} classes)"
        raise DataError(f"{label_file}: label {labels[bad]} at position {bad} is outside 0..{classes - 1}{named}")
    if len(images) == 0:
        raise DataError(f"{image_file}: holds no images")


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))
