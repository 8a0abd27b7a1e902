"""The network, unit by unit: every unit of every Dense layer as a cell, coloured by its output for the
followed test image, with the largest contributions into a chosen unit drawn as lines (as TensorFlow
Playground draws its network), and the chosen unit's weighted sum written out as `pipetrace learn math`
writes it.

The page's script computes it from the weights the page holds (the drawing pad's) and the followed image's
scaled pixels; this module writes the frame and the words. Nothing here is drawn for a network the script
cannot run (not Dense layers only) or a page made without the weights (a notebook's).
"""

from __future__ import annotations

from pipetrace.trace import Trace
from pipetrace.views.html.markup import e, fmt
from pipetrace.views.html.sections import draw_support, section


def network_section(trace: Trace) -> str:
    if draw_support(trace):  # the script cannot run this network (the drawing pad's reason, said there)
        return ""
    layers = "".join(f'<option value="{n}">layer {n + 1}: {e(w.name)} ({fmt(w.kernel.shape[1], ",")} units, '
                     f'{e(w.activation)})</option>' for n, w in enumerate(trace.weights))
    intro = ("Every unit of every layer as a cell, coloured by its output for the followed test image "
             f"(#{fmt(trace.prediction.sample)}): deeper for a larger output (orange for a negative one). The lines "
             "are the six largest contributions into the chosen unit, each an input times its weight: solid adds to "
             "the unit's weighted sum, dashed takes from it. Click a unit, or choose it below, to see its weighted "
             "sum written out.")
    body = f"""<div class="net-live"><svg class="net-cells" role="img" aria-label="every unit of the network"></svg></div>
<p class="net-pick"><label>Layer <select class="net-layer">{layers}</select></label>
<label>Unit # <input class="net-unit" type="number" min="0" value="0"></label></p>
<pre class="worked net-sum" aria-live="polite"></pre><p class="warning net-why" hidden></p>"""
    return section("network", "The network, unit by unit", "for the followed image", body, intro)

