"""Diagnosis from evidence, on real small runs: every observation and insight checked against what it claims.

Each run trains for real (600-1200 images, 1-3 epochs). The checks do not compare with copied output:
a sentence that says the loss fell is checked against the losses, "easiest class" against accuracy
above chance, a suggested learning rate against the optimizer's typical range, and so on.
"""

import math
import re

import numpy as np
import pytest

import pipetrace
from pipetrace.data import Dataset, load_dataset
from pipetrace.insights.baseline import baseline
from pipetrace.insights.key_insights import learned
from pipetrace.training.fit import TRAIN_MEASURED
from pipetrace.training.observations import BARELY_MOVED, clearly_learned, typical_rates

PRAISE = ("easiest", "carries over", "generalizes", "cut the loss", "no sign of memorizing")


def digits_3_classes() -> Dataset:
    d = load_dataset("digits")
    keep_train, keep_test = d.y_train < 3, d.y_test < 3
    return Dataset("digits 0-2", "scikit-learn digits, classes 0, 1, 2", d.x_train[keep_train], d.y_train[keep_train],
                   d.x_test[keep_test], d.y_test[keep_test], d.class_names[:3], pixel_max=d.pixel_max, split=d.split)


RUNS = {
    "rate 1e-5": dict(limit=1200, epochs=2, learning_rate=1e-5),
    "rate 1e6 adam": dict(limit=1200, epochs=2, learning_rate=1e6, schedule="constant"),
    "default": dict(limit=1200, epochs=3),
    "sgd": dict(limit=1200, epochs=2, optimizer="sgd", learning_rate=0.05),
    "rate 2 sgd momentum": dict(limit=1200, epochs=2, optimizer="sgd", momentum=0.9, learning_rate=2.0, schedule="constant"),
    "tanh": dict(limit=1200, epochs=2, activation="tanh"),
    "dropout": dict(limit=1200, epochs=2, dropout=0.5),
    "one epoch": dict(limit=600, epochs=1),
    "3 classes": dict(epochs=3, hidden=[32], data="digits3"),
    "nan": dict(limit=600, epochs=2, learning_rate=1e20, schedule="constant"),
}


@pytest.fixture(scope="module")
def traces():
    made = {}
    for name, settings in RUNS.items():
        settings = dict(settings)
        if settings.pop("data", None) == "digits3":
            settings["data"] = digits_3_classes()
        made[name] = pipetrace.run(verbose=0, **settings)
    return made


def sentences(trace):
    epochs = ([trace.training.start] if trace.training.start else []) + trace.training.epochs
    return [(e, e.observation) for e in epochs] + [(None, i.text) for i in trace.insights]


def suggested(text):
    return [float(v) for v in re.findall(r"try a learning rate of about ([0-9.e+-]+)", text)]


def check_against_evidence(trace):
    """Every sentence of the trace's observations and insights against the numbers it rests on."""
    t = trace.training
    classes = len(trace.dataset["class_names"])
    lr, optimizer, momentum = trace.settings.learning_rate, trace.network.optimizer.lower(), trace.network.momentum
    low, high, _ = typical_rates(optimizer, momentum)  # SGD with momentum: smaller rates
    finite = [e for e in t.epochs if e.loss is not None]
    for epoch, text in sentences(trace):
        assert not re.search(r"\d{8,}", text), text  # no number cut or written in full: 5.94e+13
        assert "0.000000" not in text and "e.g." not in text, text
        assert not re.search(r"(?<![\d.])100\.0%", text) or "100.0%" in text and _has_exact_one(trace), text
        for rate in suggested(text):
            assert low <= rate <= high, text  # typical for the optimizer that trained
            assert rate < lr if "too high" in text or "NaN" in text else rate > lr, text
        if "too high" in text or "overshoot" in text:
            start = t.start.loss
            assert t.status == "diverged" or any(e.loss > start * 1.02 for e in finite) or any(
                b.loss > a.loss * 1.02 for a, b in zip(finite, finite[1:])), text
        if "too low" in text:
            assert lr < low and any(abs(e.loss / t.start.loss - 1) < BARELY_MOVED for e in finite), text
        if "barely moved from the untrained start" in text and epoch is not None:
            assert abs(epoch.loss / t.start.loss - 1) < BARELY_MOVED, text
        if re.search(r"\bfell\b|cut the loss", text) and "not above chance" not in text:
            assert finite and finite[-1].loss < t.start.loss * (1 - 0.02), text
        if any(word in text for word in PRAISE):
            assert learned(trace) and t.restored_epoch != 0, text
            assert clearly_learned(trace.evaluation.test_accuracy, classes, trace.dataset["test_count"]), text
        if "NaN" in text:
            assert t.status == "diverged", text
        if re.search(r"\bReLU\b|\bfired\b", text):
            assert trace.network.layers[0].activation == "relu", text
        for name in ("Adam", "SGD", "RMSprop"):
            if re.search(rf"\b{name}\b", text):
                assert optimizer == name.lower(), text
        if "typical for SGD" in text:  # the optimizer named in advice is the one that trained, momentum and all
            assert ("typical for SGD with momentum" in text) == bool(momentum), text
            assert not momentum or f"typical for SGD with momentum {momentum:g} (" in text, text


