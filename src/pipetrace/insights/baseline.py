"""The honest baseline of a run, and whether its network beat it: the bar for every praise.

Two ways to score without learning anything: guess (1 / classes), or always answer the most common
training label (its share of the training images, `Training.majority_share`). The bar is the higher of
the two; a network has learned when its test accuracy clears that bar and its own untrained start (epoch 0)
beyond the test set's noise. A network that gives one answer for (nearly) every test image is named.

>>> baseline(trace).words                                   # doctest: +SKIP
"95.0% for always answering 'cat', the most common training label"
"""

from __future__ import annotations

from dataclasses import dataclass

from pipetrace.trace import Trace
from pipetrace.training.observations import (
    above_chance, baseline_words, better_than_start, chance, clearly_learned,
)

ONE_ANSWER_SHARE = 0.9  # a network answering one class for 90% of the test images or more gives "one answer"


@dataclass(frozen=True)
class Baseline:
    """The accuracy to beat and its name."""

    accuracy: float  # the higher of chance and the majority share
    chance: float  # 1 / classes
    majority_class: int | None
    majority_share: float | None
    words: str  # '10.0% for guessing' or "95.0% for always answering 'a', the most common training label"

    @property
    def is_majority(self) -> bool:
        return self.majority_share is not None and self.majority_share > self.chance


def baseline(trace: Trace) -> Baseline:
    """The run's baseline, from its training labels (recorded, or the split stage's counts in older traces)."""
    names = trace.dataset["class_names"]
    top, share = trace.training.majority_class, trace.training.majority_share
    if top is None:
        counts = next((s.details.get("train_counts") for s in trace.stages if s.name == "Train/Test split"), None)
        if counts and sum(counts):
            top = max(range(len(counts)), key=counts.__getitem__)
            share = counts[top] / sum(counts)
    name = names[top] if top is not None and top < len(names) else None
    bar = max(chance(len(names)), share or 0.0)
    return Baseline(bar, chance(len(names)), top, share, baseline_words(len(names), share, name))


def images_tested(trace: Trace) -> int:
    return int(trace.dataset.get("test_count") or sum(sum(row) for row in trace.evaluation.confusion))


def above_baseline(trace: Trace, accuracy: float | None = None) -> bool:
    """Test accuracy above the baseline and, for a network pipetrace built, above its untrained start, beyond noise."""
    accuracy = trace.evaluation.test_accuracy if accuracy is None else accuracy
    classes, n = len(trace.dataset["class_names"]), images_tested(trace)
    if not above_chance(accuracy, classes, n, baseline(trace).accuracy):
        return False
    return _beats_start(trace, accuracy)


def learned(trace: Trace) -> bool:
    """The bar for any praise: clearly above the baseline (half-way from it to 100%) and the start, weights trained."""
    if trace.training.restored_epoch == 0:
        return False
    accuracy = trace.evaluation.test_accuracy
    classes, n = len(trace.dataset["class_names"]), images_tested(trace)
    return clearly_learned(accuracy, classes, n, baseline(trace).accuracy) and _beats_start(trace, accuracy)


def _beats_start(trace: Trace, accuracy: float) -> bool:
    start = trace.training.start
    if start is None or trace.settings.model:  # a model that came trained starts from its own weights
        return True
    return better_than_start(accuracy, start.test_accuracy, images_tested(trace))


def predicted_counts(trace: Trace) -> list[int]:
    """How many test images the network gave each class (recorded; older traces: the confusion's columns)."""
    ev = trace.evaluation
    if ev.predicted_counts:
        return list(ev.predicted_counts)
    return [sum(row[c] for row in ev.confusion) for c in range(len(ev.confusion))]


def one_answer(trace: Trace) -> tuple[int, int, int] | None:
    """(class, images given it, test images) when one class got ONE_ANSWER_SHARE of the test images or more,
    the other classes' images included (a network right about a 95% class is not one that answers it blindly)."""
    counts = predicted_counts(trace)
    total = sum(counts)
    if not total or len(counts) < 2:
        return None
    top = max(range(len(counts)), key=counts.__getitem__)
    confusion = trace.evaluation.confusion
    others = total - sum(confusion[top])  # test images of the other classes
    given_top = counts[top] - confusion[top][top]  # how many of them were answered `top` all the same
    if counts[top] < ONE_ANSWER_SHARE * total or not others or given_top < ONE_ANSWER_SHARE * others:
        return None
    return top, counts[top], total
