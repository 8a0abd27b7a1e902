"""Stage 4, Train/Test split: the first part trains the network, the rest only tests it.

MNIST's own split is used (the first 60000 images are the original training files), so
test images come from writers the network never saw. Slicing makes views, not copies.
"""

from __future__ import annotations

import time

import numpy as np

from pipetrace.stages.measure import array_info, shape_text
from pipetrace.trace import Stage


def split(
    vectors: np.ndarray, labels: np.ndarray, train_count: int, sample: int, class_names: list[str],
    how: str = "the official split",
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Stage]:
    """Cut at `train_count`; count the labels on each side. `how` says how the dataset was split."""
    started = time.perf_counter()
    x_train, x_test = vectors[:train_count], vectors[train_count:]
    y_train, y_test = labels[:train_count], labels[train_count:]
    seconds = time.perf_counter() - started

    classes = len(class_names)
    train_counts = np.bincount(y_train, minlength=classes).tolist()
    test_counts = np.bincount(y_test, minlength=classes).tolist()
    label = int(y_test[sample])
    stage = Stage(
        number=4,
        name="Train/Test split",
        did=(
            f"Kept {how}; the first {len(x_train)} images train the network, "
            f"the last {len(x_test)} only test it"
        ),
        inputs=[array_info("vectors", vectors)],
        outputs=[array_info("training", x_train), array_info("test", x_test)],
        example=(
            f"Image {train_count + sample} became test image {sample}, a '{class_names[label]}' "
            f"({shape_text(x_test.shape[1:])} values); the test set has {test_counts[label]} of them, "
            f"the training set {train_counts[label]}"
        ),
        seconds=seconds,
        details={"train_counts": train_counts, "test_counts": test_counts, "class_names": class_names, "how": how},
    )
    return (x_train, y_train, x_test, y_test), stage
