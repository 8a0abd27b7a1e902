"""The observation rules on hand-made histories (no TensorFlow): each sentence only where its evidence is."""

import math

import pytest

from pipetrace.numbers import axis_label, number, percent, probability
from pipetrace.training.observations import (
    TYPICAL_RATES, above_chance, clearly_learned, describe_start, gap_noise, observe, rate_advice, typical_rates,
)

START = dict(loss=2.36, accuracy=0.09, test_loss=2.35, test_accuracy=0.10)  # an untrained 10-class network


def epochs(*rows):
    return [dict(epoch=i, loss=l, accuracy=a, test_loss=tl, test_accuracy=ta) for i, (l, a, tl, ta) in enumerate(rows, 1)]


def adam(history, **kw):
    return observe(history, 10, kw.pop("learning_rate", 0.008), optimizer=kw.pop("optimizer", "adam"),
                   start=kw.pop("start", START), test_count=kw.pop("test_count", 10000), comparable=True, **kw)


def suggested_rates(text):
    return [float(v) for v in __import__("re").findall(r"try a learning rate of about ([0-9.e+-]+)", text)]


def test_the_start_is_the_lesson_of_ln_classes_and_chance():
    text = describe_start(START, 10)
    assert "close to ln(10) = 2.303" in text and "2.360" in text and "chance is 10.0%" in text
    assert "ln(3) = 1.099" in describe_start(dict(START, loss=1.12), 3)
    assert "above ln(10)" in describe_start(dict(START, loss=4.0), 10)  # far from it: not "close to"


def test_first_epoch_is_measured_from_the_untrained_start():
    (text,) = adam(epochs((0.40, 0.88, 0.38, 0.89)))
    assert "untrained start (loss 2.360, accuracy 9.0%)" in text and "0.400" in text and "88.0%" in text
    assert "on training images" in text and "chance: 10.0%" in text and "overshoot" not in text


def test_a_first_loss_above_ln_classes_is_not_overshoot_when_it_fell_from_the_start():
    """An untrained network starts above ln(10); a tiny learning rate leaves it there. That is 'too low'."""
    start = dict(START, loss=2.41)
    (text,) = adam(epochs((2.38, 0.11, 2.37, 0.11)), start=start, learning_rate=1e-5)
    assert 2.38 > math.log(10)
    assert "overshoot" not in text and "too high" not in text
    assert "barely moved from the untrained start" in text and "too low" in text
    (rate,) = suggested_rates(text)
    low, high, _ = TYPICAL_RATES["adam"]
    assert low <= rate <= high and rate > 1e-5


def test_barely_moving_at_a_typical_rate_blames_nothing_it_cannot_know():
    (text,) = adam(epochs((2.30, 0.11, 2.30, 0.11)), learning_rate=1e-3)
    assert "barely moved" in text and "too low" not in text and "try a learning rate" not in text


def test_a_rising_loss_is_too_high_and_the_advice_is_typical_for_the_optimizer_not_a_tenth():
    texts = adam(epochs((0.4, 0.88, 0.4, 0.88), (0.9, 0.7, 0.95, 0.69)), learning_rate=0.5)
    assert "went up from 0.400 (epoch 1) to 0.900" in texts[1] and "too high" in texts[1]
    assert suggested_rates(texts[1]) == [0.001] and "0.05" not in texts[1]
    texts = observe(epochs((0.4, 0.88, 0.4, 0.88), (0.9, 0.7, 0.95, 0.69)), 10, 5.0, optimizer="sgd", start=START)
    (rate,) = suggested_rates(texts[1])
    assert TYPICAL_RATES["sgd"][0] <= rate <= TYPICAL_RATES["sgd"][1]


def test_an_exploded_loss_is_written_in_scientific_notation_and_never_praised():
    texts = adam(epochs((5.9433051684264e13, 0.10, 4e13, 0.10), (1.6e11, 0.11, 1e11, 0.10)), learning_rate=1e6)
    assert "exploded" in texts[0] and "5.94e+13" in texts[0] and "59433051684264" not in texts[0]
    assert "still above the untrained start" in texts[1] and "too high" in texts[1]
    for text in texts:
        assert "100000" not in text and "1e+05" not in text and suggested_rates(text) == [0.001]
        assert "fell" not in text and "barely moved" not in text


