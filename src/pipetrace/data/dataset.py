"""The raw dataset as it comes off disk, before any stage has touched it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class SourceFile:
    """One file the data came from, with the checksum it was verified against (if any)."""

    name: str
    sha256: str
    verified: bool


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read in chunks (a large file is never held in memory whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Dataset:
    """Raw images and integer labels 0..K-1, split into a training and a test part.

    Images are N x H x W (grayscale) or N x H x W x C (colour, C = 3), as they came off disk
    (uint8 wherever the data allows). `pixel_max` is the raw value that means "full ink", so
    the preprocessing stage can scale any source to 0..1; `split` says in one sentence how the
    two parts were made, because a dataset without an official split gets one from us.

    >>> import numpy as np
    >>> d = Dataset("toy", "made up", np.zeros((6, 2, 2), np.uint8), np.arange(6) % 2,
    ...             np.zeros((2, 2, 2), np.uint8), np.array([0, 1]), ["even", "odd"])
    >>> d.image_shape, d.num_classes, d.pixel_max, d.channels
    ((2, 2), 2, 255.0, 1)
    """

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    files: list[SourceFile] = field(default_factory=list)
    pixel_max: float = 255.0  # the raw value of full ink: 255 for uint8 images, 16 for scikit-learn's digits
    split: str = "the official split"  # how the training and test parts were made, in one sentence

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def channels(self) -> int:
        """1 for grayscale (N x H x W) images, else the size of the last axis (3 for RGB)."""
        return 1 if self.x_train.ndim == 3 else int(self.x_train.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
