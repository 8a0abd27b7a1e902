"""The report's charts, drawn by matplotlib and embedded as inline SVG.

matplotlib is well kept, already a scientific-Python staple, and renders on the server
side: the page gets finished vector drawings (sharp at any zoom, printable, readable
without JavaScript) and carries no charting library. Text stays <text> (svg.fonttype
"none"), so charts use the page's own fonts and stay small. Each chart gets its own
hash salt, so the ids matplotlib writes never collide when several SVGs share a page.
matplotlib is imported only here, and only when a report is drawn.
"""

from __future__ import annotations

import io
import math
import re

from pipetrace.trace import Evaluation, Training

TRAIN = "#4f46e5"  # indigo: training set
TEST = "#f59e0b"  # amber: test set
INK = "#1f2937"
GRID = "#e5e7eb"
MUTED = "#6b7280"
# Where constrained layout puts the axes of these two charts when every class name is one character
# (digits): fixed, they skip the layout pass (about 0.05 s a chart). Longer names, from a folder
# dataset, are measured by constrained layout as before.
CONFUSION_MARGINS = dict(left=0.026, right=0.991, bottom=0.092, top=0.99)
PER_CLASS_MARGINS = dict(left=0.036, right=0.956, bottom=0.047, top=0.948)


def epoch_chart(training: Training) -> str:
    """Loss and accuracy after every epoch, training set against test set, side by side."""
    return epoch_charts(training)[0]


def epoch_charts(training: Training) -> tuple[str, str]:
    """`epoch_chart`, and the same with the loss on a log scale (one figure, drawn twice: the layout is shared)."""
    rows = ([training.start] if training.start is not None else []) + list(training.epochs)  # epoch 0: untrained
    epochs = [e.epoch for e in rows]
    fig, (loss_ax, acc_ax) = _figure(7.6, 2.9, ncols=2,
                                     margins=dict(left=0.07, right=0.99, top=0.9, bottom=0.16, wspace=0.22))
    _line(loss_ax, epochs, [e.loss for e in rows], TRAIN, "training")
    _line(loss_ax, epochs, [e.test_loss for e in rows], TEST, "test")
    _style(loss_ax, "Loss (lower is better)", "epoch")
    _line(acc_ax, epochs, [None if e.accuracy is None else 100 * e.accuracy for e in rows], TRAIN, "training")
    _line(acc_ax, epochs, [None if e.test_accuracy is None else 100 * e.test_accuracy for e in rows], TEST, "test")
    _style(acc_ax, "Accuracy, % (higher is better)", "epoch")
    for ax in (loss_ax, acc_ax):
        ax.set_xticks(epochs)
        ax.legend(frameon=False, fontsize=8)
    linear = _svg(fig, "epochs")
    _log_scale(loss_ax, "Loss, log scale (lower is better)", [e.loss for e in rows] + [e.test_loss for e in rows])
    return linear, _svg(fig, "epochs-log")


SMOOTHING = 0.9  # the exponential moving average's weight on the past, when a chart has many points


def smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so its first values are not pulled to 0.

    >>> [round(v, 3) for v in smoothed([1.0, 0.0, 0.0], 0.5)]
    [1.0, 0.333, 0.143]
    """
    out, last = [], 0.0
    for n, value in enumerate(values, start=1):
        last = weight * last + (1 - weight) * value
        out.append(last / (1 - weight ** n))
    return out


def _log_scale(ax, title: str, values: list) -> None:
    """The axes' y on a log scale, when every value drawn is above 0 (a loss is 0 only when exact). Tick labels
    are plain numbers (0.3, 1): the report's text never goes through matplotlib's math typesetting."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    drawn = [v for v in values if v is not None and math.isfinite(v)]
    if drawn and min(drawn) > 0:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # 0.1 0.2 0.5 1 2 5: readable steps
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(labelsize=8, colors=MUTED, length=0, which="both")
        ax.set_title(title, loc="left", fontsize=9.5, color=INK)


def batch_chart(training: Training) -> str:
    """The training loss as it was recorded during each epoch, batch by batch."""
    return batch_charts(training)[0]