def test_nan_says_which_weights_were_put_back():
    texts = adam(epochs((0.5, 0.8, 0.45, 0.82), (None, None, None, None)), learning_rate=50.0, restored_epoch=1)
    assert "NaN or infinite in epoch 2" in texts[1] and "end of epoch 1 were put back" in texts[1]
    (text,) = adam(epochs((None, None, None, None)), learning_rate=1e20, restored_epoch=0)
    assert "untrained starting weights were put back" in text and "untrained network" in text
    assert suggested_rates(text) == [0.001]


def test_improving_then_shrinking_gains():
    history = epochs((0.40, 0.88, 0.38, 0.89), (0.20, 0.94, 0.19, 0.94), (0.14, 0.96, 0.15, 0.955))
    texts = adam(history)
    assert "fell 50% (0.400 -> 0.200)" in texts[1] and "gains are shrinking (1.960 before, 0.200 now)" in texts[1]
    assert "gains are shrinking (0.200 before, 0.060 now)" in texts[2]


def test_a_bigger_drop_is_called_out():
    texts = adam(epochs((0.5, 0.8, 0.5, 0.8), (0.45, 0.82, 0.46, 0.82), (0.30, 0.9, 0.31, 0.9)))
    assert "bigger drop than the 0.050 before it" in texts[2]


def test_plateau():
    texts = adam(epochs((0.2, 0.94, 0.15, 0.95), (0.199, 0.941, 0.149, 0.951)))
    assert "plateau" in texts[1] and "-0.5%" in texts[1]


def test_over_fitting_is_the_test_loss_turning_up_while_the_training_loss_falls():
    texts = adam(epochs((0.2, 0.95, 0.10, 0.97), (0.1, 0.98, 0.12, 0.965), (0.05, 0.99, 0.13, 0.96)))
    assert "test loss turned up (0.100 at epoch 1 -> 0.120)" in texts[1] and "over-fitting" in texts[1]
    assert "over-fitting" not in texts[2]  # said once, where it starts (issue 17: not in every epoch after)
    calm = adam(epochs((0.2, 0.95, 0.10, 0.97), (0.1, 0.98, 0.1001, 0.965)))  # within 2%: wobble, not a turn
    assert "over-fitting" not in calm[1]


def test_accuracy_at_chance_is_said_and_never_celebrated():
    (text,) = adam(epochs((2.0, 0.12, 2.0, 0.105)))
    assert "not above chance" in text


def test_a_running_mean_is_labelled_and_without_a_start_the_first_epoch_speaks_of_ln_classes():
    (text,) = observe(epochs((0.40, 0.88, 0.20, 0.94)), classes=10)
    assert "running mean" in text and "ln(10) = 2.303" in text and "untrained" not in text


def test_rate_advice_moves_only_the_right_way_and_stays_typical():
    for optimizer, (low, high, _) in TYPICAL_RATES.items():
        for current in (1e-7, 1e-5, 1e-3, 0.05, 1.0, 1e6):
            for direction in ("lower", "higher"):
                rates = suggested_rates(rate_advice(optimizer, current, direction))
                for rate in rates:
                    assert low <= rate <= high
                    assert rate < current if direction == "lower" else rate > current
    assert rate_advice("adam", 1e-4, "lower") == ""  # already at the bottom of Adam's range: no number to give
    assert rate_advice("someoptimizer", 1.0, "lower") == ""