def _has_exact_one(trace):
    p = trace.prediction
    return p.confidence == 1.0 or 1.0 in trace.evaluation.per_class_accuracy


@pytest.mark.parametrize("name", list(RUNS))
def test_every_sentence_stands_on_its_evidence(traces, name):
    trace = traces[name]
    assert trace.training.start is not None and trace.training.start.epoch == 0
    check_against_evidence(trace)


def test_the_untrained_start_is_about_ln_classes_and_chance(traces):
    for name in ("default", "3 classes"):
        trace = traces[name]
        classes = len(trace.dataset["class_names"])
        start = trace.training.start
        assert abs(start.loss - math.log(classes)) < 0.15 * math.log(classes)
        assert f"ln({classes}) = {math.log(classes):.3f}" in start.observation
        assert abs(start.test_accuracy - 1 / classes) < 0.15  # an untrained network guesses


def test_too_low_a_rate_says_the_loss_barely_moved_and_suggests_a_typical_larger_one(traces):
    trace = traces["rate 1e-5"]
    texts = [text for _, text in sentences(trace)]
    assert not any("overshoot" in text or "too high" in text for text in texts)
    assert "barely moved" in trace.training.epochs[-1].observation and "too low" in trace.insights[0].text
    assert suggested(trace.insights[0].text) == [0.001]
    assert not any(word in text for text in texts for word in PRAISE)


def test_too_high_a_rate_is_not_praised_and_gets_adams_typical_rate(traces):
    trace = traces["rate 1e6 adam"]
    texts = [text for _, text in sentences(trace)]
    assert "too high" in trace.insights[0].text and suggested(trace.insights[0].text) == [0.001]
    assert not any("100000" in text or "1e+05" in text for text in texts)
    assert not learned(trace) and not any(word in text for text in texts for word in PRAISE)


def test_following_the_advice_for_sgd_with_momentum_gives_a_better_network(traces):
    """Too high a rate with momentum 0.9 gets momentum's typical rate (a tenth of plain SGD's); trained with it, the
    same network learns: its loss falls below the untrained start and its test accuracy rises."""
    trace = traces["rate 2 sgd momentum"]
    advice = trace.insights[0].text
    assert "too high" in advice and "typical for SGD with momentum 0.9 (0.001 to 0.01)" in advice
    (rate,) = suggested(advice)
    settings = dict(RUNS["rate 2 sgd momentum"], learning_rate=rate)
    followed = pipetrace.run(verbose=0, **settings)
    check_against_evidence(followed)
    assert followed.training.epochs[-1].loss < followed.training.start.loss * (1 - BARELY_MOVED)
    assert followed.evaluation.test_accuracy > trace.evaluation.test_accuracy
    assert not any("too high" in text for _, text in sentences(followed))


def test_a_learning_run_is_called_learning(traces):
    trace = traces["default"]
    assert learned(trace) and trace.insights[0].text.startswith("Training cut the loss from")
    assert any("hardest" in i.text for i in trace.insights)


