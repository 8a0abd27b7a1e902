"""The loss chart: training and test loss per epoch, drawn by plotext from the trace's values."""

from __future__ import annotations

from rich.text import Text

from pipetrace.numbers import axis_label
from pipetrace.trace import Training


def loss_chart(training: Training, width: int = 60, height: int = 14) -> Text:
    """An ASCII line chart of the loss per epoch from epoch 0, the untrained start (non-finite losses are left out)."""
    import plotext as plt

    rows = ([training.start] if training.start is not None else []) + list(training.epochs)
    epochs = [e.epoch for e in rows]
    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    values = []
    for name, losses, marker in (
        ("training loss", [e.loss for e in rows], "*"),
        ("test loss", [e.test_loss for e in rows], "+"),
    ):
        points = [(x, y) for x, y in zip(epochs, losses) if y is not None]
        if points:
            plt.plot([x for x, _ in points], [y for _, y in points], marker=marker, label=name)
            values += [y for _, y in points]
    if values:
        ticks = _ticks(min(values), max(values))
        plt.yticks(ticks, _labels(ticks))
    plt.xticks(epochs)
    plt.xlabel("epoch")
    chart = plt.uncolorize(plt.build())
    plt.clear_figure()
    return Text(chart)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Evenly spaced axis values from low to high, labelled by us (short, scientific when large)."""
    if high == low:
        return [low]
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def _labels(ticks: list[float]) -> list[str]:
    """Short labels, with more digits only where the short ones would repeat (a nearly flat loss)."""
    labels = [axis_label(t) for t in ticks]
    digits = 3
    while len(set(labels)) < len(labels) and digits < 8:
        digits += 1
        labels = [f"{t:.{digits}g}" for t in ticks]
    return labels