def test_sgd_with_momentum_gets_plain_sgds_rates_scaled_by_1_minus_momentum_and_its_own_name():
    """Momentum m makes steps up to 1 / (1 - m) times larger, so its typical rates are (1 - m) times plain SGD's."""
    plain_low, plain_high, _ = TYPICAL_RATES["sgd"]
    for momentum in (0.5, 0.9, 0.99):
        low, high, first = typical_rates("sgd", momentum)
        assert low == pytest.approx(plain_low * (1 - momentum)) and high == pytest.approx(plain_high * (1 - momentum))
        assert low <= first <= high
    assert typical_rates("sgd", 0.0) == TYPICAL_RATES["sgd"] and typical_rates("adam", 0.9) == TYPICAL_RATES["adam"]
    rising = epochs((0.4, 0.88, 0.4, 0.88), (0.9, 0.7, 0.95, 0.69))
    texts = observe(rising, 10, 2.0, optimizer="sgd", start=START, momentum=0.9)
    assert "typical for SGD with momentum 0.9 (0.001 to 0.01)" in texts[1] and suggested_rates(texts[1]) == [0.01]
    plain = observe(rising, 10, 2.0, optimizer="sgd", start=START)
    assert "typical for SGD (0.01 to 0.1)" in plain[1] and "momentum" not in plain[1]
    (slow,) = observe(epochs((2.35, 0.11, 2.34, 0.11)), 10, 1e-4, optimizer="sgd", start=START, momentum=0.9)
    assert "too low" in slow and suggested_rates(slow) == [0.01]  # 1e-4 is below momentum's 0.001
    for current in (1e-7, 1e-4, 0.005, 0.05, 1.0):
        for direction in ("lower", "higher"):
            for rate in suggested_rates(rate_advice("sgd", current, direction, 0.9)):
                assert 0.001 <= rate <= 0.01 and (rate < current if direction == "lower" else rate > current)


def test_chance_noise_and_the_bar_for_praise():
    assert not above_chance(0.11, 10, 500) and above_chance(0.30, 10, 500)
    assert not clearly_learned(0.20, 10, 10000) and clearly_learned(0.90, 10, 500)
    assert not clearly_learned(0.40, 3, 300) and clearly_learned(0.9, 3, 300)
    assert gap_noise(0.9, 10000, 0.9, 10000) == pytest.approx(math.sqrt(2 * 0.09 / 10000))
    assert gap_noise(1.0, 100, 1.0, 100) > 0  # never zero, even at 100%


@pytest.mark.parametrize("value, text", [
    (0.9791, "97.9%"), (0.9995, "99.95%"), (0.99996, "> 99.99%"), (1.0, "100.0%"),
    (0.0004, "0.04%"), (0.00004, "< 0.01%"), (0.0, "0.0%"), (None, "not measured"),
])
def test_percent_never_shows_a_rounded_100_or_0(value, text):
    assert percent(value) == text


def test_numbers_people_can_read():
    assert number(5.9433051684264e13) == "5.94e+13" and number(0.04712) == "0.047" and number(0.0000213) == "2.13e-05"
    assert number(float("nan")) == "NaN" and number(2.3654, 4) == "2.3654"
    assert probability(0.0) == "0.000000" and probability(3.2e-9) == "3.2e-09" and "0.000000" not in probability(1e-7)
    assert axis_label(59433051684264.6) == "5.94e+13"


def test_changes_keep_their_sign_and_are_never_rounded_to_100_percent():
    from pipetrace.numbers import change

    assert change(-0.9996) == "-99.96%" and change(2.5) == "+250%" and change(-0.5) == "-50%"
    texts = adam(epochs((0.40, 0.88, 0.38, 0.89), (0.0001, 0.999, 0.01, 0.99)))
    assert "fell 99.98%" in texts[1] and "fell 100%" not in texts[1]


def test_without_a_start_only_a_loss_far_above_ln_classes_is_overshoot():
    """A TraceCallback has no epoch 0: 2.36 (near ln 10) is an untrained start, 40616.6 is a blow-up."""
    (near,) = observe(epochs((2.36, 0.11, 2.35, 0.11)), 10, 1e-5, optimizer="adam")
    assert "overshoot" not in near
    texts = observe(epochs((40616.6, 0.16, 9.0, 0.10), (7.48, 0.11, 3.0, 0.11)), 10, 10.0, optimizer="adam")
    assert "4.06e+04, far above ln(10) = 2.303" in texts[0] and "too high" in texts[0]
    assert "7.480, far above ln(10)" in texts[1] and suggested_rates(texts[1]) == [0.001]


def test_a_test_loss_rise_inside_its_noise_is_not_over_fitting():
    history = epochs((0.2, 0.95, 0.100, 0.97), (0.1, 0.98, 0.110, 0.965))
    history[1]["test_loss_noise"] = 0.02  # 0.010 above the lowest is half a standard error
    assert "over-fitting" not in adam(history)[1]
    history[1]["test_loss_noise"] = 0.003  # now more than 3 standard errors
    assert "over-fitting" in adam(history)[1]
