"""Which test images the report lets a reader follow: the run's own sample, some right, some wrong.

The choice is made here, by the run, from its own predictions, so the page only shows
what was measured: the first correctly classified image of each digit (variety), and the
mistakes the network was most sure of (the instructive ones).

>>> choose_samples(probabilities, y_test, followed=0)      # doctest: +SKIP
[0, 3, 2, 1, 18, 4, 8, 11, 0, 61, ...]
"""

from __future__ import annotations

import numpy as np

RIGHT = 9
WRONG = 6


def choose_samples(probabilities: np.ndarray, y_test: np.ndarray, followed: int,
                   right: int = RIGHT, wrong: int = WRONG) -> list[int]:
    """Test indices: `followed` first, then up to `right` correct (one per digit), then `wrong` mistakes."""
    predicted = probabilities.argmax(axis=1)
    chosen = [int(followed)]
    seen_digits = {int(y_test[followed])}
    for i in np.flatnonzero(predicted == y_test):
        if len(chosen) > right:
            break
        digit = int(y_test[i])
        if digit not in seen_digits:
            seen_digits.add(digit)
            chosen.append(int(i))
    wrong_ones = np.flatnonzero(predicted != y_test)
    confidence = probabilities[wrong_ones, predicted[wrong_ones]]
    picked = [int(i) for i in wrong_ones[np.argsort(-confidence, kind="stable")] if int(i) != followed]
    return chosen + picked[:wrong]
