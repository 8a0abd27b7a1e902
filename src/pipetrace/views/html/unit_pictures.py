"""What each unit of the first hidden layer looks for: its incoming weights drawn as the image they multiply.

The classic MNIST picture (ConvNetJS shows it live): unit j's weights w[i, j], one per pixel i, laid out
as the 28 x 28 image, red where a bright pixel raises the unit's weighted sum and blue where it lowers
it, each square scaled by the unit's own largest weight. The page already holds the trained weights
(base64 float32, for the drawing pad), so the squares cost no bytes: the script draws them from those
weights. This module writes their frames, with the numbers that need no script: each unit's output for
the followed test image, and which units gave 0 on every test image the page holds.
"""

from __future__ import annotations

from pipetrace.insights.silent_units import silent_units
from pipetrace.numbers import count
from pipetrace.trace import Trace
from pipetrace.views.html.markup import e, fmt, is_number
from pipetrace.views.html.sections import image_shape, section

MAX_UNITS = 256  # more squares than this would take the page's script too long to draw and the reader to read


def units_section(trace: Trace) -> str:
    """The section, or '' when the trace has no first Dense layer reading grey image pixels."""
    if not trace.weights:
        return ""
    first = trace.weights[0]
    height, width, channels = image_shape(trace)
    shape = first.kernel.shape
    if channels != 1 or len(shape) != 2 or shape[0] != height * width or not 0 < shape[1]:
        return ""
    units = shape[1]
    followed = _outputs(trace.prediction, units)
    measured = silent_units(trace)
    silent = measured.units if measured is not None else frozenset()
    shown = min(units, MAX_UNITS)
    figures = "".join(_figure(j, followed, j in silent, height, width) for j in range(shown))
    name = e(first.name)
    intro = (f"Each square is one of the {fmt(units, ',')} units of the first hidden layer ({name}): its "
             f"{fmt(shape[0], ',')} incoming weights laid out as the {height} x {width} image they multiply. Red where "
             "a bright pixel raises the unit's weighted sum, blue where it lowers it, white near 0; each square is "
             "scaled by its own largest weight. Under it, the unit's output for the followed test image "
             f"(#{fmt(trace.prediction.sample)}).")
    if measured is not None:
        intro += (f" {count(len(silent), 'unit')} gave 0 for all {count(measured.images, 'test image')} this page holds "
                  f"(marked silent: {e(first.activation)} gives 0 for every negative weighted sum; a unit that is "
                  "silent on every image, not only these, gets no gradient and stops learning: a 'dead' unit).")
    if shown < units:
        intro += f" The first {shown} of them are drawn."
    body = (f'<div class="unit-grid" data-layer="0">{figures}</div>'
            '<p class="warning unit-why" hidden></p>')
    return section("units", "What each hidden unit looks for", f"{fmt(units, ',')} units", body, intro)


def _outputs(prediction, units: int) -> list | None:
    """A prediction's first hidden layer outputs, when it has them for all `units`."""
    layer = prediction.first_hidden if prediction is not None else None
    values = getattr(layer, "values", None)
    return values if isinstance(values, list) and len(values) == units else None


def _figure(j: int, followed: list | None, silent: bool, height: int, width: int) -> str:
    value = followed[j] if followed is not None else None
    shown = fmt(value, ".2f") if is_number(value) else "–"
    label = f"unit #{j}: output {shown} for the followed image" + ("; silent on every image held" if silent else "")
    return (f'<figure class="unit{" silent" if silent else ""}" data-unit="{j}">'
            f'<canvas width="{width}" height="{height}" role="img" aria-label="{e(label)}"></canvas>'
            f'<figcaption>#{j} · {shown}{" · silent" if silent else ""}</figcaption></figure>')
