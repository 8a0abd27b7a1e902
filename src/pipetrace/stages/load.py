"""Stage 1, Load: the training and test images as one 70000 x 28 x 28 uint8 array.

The official split is kept in the order of the files (training first), so stage 4 can
split it again exactly where MNIST's authors did.
"""

from __future__ import annotations

import time

import numpy as np

from pipetrace.data import Dataset
from pipetrace.stages.measure import array_info, shape_text
from pipetrace.trace import Stage


def load(dataset: Dataset, sample: int, read_seconds: float) -> tuple[np.ndarray, np.ndarray, Stage]:
    """Join train and test images (and labels); describe the test image `sample` we follow.

    `read_seconds` is how long reading and checking the files took, counted in this stage.
    """
    started = time.perf_counter()
    images = np.concatenate([dataset.x_train, dataset.x_test])
    labels = np.concatenate([dataset.y_train, dataset.y_test]).astype(np.int64)
    seconds = time.perf_counter() - started + read_seconds

    position = len(dataset.x_train) + sample
    label = int(labels[position])
    out = array_info("images", images)
    files = ", ".join(f.name for f in dataset.files)
    stage = Stage(
        number=1,
        name="Load",
        did=f"Read {len(images)} labelled images from {dataset.source}",
        inputs=[],
        outputs=[out, array_info("labels", labels)],
        example=(
            f"Image {position} (test image {sample}) is a '{dataset.class_names[label]}': "
            f"{shape_text(images.shape[1:])} {out.dtype} pixels from {int(images[position].min())} "
            f"to {int(images[position].max())}"
        ),
        seconds=seconds,
        details={
            "files": [vars(f) for f in dataset.files],
            "file_names": files,
            "train_count": len(dataset.x_train),
            "test_count": len(dataset.x_test),
            "sample_position": position,
            "sample_label": label,
            "sample_image": images[position].tolist(),
            "pixel_max": float(dataset.pixel_max),
        },
    )
    return images, labels, stage
