"""What each filter of a first convolutional layer looks for: its weights drawn as a small picture, and the
feature map it made from the followed test image.

The Conv2D counterpart of the units section (unit_pictures.py): a filter is a few weights (3 x 3) slid over
the whole image, so its picture is tiny and the map under it shows where in the followed image it responded.
Both come from the prediction trace (the probe keeps up to 16 filters of a layer that reads one channel and
their maps), drawn here as PNGs: no script, so a notebook's page shows them too.
"""

from __future__ import annotations

import math

from pipetrace.numbers import count
from pipetrace.trace import Trace
from pipetrace.views.html.markup import e, fmt
from pipetrace.views.html.pictures import map_uri, signed_uri
from pipetrace.views.html.sections import section

FILTER_SIDE = 15  # a filter wider than this is no small picture (and a trace claiming one is not ours)
MAP_SIDE = 1024  # as the largest images pipetrace reads


def filters_section(trace: Trace) -> str:
    """The section, or '' when the followed prediction has no first Conv2D layer with filter pictures."""
    layer = _first_conv(trace)
    if layer is None:
        return ""
    filters, maps = _grids(layer.details.get("filter_weights"), FILTER_SIDE), _grids(layer.details.get("feature_maps"), MAP_SIDE)
    if not filters or not maps or len(maps) < len(filters):
        return ""
    total = layer.details.get("filters")
    total = total if isinstance(total, int) and not isinstance(total, bool) and total >= len(filters) else len(filters)
    high = max(max(max(row) for row in m) for m in maps[:len(filters)])
    low = min(0.0, min(min(min(row) for row in m) for m in maps[:len(filters)]))
    # exactly 0 at every position (ReLU's answer to a weighted sum never above 0); a tanh map below 0 is a response
    silent = [j for j, m in enumerate(maps[:len(filters)]) if all(v == 0 for row in m for v in row)]
    height, width = len(filters[0]), len(filters[0][0])
    figures = "".join(
        f'<figure class="filter{" silent" if j in silent else ""}" data-filter="{j}">'
        f'<img class="weights" src="{signed_uri(f)}" alt="filter #{j}: its {height} x {width} weights">'
        f'<img class="map" src="{map_uri(maps[j], low, high)}" alt="feature map #{j} of the followed image">'
        f'<figcaption>#{j}{" · 0 everywhere" if j in silent else ""}</figcaption></figure>'
        for j, f in enumerate(filters))
    sample = trace.prediction.sample if trace.prediction is not None else None
    intro = (f"The first convolutional layer ({e(layer.name)}) has {count(total, 'filter')}, each {height} x {width} "
             "weights slid over the whole image. Top: a filter's weights, red where a bright pixel raises its weighted "
             "sum, blue where it lowers it, white near 0, each scaled by its own largest weight. Below it: the feature "
             f"map it made from the followed test image (#{fmt(sample)}), brighter for a larger output, all maps on one "
             "scale.")
    if silent:
        intro += f" {count(len(silent), 'filter')} gave exactly 0 everywhere on this image (marked)."
    if len(filters) < total:
        intro += f" The first {len(filters)} are drawn."
    body = f'<div class="filter-grid">{figures}</div>'
    return section("units", "What each filter looks for", f"{fmt(total, ',')} filters", body, intro)


def _first_conv(trace: Trace):
    prediction = trace.prediction
    for layer in getattr(prediction, "layers", None) or []:
        if isinstance(layer.details, dict) and "filter_weights" in layer.details:
            return layer
        if isinstance(layer.details, dict) and layer.details.get("feature_maps"):
            return None  # the first convolution reads more than one channel: its filters are no pictures
    return None


def _grids(value, side: int) -> list[list[list[float]]]:
    """`value` as a list of equally shaped 2-D grids of finite numbers, none wider than `side` (a trace is
    anyone's), else []."""
    if not isinstance(value, list) or not value or len(value) > 64:  # the probe keeps 16
        return []
    grids = []
    for grid in value:
        if not isinstance(grid, list) or not grid or not all(isinstance(row, list) and row for row in grid):
            return []
        rows = [[v for v in row] for row in grid]
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) for row in rows for v in row):
            return []
        grids.append(rows)
    shape = (len(grids[0]), len(grids[0][0]))
    if any((len(g), len(g[0])) != shape or any(len(r) != shape[1] for r in g) for g in grids) or max(shape) > side:
        return []
    return grids
