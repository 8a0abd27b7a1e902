"""The first test images (`Evaluation.gallery`), each with what the network said, right or wrong at a glance;
a click traces one through every layer.

The answers under the pictures are Keras' (measured in the run). The trace that a click shows is the page's
own forward pass over the weights it holds, as the drawing pad's is (the tests check the two agree): so the
pixels travel in the page's data too, packed as base64 bytes. A network the page cannot run, or a page made
without the weights (a notebook's), keeps the pictures and the answers without the click.
"""

from __future__ import annotations

import base64

from pipetrace.trace import Trace
from pipetrace.views.html.markup import e, fmt, pick
from pipetrace.views.html.pictures import flat_values
from pipetrace.views.html.sections import draw_support, image_uri, layer_panels, pct, section


def test_images_section(trace: Trace, traceable: bool = True) -> str:
    shown = trace.evaluation.gallery
    if not shown:
        return ""
    names = trace.dataset["class_names"]
    buttons = "".join(
        f'<button type="button" class="test-image {"right" if g.predicted == g.label else "wrong"}" data-index="{n}" '
        f'aria-pressed="false" title="test image #{fmt(g.index)}: a {e(pick(names, g.label))}, said '
        f'{e(pick(names, g.predicted))} ({pct(g.confidence, 0)})"><img class="digit" src="{image_uri(trace, g.image)}" '
        f'alt="test image {fmt(g.index)}"><span>{e(pick(names, g.predicted))} · {pct(g.confidence, 0)}</span></button>'
        for n, g in enumerate(shown))
    right = sum(g.predicted == g.label for g in shown)
    intro = (f"The first {len(shown)} test images, each with the network's answer and how sure it was (green: right, "
             f"red: wrong): {right} of {len(shown)} right here.")
    body = f'<div class="test-grid" role="group" aria-label="test images">{buttons}</div>'
    if traceable and pixels(trace) is not None:
        intro += " Click one to follow it through every layer, computed by this page from the trained weights."
        body += layer_panels("gallery", None, names, trace, draw_canvas=True)
    return section("test-images", "Every test image, one at a time", f"the first {len(shown)}", body, intro)


def pixels(trace: Trace) -> dict | None:
    """The gallery's pixels for the page's script: base64 bytes, image after image, when they are whole numbers
    0..255 and the page can run the network; else None."""
    if draw_support(trace) or not trace.evaluation.gallery:
        return None
    values = []
    for example in trace.evaluation.gallery:
        values.extend(flat_values(example.image))
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in values):
        return None
    return {"count": len(trace.evaluation.gallery), "pixels": base64.b64encode(bytes(values)).decode("ascii"),
            "labels": [g.label for g in trace.evaluation.gallery]}