def batch_charts(training: Training) -> tuple[str, str]:
    """`batch_chart`, and the same on a log scale. With many records, each is drawn faint and their smoothed
    line (`smoothed`) over them, as TensorBoard draws a noisy curve."""
    fig, (ax,) = _figure(7.6, 2.6, margins=dict(left=0.07, right=0.99, top=0.88, bottom=0.18))
    per_record = max(1, training.steps_per_record)
    xs, ys = [], []
    for epoch in training.epochs:
        start, end = (epoch.epoch - 1) * training.steps_per_epoch, epoch.epoch * training.steps_per_epoch
        for k, loss in enumerate(epoch.batch_losses):
            if loss is not None and math.isfinite(loss):
                xs.append(min(start + (k + 1) * per_record, end))  # each entry ends at its last batch
                ys.append(loss)
        ax.axvline(end, color=MUTED, alpha=0.7, linewidth=1, linestyle=(0, (4, 3)), zorder=1)
        ax.text(end, 1.0, f"epoch {epoch.epoch} ", transform=ax.get_xaxis_transform(), ha="right", va="top",
                fontsize=7.5, color=MUTED)
    many = len(xs) >= 30
    if many:
        ax.plot(xs, ys, color=TRAIN, linewidth=1, alpha=0.3, zorder=2, label="as recorded")
        ax.plot(xs, smoothed(ys), color=TRAIN, linewidth=1.8, zorder=3, label=f"smoothed ({SMOOTHING:g} moving average)")
        ax.legend(frameon=False, fontsize=8, loc="upper right")
    else:
        ax.plot(xs, ys, color=TRAIN, linewidth=1.4, marker="o", markersize=3, zorder=2)
    ax.set_xlim(0, max(len(training.epochs) * training.steps_per_epoch, 1))
    what = "of every batch" if per_record == 1 else f"averaged over every {per_record} batches"
    _style(ax, f"Training loss {what} (dashed: end of each epoch)", "batch")
    ax.grid(False, axis="x")
    linear = _svg(fig, "batches")
    _log_scale(ax, f"Training loss {what}, log scale (dashed: end of each epoch)", ys)
    return linear, _svg(fig, "batches-log")


def confusion_chart(evaluation: Evaluation, class_names: list[str]) -> str:
    """The confusion matrix as a heat map: rows are true digits, columns what the network said."""
    import numpy as np

    counts = np.array(evaluation.confusion)
    fig, (ax,) = _figure(4.6, 4.3, margins=CONFUSION_MARGINS if _one_character(class_names) else None)
    shade = np.log1p(counts)
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=max(shade.max(), 1))
    top = counts.max() if counts.size else 0
    for (row, col), n in np.ndenumerate(counts):
        if n:
            dark = shade[row, col] > 0.6 * math.log1p(top)
            ax.text(col, row, str(n), ha="center", va="center", fontsize=6.5 if n >= 1000 else 7.5,
                    color="white" if dark else INK)
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names)
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted", color=MUTED)
    ax.set_ylabel("true", color=MUTED)
    ax.tick_params(length=0, labelsize=8)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return _svg(fig, "confusion")


def per_class_chart(evaluation: Evaluation, class_names: list[str]) -> str:
    """Accuracy on each digit's test images, with the overall accuracy as a line."""
    fig, (ax,) = _figure(4.6, 4.3, margins=PER_CLASS_MARGINS if _one_character(class_names) else None)
    values = [100 * a for a in evaluation.per_class_accuracy]
    worst = values.index(min(values)) if values else -1
    colors = [TEST if i == worst else TRAIN for i in range(len(values))]
    bars = ax.barh(range(len(values)), values, color=colors, height=0.7)
    for bar, value in zip(bars, values):
        ax.text(bar.get_width() - 1, bar.get_y() + bar.get_height() / 2, f"{value:.1f}", ha="right",
                va="center", fontsize=7.5, color="white")
    ax.axvline(100 * evaluation.test_accuracy, color=INK, linewidth=1, linestyle="--")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.invert_yaxis()
    low = min(values) if values else 0
    ax.set_xlim(max(0, 10 * math.floor(low / 10) - 10), 100)
    _style(ax, f"Accuracy per digit, % (dashed: overall {100 * evaluation.test_accuracy:.1f}%)", "")
    return _svg(fig, "per-class")


# ---- helpers ----------------------------------------------------------------------------
def _figure(width: float, height: float, ncols: int = 1, margins: dict | None = None):
    """A figure of `ncols` axes. Fixed `margins` (fractions of the figure) skip matplotlib's
    constrained layout, which costs about a tenth of a second per chart; charts whose labels
    come from the data (class names) keep it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=None if margins else "constrained")
    if margins:
        fig.subplots_adjust(**margins)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _one_character(class_names: list[str]) -> bool:
    return all(len(name) == 1 for name in class_names)


def _line(ax, xs, ys, color, label):
    points = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
    if points:
        ax.plot(*zip(*points), color=color, marker="o", markersize=4, linewidth=2, label=label)


def _style(ax, title: str, xlabel: str) -> None:
    ax.set_title(title, loc="left", fontsize=9.5, color=INK)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=8, color=MUTED)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8, colors=MUTED, length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)


def _svg(fig, name: str) -> str:
    """The figure as an <svg> element to inline: no XML prolog, no date, ids unique to this chart."""
    import matplotlib

    from matplotlib.text import Text

    for text in fig.findobj(Text):
        text.set_parse_math(False)  # labels from the data are text: '$1_to_$5' is a class name, not math
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"pipetrace-{name}",
                                "font.family": "sans-serif", "text.parse_math": False}):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, transparent=True)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"<style[^>]*>.*?</style>", "", text, flags=re.S)  # its `*` rule would style the whole page
    return text.replace("<svg ", f'<svg class="chart" role="img" aria-label="{name} chart" ', 1)
