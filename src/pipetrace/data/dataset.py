"""The raw dataset as it comes off disk, before any stage has touched it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SourceFile:
    """One file the data came from, with the checksum it was verified against (if any)."""

    name: str
    sha256: str
    verified: bool


@dataclass
class Dataset:
    """Images (N x H x W, uint8) and integer labels, in their official train/test parts.

    >>> import numpy as np
    >>> d = Dataset("toy", "made up", np.zeros((6, 2, 2), np.uint8), np.arange(6) % 2,
    ...             np.zeros((2, 2, 2), np.uint8), np.array([0, 1]), ["even", "odd"])
    >>> d.image_shape, d.num_classes
    ((2, 2), 2)
    """

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    files: list[SourceFile] = field(default_factory=list)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
