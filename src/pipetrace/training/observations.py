"""One observation per epoch, computed from the numbers by rules you can test.

The rules, checked in this order (the first that applies speaks, later ones may add):

1. the loss is not a finite number -> training blew up; say what to try
2. the loss is above ln(classes), a uniform guess -> worse than guessing; say what to try
3. first epoch -> the jump from chance (1/classes accuracy, ln(classes) loss)
4. the training loss went up -> the step size may be too large
5. test accuracy fell while training accuracy rose -> the first sign of overfitting
6. the loss fell by less than 2% -> a plateau
7. otherwise -> the size of the drop, and whether gains are growing or shrinking

>>> observe([{"loss": 0.30, "accuracy": 0.91, "test_loss": 0.15, "test_accuracy": 0.95}], classes=10)
['Accuracy jumped from chance (10.0%) to 91.0%; the loss fell from 2.303 (a uniform guess) to 0.300']
"""

from __future__ import annotations

import math

PLATEAU = 0.02  # a relative loss drop below this counts as no real progress


def observe(epochs: list[dict], classes: int, learning_rate: float | None = None) -> list[str]:
    """An observation for each epoch (dicts with loss, accuracy, test_loss, test_accuracy)."""
    return [_observe_one(epochs, i, classes, learning_rate) for i in range(len(epochs))]


def _observe_one(epochs: list[dict], i: int, classes: int, learning_rate: float | None) -> str:
    now = epochs[i]
    loss = now["loss"]
    advice = f"try a smaller learning rate, e.g. {learning_rate / 10:g}" if learning_rate else "try a smaller learning rate"
    if loss is None or not math.isfinite(loss):
        return (
            f"The loss became NaN or infinite in epoch {i + 1}: the weight updates grew so large the "
            f"numbers overflowed, so training stopped here; {advice}"
        )
    guess = math.log(classes)
    if loss > guess:
        return (
            f"The loss is {_num(loss)}, above the {guess:.3f} of a uniform guess, and accuracy is "
            f"{_pct(now['accuracy'])}: the network is not learning, its steps overshoot; {advice}"
        )
    if i == 0:
        return (
            f"Accuracy jumped from chance ({100 / classes:.1f}%) to {_pct(now['accuracy'])}; "
            f"the loss fell from {math.log(classes):.3f} (a uniform guess) to {loss:.3f}"
        )
    before = epochs[i - 1]
    drop = before["loss"] - loss
    relative = drop / before["loss"] if before["loss"] else 0.0
    notes = []
    if drop < 0:
        notes.append(
            f"The loss went up from {_num(before['loss'])} to {_num(loss)} (+{-relative:.0%}): "
            "the steps may be too large for this learning rate"
        )
    measured = None not in (now["test_accuracy"], before["test_accuracy"], now["accuracy"], before["accuracy"])
    test_change = now["test_accuracy"] - before["test_accuracy"] if measured else 0.0
    train_change = now["accuracy"] - before["accuracy"] if measured else 0.0
    if test_change < 0 < train_change:
        notes.append(
            f"Test accuracy fell {_points(-test_change)} while training accuracy rose {_points(train_change)}: "
            "the network starts to fit the training set more than digits in general"
        )
    if not notes:
        notes.append(_progress(epochs, i, drop, relative))
    return "; ".join(notes)


def _progress(epochs: list[dict], i: int, drop: float, relative: float) -> str:
    loss = epochs[i]["loss"]
    if relative < PLATEAU:
        return f"The loss barely moved ({epochs[i - 1]['loss']:.3f} -> {loss:.3f}, -{relative:.1%}): a plateau"
    text = f"The loss fell {relative:.0%} ({_num(epochs[i - 1]['loss'])} -> {_num(loss)}), test accuracy {_pct(epochs[i]['test_accuracy'])}"
    if i >= 2 and epochs[i - 2]["loss"] is not None:
        previous_drop = epochs[i - 2]["loss"] - epochs[i - 1]["loss"]
        if drop > previous_drop:
            return text + f"; a bigger drop than the {previous_drop:.3f} before it"
        return text + f"; gains are shrinking ({previous_drop:.3f} before, {drop:.3f} now)"
    return text


def _num(value: float) -> str:
    """0.123 for losses in the usual range, 4.06e+04 for exploded ones."""
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.3g}"


def _pct(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return f"{100 * value:.2f} points"
