"""The loss chart: training and test loss per epoch, drawn by plotext from the trace's values."""

from __future__ import annotations

from rich.text import Text

from pipetrace.trace import Training


def loss_chart(training: Training, width: int = 60, height: int = 14) -> Text:
    """An ASCII line chart of the loss per epoch (non-finite losses are left out)."""
    import plotext as plt

    epochs = [e.epoch for e in training.epochs]
    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    for name, values, marker in (
        ("training loss", [e.loss for e in training.epochs], "*"),
        ("test loss", [e.test_loss for e in training.epochs], "+"),
    ):
        points = [(x, y) for x, y in zip(epochs, values) if y is not None]
        if points:
            plt.plot([x for x, _ in points], [y for _, y in points], marker=marker, label=name)
    plt.xticks(epochs)
    plt.xlabel("epoch")
    chart = plt.uncolorize(plt.build())
    plt.clear_figure()
    return Text(chart)
