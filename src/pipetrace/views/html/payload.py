"""The data the page's JavaScript needs, taken from the trace as it is, as safe inline JSON.

The weights stay packed (base64 float32, see `PackedArray`); the script decodes them and
checks their lengths. `<`, `>`, `&`, U+2028 and U+2029 are written as \\u escapes, so no
string from a trace can close the <script> element it travels in.
"""

from __future__ import annotations

import json
import math

from pipetrace.trace import Prediction, Trace
from pipetrace.views.html.test_images import pixels as gallery_pixels
from pipetrace.views.html.sections import _strip, image_shape, image_uri, pixel_max, step_maps, step_role


def payload(trace: Trace, weights: bool = True) -> dict:
    """Class names, image size, the trained layers (with `weights`), the stored samples' traces, and the followed
    image's pixels."""
    samples = trace.samples or [trace.prediction]
    height, width, channels = image_shape(trace)
    return {
        "classes": trace.dataset["class_names"],
        "image": {"height": height, "width": width, "channels": channels, "pixel_max": pixel_max(trace)},
        "layers": [
            {"name": w.name, "activation": w.activation,
             "kernel": {"shape": w.kernel.shape, "data": w.kernel.data},
             "bias": {"shape": w.bias.shape, "data": w.bias.data}}
            for w in (trace.weights if weights else [])
        ],
        "samples": [_sample(trace, p) for p in samples],
        "gallery": gallery_pixels(trace) if weights else None,  # the first test images' bytes, for a click's trace
        "followed": {
            "raw": trace.stages[0].details.get("sample_image", []) if trace.stages else [],
            "scaled": trace.prediction.layers[0].values if trace.prediction.layers else [],
        },
    }


def _sample(trace: Trace, p: Prediction) -> dict:
    """One stored sample: its verdict and, step by step, what the page shows for it."""
    steps = []
    for i, layer in enumerate(p.layers):
        role, step = step_role(p, i), {"summary": layer.summary}
        if role == "maps":
            step["maps"] = step_maps(layer)[0]
        elif role in ("neurons", "probs"):
            step["values"] = layer.values
        elif role == "strip":
            step["strip"] = _strip(layer.values)
        steps.append(step)
    return {
        "index": p.sample,
        "label": p.label,
        "predicted": p.predicted,
        "confidence": p.confidence,
        "correct": p.correct,
        "png": image_uri(trace, p.image),
        "steps": steps,
    }


# Characters that could end the <script> element or start a comment in it (<, >, &), or that some
# JavaScript parsers take for line ends (U+2028, U+2029), each written as its JSON \u escape.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(data: dict) -> str:
    """JSON that is safe inside <script type="application/json"> (the page reads it with JSON.parse).

    A number JSON cannot hold (NaN, an infinity: only a trace that skipped validation has one) travels
    as its text, "nan" or "inf", which the page shows as it shows any other text.
    """
    text = json.dumps(_json_numbers(data), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.translate(_SCRIPT_SAFE)


def _json_numbers(value):
    """`value` with every non-finite float written as its text (JSON has no NaN or infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _json_numbers(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_numbers(item) for item in value]
    return value
