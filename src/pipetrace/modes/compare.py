"""Mode `compare`: two saved runs side by side: what differed, what it measured, where they disagree.

Everything comes from the two traces: settings that differ, the metrics, the loss curves,
per-class accuracy, and the test images both runs traced on which their predictions
differ (only the images a trace kept: the followed one, its samples, its shown mistakes).
Plain data here; views/learn.py draws it in the terminal.

>>> rows = setting_differences(trace_a, trace_b)      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict

from pipetrace.numbers import number, percent
from pipetrace.trace import Trace

SKIPPED = ("questions", "sample")  # how the run was shown, not what it did


def setting_differences(a: Trace, b: Trace) -> list[tuple[str, str, str]]:
    """(setting, value in A, value in B) for every setting that differs."""
    sa, sb = asdict(a.settings), asdict(b.settings)
    return [(k, str(sa[k]), str(sb.get(k))) for k in sa if k not in SKIPPED and sa[k] != sb.get(k)]


def metrics(t: Trace) -> dict[str, str]:
    last = t.training.epochs[-1] if t.training.epochs else None
    return {
        "network": t.network.architecture,
        "parameters": f"{t.network.total_params:,}",
        "epochs": f"{len(t.training.epochs)} of {t.training.epochs_planned}",
        "final training loss": "-" if not last else number(last.loss, 4),
        "final training accuracy": "-" if not last else percent(last.accuracy)
        + ("" if getattr(t.training, "train_measured_on", 0) else " (running mean during the epoch)"),
        "test loss": number(t.evaluation.test_loss, 4),
        "test accuracy": percent(t.evaluation.test_accuracy),
        "training time": f"{t.training.seconds:.1f} s",
        "test images": f"{t.dataset['test_count']:,}",
    }


def predictions(t: Trace) -> dict[int, int]:
    """Test index -> predicted class, for every test image the trace recorded a prediction for."""
    seen = {m.index: m.predicted for m in t.evaluation.mistakes}
    for p in [t.prediction, *t.samples]:
        seen[p.sample] = p.predicted
    return seen


def disagreements(a: Trace, b: Trace) -> tuple[int, list[tuple[int, int, int, int]]]:
    """(how many test images both traces recorded, [(index, label, A said, B said) where they differ])."""
    if a.dataset.get("name") != b.dataset.get("name") or a.dataset["class_names"] != b.dataset["class_names"]:
        return 0, []
    pa, pb = predictions(a), predictions(b)
    labels = {m.index: m.label for m in a.evaluation.mistakes + b.evaluation.mistakes}
    for p in [a.prediction, *a.samples, b.prediction, *b.samples]:
        labels[p.sample] = p.label
    common = sorted(set(pa) & set(pb))
    return len(common), [(i, labels[i], pa[i], pb[i]) for i in common if pa[i] != pb[i]]


def accuracy_change(a: Trace, b: Trace) -> str:
    change = 100 * (b.evaluation.test_accuracy - a.evaluation.test_accuracy)
    return f"B's test accuracy is {change:+.2f} points against A's."


def per_class(a: Trace, b: Trace) -> list[tuple[str, str, str, str]]:
    """(class, A's accuracy, B's, B - A in points) when both runs have the same classes; else nothing."""
    if a.dataset["class_names"] != b.dataset["class_names"]:
        return []
    names = a.dataset["class_names"]
    return [(names[c], percent(x), percent(y), f"{100 * (y - x):+.1f}")
            for c, (x, y) in enumerate(zip(a.evaluation.per_class_accuracy, b.evaluation.per_class_accuracy))]


def disagreement_lines(a: Trace, b: Trace) -> list[str]:
    """The test images both traces recorded on which the two runs predicted differently, in words."""
    names = a.dataset["class_names"]
    common, differ = disagreements(a, b)
    if not common:
        return ["Different test sets: no test image to compare one by one."]
    lines = [f"Of the {common} test images both traces recorded, they disagree on {len(differ)}:"]
    lines += [f"  test image {i} (a '{names[label]}'): A said '{names[x]}'{' (right)' if x == label else ''}, "
              f"B said '{names[y]}'{' (right)' if y == label else ''}" for i, label, x, y in differ]
    return lines
