"""The data the page's JavaScript needs, taken from the trace as it is, as safe inline JSON.

The weights stay packed (base64 float32, see `PackedArray`); the script decodes them.
`<`, `>` and `&` are written as \\u escapes, so no string from a trace can close the
<script> element it travels in.
"""

from __future__ import annotations

import json

from pipetrace.trace import Trace
from pipetrace.views.html.pictures import png_uri
from pipetrace.views.html.sections import shown_layers


def payload(trace: Trace) -> dict:
    """Class names, the trained layers, the stored samples' traces, and the followed image's pixels."""
    samples = trace.samples or [trace.prediction]
    return {
        "classes": trace.dataset["class_names"],
        "layers": [
            {"name": w.name, "activation": w.activation,
             "kernel": {"shape": w.kernel.shape, "data": w.kernel.data},
             "bias": {"shape": w.bias.shape, "data": w.bias.data}}
            for w in trace.weights
        ],
        "samples": [
            {
                "index": p.sample,
                "label": p.label,
                "predicted": p.predicted,
                "confidence": p.confidence,
                "correct": p.correct,
                "png": png_uri(p.image),
                "summaries": [layer.summary if layer else "" for layer in shown],
                "hidden": shown[1].values if shown[1] else [],
                "probabilities": shown[2].values if shown[2] else [],
            }
            for p, shown in ((p, shown_layers(p)) for p in samples)
        ],
        "followed": {
            "raw": trace.stages[0].details.get("sample_image", []) if trace.stages else [],
            "scaled": trace.prediction.layers[0].values if trace.prediction.layers else [],
        },
    }


def script_json(data: dict) -> str:
    """JSON that is safe inside <script type="application/json">."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
