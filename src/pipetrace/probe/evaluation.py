"""The trained network on the whole test set: accuracy, loss, per-class accuracy, confusions.

>>> ev = evaluate(model, x_test, y_test, classes=10)   # doctest: +SKIP
>>> ev.confusion[7][2]     # test 7s the network called 2   # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np

from pipetrace.trace import Evaluation

EPSILON = 1e-7  # Keras clips probabilities the same way before taking the log
SHOWN_MISTAKES = 24


def evaluate(model, x_test: np.ndarray, y_test: np.ndarray, classes: int, batch_size: int = 1024) -> Evaluation:
    """Predict every test image once and count what was right and what was confused."""
    probabilities = model.predict(x_test, batch_size=batch_size, verbose=0)
    return evaluation_from_probabilities(probabilities, y_test, classes)


def evaluation_from_probabilities(probabilities: np.ndarray, y_test: np.ndarray, classes: int) -> Evaluation:
    """The same numbers from an N x classes array of probabilities (testable without Keras)."""
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y_test, predicted), 1)
    totals = confusion.sum(axis=1)
    per_class = [float(confusion[c, c] / totals[c]) if totals[c] else 0.0 for c in range(classes)]
    picked = np.clip(probabilities[np.arange(len(y_test)), y_test], EPSILON, 1 - EPSILON)
    loss = float(-np.log(picked).mean())
    return Evaluation(
        test_loss=loss if math.isfinite(loss) else None,
        test_accuracy=float((predicted == y_test).mean()),
        confusion=confusion.tolist(),
        per_class_accuracy=per_class,
        misclassified=[int(i) for i in np.flatnonzero(predicted != y_test)[:SHOWN_MISTAKES]],
    )
