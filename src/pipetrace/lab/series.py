"""A trace's per-epoch numbers as the lab's charts draw them: one list a measure, epoch 0 (untrained) first.

Not-finite numbers (a diverged loss) are None, as JSON has no NaN; the report's epoch chart draws the
same rows (`views/html/charts.py` `epoch_charts`).
"""

from __future__ import annotations

import math

MEASURES = ("loss", "accuracy", "test_loss", "test_accuracy")


def epoch_series(trace) -> dict[str, list]:
    """{"epoch": [0, 1, ...], "loss": [...], "accuracy": [...], "test_loss": [...], "test_accuracy": [...]}."""
    training = trace.training
    rows = ([training.start] if training.start is not None else []) + list(training.epochs)
    series = {"epoch": [row.epoch for row in rows]}
    for measure in MEASURES:
        series[measure] = [_finite(getattr(row, measure)) for row in rows]
    return series


def _finite(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None