def test_training_accuracy_is_measured_like_test_accuracy_not_the_running_mean(traces):
    for name in ("dropout", "one epoch"):
        t = traces[name].training
        assert t.train_measured_on == min(1200 if name == "dropout" else 600, TRAIN_MEASURED)
        for e in t.epochs:
            assert e.running_accuracy is not None and e.accuracy is not None
        gap = next((i for i in traces[name].insights if "gap" in i.text), None)
        if gap is not None:
            assert gap.figures["train_accuracy"] == t.epochs[-1].accuracy  # the inference-mode number
            assert abs(gap.figures["gap_points"]) < 15  # never the running mean's "-36.2 points"
    dropout = traces["dropout"].training.epochs[0]
    assert dropout.accuracy != dropout.running_accuracy  # measured after the epoch, dropout off


def test_a_nan_run_says_the_saved_network_is_untrained(traces):
    trace = traces["nan"]
    t = trace.training
    assert t.status == trace.status == "diverged" and t.restored_epoch == 0
    assert "untrained starting weights were put back" in t.epochs[-1].observation
    assert "untrained" in trace.insights[0].text and "model.keras" in trace.insights[0].text
    assert any("untrained network" in i.text for i in trace.insights if "test image" in i.text)
    last = t.epochs[-1]
    assert last.loss is None and last.test_accuracy is None  # NaN weights measure nothing
    texts = [text for _, text in sentences(trace)]
    assert not any(word in text for text in texts for word in PRAISE)


def test_the_three_class_run_speaks_of_three_classes(traces):
    trace = traces["3 classes"]
    text = " ".join(text for _, text in sentences(trace))
    bar = baseline(trace)  # the higher of 1/3 and the most common training label's share (issue 17)
    assert np.isclose(bar.accuracy, max(1 / 3, bar.majority_share))
    assert f"{100 * bar.accuracy:.1f}%" in text and "10.0%" not in text
    assert np.isclose(trace.insights[0].figures["chance"], 1 / 3)


def exploded_training():
    from pipetrace.trace import Epoch, Training

    start = Epoch(0, 2.3654, 0.092, 2.3554, 0.13, 0.2, "Before training: " + "the untrained network " * 6)
    rows = [Epoch(1, 5.9433051684264e13, 0.191, 1.3e12, 0.99996, 1.1, "exploded " * 20),
            Epoch(2, 1.58e11, 0.192, 2.42e11, 0.0004, 0.1, "still above the start " * 5),
            Epoch(3, None, None, None, None, 0.1, "NaN")]
    return Training(epochs_planned=3, batch_size=256, steps_per_epoch=12, steps_per_record=1, epochs=rows,
                    status="diverged", seconds=1.5, start=start, train_measured_on=2000, restored_epoch=2)


def test_the_epoch_table_fits_80_columns_without_cutting_a_number():
    from rich.console import Console

    from pipetrace.views.terminal import render_training

    console = Console(width=80, record=True, color_system=None)
    console.print(render_training(exploded_training()))
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    table = [line for line in lines if line.startswith(("│", "┃"))]
    assert table and not any("…" in line for line in table)
    for cell in ("5.94e+13", "1.3e+12", "> 99.99%", "0.04%", "2.3654", "NaN", "19.1%"):
        assert cell in text, cell
    assert "59433051684264" not in text and "100.0%" not in text
    assert re.search(r"^│\s+0 │\s+2\.3654 │", text, re.M)  # epoch 0, the untrained start, is the first row
    # wrapped observations continue under their text, not at column 0
    observation = [i for i, line in enumerate(lines) if line.startswith("Epoch 1:")][0]
    assert lines[observation + 1].startswith(" " * len("Epoch 1: "))
    assert "weights from the end of epoch 2 were put back" in text


def test_the_loss_chart_starts_at_epoch_0_and_labels_large_losses_shortly():
    from pipetrace.views.chart import loss_chart

    chart = loss_chart(exploded_training()).plain
    assert "5.94e+13" in chart and "59433051684264" not in chart
    assert re.search(r"^\s*0\s+1\s+2\s*$", chart, re.M)  # from epoch 0 to the last finite loss (epoch 3 is NaN)
