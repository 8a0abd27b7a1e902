"""The trained network on the whole test set: accuracy, loss, per-class accuracy, confusions.

>>> ev = evaluate(model, x_test, y_test, classes=10)   # doctest: +SKIP
>>> ev.confusion[7][2]     # test 7s the network called 2   # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np

from pipetrace.errors import PipetraceError
from pipetrace.trace import Evaluation, Example
from pipetrace.trace.model import GALLERY, GALLERY_VALUES

EPSILON = 1e-7  # Keras clips probabilities the same way before taking the log
SHOWN_MISTAKES = 24


def evaluate(model, x_test: np.ndarray, y_test: np.ndarray, classes: int, batch_size: int = 2000,
             images: np.ndarray | None = None) -> Evaluation:
    """Predict every test image once and count what was right and what was confused."""
    from pipetrace.training.output_kind import output_kind

    kind = output_kind(model)
    if not kind.one_of_many:
        raise PipetraceError(f"evaluate: {model.name} is not a softmax classifier (its output is {kind.kind}); "
                             "the confusion matrix and per-class accuracy are a classifier's")
    outputs = model_outputs(model, x_test, batch_size)
    return evaluation_from_probabilities(kind.probabilities(outputs), y_test, classes, images,
                                         losses=kind.class_losses(outputs, y_test))


def predict_all(model, x_test: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """The N x classes probabilities for every test image, as the model's output kind makes them.

    Probabilities from a softmax (any spelling of it, see `output_kind`) are taken as Keras gives
    them, never softmaxed twice; logits get softmax applied here.
    """
    from pipetrace.training.output_kind import output_kind

    return output_kind(model).probabilities(model_outputs(model, x_test, batch_size))


def model_outputs(model, x: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """The model's own outputs for every row of `x` (float64), as `model.predict` gives them.

    The model is called directly, a few thousand images at a time (`model.predict` would
    first trace a prediction function: a quarter of a second for nothing).
    """
    import keras

    return np.concatenate([
        keras.ops.convert_to_numpy(model(x[start : start + batch_size], training=False))
        for start in range(0, len(x), batch_size)
    ]).astype(np.float64)


def evaluation_from_probabilities(probabilities: np.ndarray, y_test: np.ndarray, classes: int,
                                  images: np.ndarray | None = None, losses: np.ndarray | None = None) -> Evaluation:
    """The same numbers from an N x classes array of probabilities (testable without Keras).

    With the raw test `images`, the shown mistakes carry their pictures too, and so do the first GALLERY test
    images (for the report's galleries).
    `losses`, each example's loss as Keras computes it (`OutputKind.class_losses`: from logits
    where the model outputs logits), gives the test loss; without them it is computed from the
    probabilities, clipped as Keras clips them.
    """
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y_test, predicted), 1)
    totals = confusion.sum(axis=1)
    per_class = [float(confusion[c, c] / totals[c]) if totals[c] else 0.0 for c in range(classes)]
    if losses is None:
        losses = -np.log(np.clip(probabilities[np.arange(len(y_test)), y_test], EPSILON, 1 - EPSILON))
    loss = float(np.mean(losses))
    shown = np.flatnonzero(predicted != y_test)[:SHOWN_MISTAKES]
    mistakes, gallery = [], []
    if images is not None:
        mistakes = [
            Example(int(i), int(y_test[i]), int(predicted[i]), float(probabilities[i, predicted[i]]), images[i].tolist())
            for i in shown
        ]
        gallery = [
            Example(i, int(y_test[i]), int(predicted[i]), float(probabilities[i, predicted[i]]), images[i].tolist())
            for i in range(min(GALLERY, GALLERY_VALUES // max(1, images[0].size), len(y_test)))
        ]
    return Evaluation(
        test_loss=loss if math.isfinite(loss) else None,
        test_accuracy=float((predicted == y_test).mean()),
        confusion=confusion.tolist(),
        per_class_accuracy=per_class,
        misclassified=[int(i) for i in shown],
        mistakes=mistakes,
        gallery=gallery,
        predicted_counts=np.bincount(predicted, minlength=classes).tolist(),
    )
