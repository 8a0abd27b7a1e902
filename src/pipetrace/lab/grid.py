"""The lab's grid of fixed test images: their pixels once per run, then every epoch the network's answer on each.

The grid is the first test images, as `Evaluation.gallery` keeps them (the same images in every run on the
same data), so a learner watches the same hundred change their answers. The pixels travel once, in the
`test_images` event, as base64 bytes; each `epoch` event then carries what the network now says for each
(measured here, on the worker, with the model's own output kind) and the confusion matrix of those images.

>>> grid = TestImageGrid.of(dataset, limit=600)          # doctest: +SKIP
>>> grid.event()["count"], sorted(grid.answers_from(probabilities))   # doctest: +SKIP
(100, ['confusion', 'counted', 'predicted', 'probabilities', 'right'])
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

from pipetrace.options import limited_test_count
from pipetrace.trace.model import GALLERY, GALLERY_VALUES


def rounded(values) -> list:
    """Numbers as events round them: 5 significant digits (the batch losses' rounding)."""
    return [float(f"{v:.5g}") for v in np.asarray(values, dtype=np.float64).ravel()]


@dataclass(frozen=True)
class TestImageGrid:
    __test__ = False  # not a pytest test class, whatever its name
    raw: np.ndarray  # the images as they came off disk (N x H x W [x C]), whole numbers 0..pixel_max
    labels: np.ndarray
    pixel_max: float
    class_names: list

    @classmethod
    def of(cls, data, limit: int | None) -> "TestImageGrid | None":
        """The first test images the run keeps (at most GALLERY, fewer when they are large), or None when their
        pixels are not bytes (the page gets them as bytes)."""
        kept = limited_test_count(limit, len(data.x_train), len(data.x_test))
        count = min(GALLERY, GALLERY_VALUES // max(1, data.x_test[0].size), kept)
        raw = np.asarray(data.x_test[:count])
        if count < 1 or float(data.pixel_max) > 255 or raw.min() < 0 or not np.array_equal(raw, np.round(raw)):
            return None
        return cls(raw, np.asarray(data.y_test[:count]).astype(np.int64), float(data.pixel_max), list(data.class_names))

    def scaled(self, input_shape: tuple) -> np.ndarray:
        """The images as the stages prepare them (0..1, float32), shaped as the network takes them."""
        return (self.raw.astype("float32") / self.pixel_max).reshape((len(self.raw), *input_shape))

    def event(self) -> dict:
        """The `test_images` event: the pixels once, row after row, image after image."""
        shape = self.raw.shape[1:]
        return {"count": len(self.raw), "height": int(shape[0]), "width": int(shape[1]),
                "channels": int(shape[2]) if len(shape) > 2 else 1, "pixel_max": self.pixel_max,
                "labels": self.labels.tolist(), "class_names": self.class_names,
                "pixels": base64.b64encode(self.raw.astype(np.uint8).tobytes()).decode("ascii")}

    def answers_from(self, probabilities: np.ndarray) -> dict:
        """What the network says for each image now, and the confusion matrix of these images (rows: the true class)."""
        predicted = probabilities.argmax(axis=1)
        classes = probabilities.shape[1]
        confusion = np.zeros((classes, classes), dtype=np.int64)
        np.add.at(confusion, (self.labels, predicted), 1)
        return {"predicted": predicted.tolist(), "probabilities": [rounded(p) for p in probabilities],
                "confusion": confusion.tolist(), "counted": len(self.labels), "right": int((predicted == self.labels).sum())}
