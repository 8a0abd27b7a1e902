"""The observation rules on hand-made histories: improving, plateauing, overfitting, diverging."""

import math

from pipetrace.training.observations import observe


def epochs(*rows):
    return [dict(loss=l, accuracy=a, test_loss=tl, test_accuracy=ta) for l, a, tl, ta in rows]


def test_first_epoch_is_the_jump_from_chance():
    (text,) = observe(epochs((0.40, 0.88, 0.20, 0.94)), classes=10)
    assert "chance (10.0%)" in text and "88.0%" in text and f"{math.log(10):.3f}" in text and "0.400" in text


def test_improving_then_shrinking_gains():
    history = epochs((0.40, 0.88, 0.2, 0.94), (0.20, 0.94, 0.15, 0.95), (0.14, 0.96, 0.12, 0.96))
    texts = observe(history, classes=10)
    assert "fell 50%" in texts[1]
    assert "gains are shrinking" in texts[2] and "0.200 before" in texts[2] and "0.060 now" in texts[2]


def test_a_bigger_drop_is_called_out():
    texts = observe(epochs((0.5, 0.8, 0.4, 0.85), (0.45, 0.82, 0.38, 0.86), (0.30, 0.9, 0.3, 0.9)), classes=10)
    assert "bigger drop" in texts[2]


def test_plateau():
    texts = observe(epochs((0.2, 0.94, 0.15, 0.95), (0.199, 0.941, 0.149, 0.951)), classes=10)
    assert "plateau" in texts[1] and "-0.5%" in texts[1]


def test_overfitting_when_test_accuracy_falls_as_training_rises():
    texts = observe(epochs((0.2, 0.95, 0.1, 0.97), (0.1, 0.98, 0.12, 0.965)), classes=10)
    assert "Test accuracy fell 0.50 points" in texts[1] and "training accuracy rose 3.00 points" in texts[1]


def test_loss_going_up():
    texts = observe(epochs((0.2, 0.95, 0.1, 0.97), (0.3, 0.93, 0.2, 0.96)), classes=10)
    assert "went up from 0.200 to 0.300" in texts[1]


def test_diverging_names_nan_and_what_to_try():
    texts = observe(epochs((2.5, 0.2, 2.3, 0.1), (None, 0.1, None, 0.1)), classes=10, learning_rate=5.0)
    assert "NaN" in texts[1] and "epoch 2" in texts[1] and "smaller learning rate, e.g. 0.5" in texts[1]


def test_worse_than_guessing_is_not_called_learning():
    texts = observe(epochs((40616.6, 0.16, 9.0, 0.10), (7.48, 0.11, 3.0, 0.11), (2.1, 0.3, 2.0, 0.35)), classes=10, learning_rate=10.0)
    assert "4.06e+04, above the 2.303 of a uniform guess" in texts[0] and "e.g. 1" in texts[0]
    assert "7.480, above the 2.303" in texts[1]
    assert "fell 72% (7.480 -> 2.100)" in texts[2]
