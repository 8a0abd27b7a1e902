"""Inside the network after each epoch, measured on the worker: what each hidden unit looks for, every unit's
output for the followed image with its weighted sum written out, and the grid's answers.

The lab's page shows the numbers the static report shows (views/html/unit_pictures.py, network_live.py,
test_images.py), but live: this module measures them on the worker after every epoch, for the `epoch` event.

- `units`: the first Dense layer's incoming weights when it reads grey image pixels, one picture a unit:
  each unit's weights quantised to int8 with its own scale (its largest |weight|, to 8 significant digits:
  w ~ q * scale / 127), base64, unit after unit (the first MAX_UNITS units); and the units that gave 0
  (ReLU) on every grid image.
- `network`: for a network of Dense layers only, each layer's outputs for the followed test image and, for
  every unit, its weighted sum z = x1*w1 + ... + b: the TOP_TERMS largest terms input x weight (computed
  here, in float64 from Keras' float32 values), their sum, what the other terms add up to, the bias, z and
  the output. The page writes these numbers out; it never sums quantised weights itself.
- `filters`: a first Conv2D layer's filters on grey images and the followed image's feature maps, quantised
  as the unit pictures are.
- `grid`: the grid's answers (lab/grid.py).

Every other number is rounded as events round them (5 significant digits).
"""

from __future__ import annotations

import base64

import numpy as np

from pipetrace.insights.silent_units import ZERO_FLOOR
from pipetrace.lab.grid import TestImageGrid, rounded
from pipetrace.training.output_kind import activation_name
from pipetrace.views.html.unit_pictures import MAX_UNITS

TOP_TERMS = 8  # the weighted sum's largest terms written out, as the report writes them
MAX_LAYER_UNITS = 1024  # a wider layer is not drawn (as in the report): its cells would be too small to see
MAX_NETWORK_UNITS = 2048  # more units' weighted sums (about 250 bytes each) would make each epoch event too large
MAX_GRID_LAYER_UNITS = 1024  # more, and every grid image's outputs of every layer would be over ~1 MB
DIVERGED = "this epoch's loss stopped being a number, and the weights were put back as they were before it"
NOT_BUNDLED = "the lab measures these on the grid's test images, which it holds for its bundled datasets only"
PASS_THROUGH = ("Dropout",)  # layers that change nothing when the network answers (not training)


class Inside:
    """Measures one model after each epoch; built once per run, when the model is known."""

    def __init__(self, model, grid: TestImageGrid | None, followed, sample: int | None = None):
        from pipetrace.training.backend import import_keras

        self.model, self.grid = model, grid
        self.sample = sample if followed is not None else None  # the followed test image's index
        self.input_shape = tuple(model.inputs[0].shape[1:])
        self.followed = None if followed is None else np.asarray(followed, "float32").reshape((1, *self.input_shape))
        self.dense, self.why = dense_chain(model)
        self.outputs_model = self.maps_model = None
        keras = import_keras()
        if self.dense:
            self.outputs_model = keras.Model(inputs=model.inputs[0], outputs=[layer.output for layer in self.dense])
        first = model.layers[0] if model.layers else None
        if type(first).__name__ == "Conv2D" and len(self.input_shape) == 3 and self.input_shape[2] == 1:
            self.maps_model = keras.Model(inputs=model.inputs[0], outputs=first.output)

    def measure(self, diverged: bool = False) -> dict:
        """The `inside` part of an `epoch` event (`diverged`: the epoch's loss stopped being a number, and its
        weights were put back: nothing measured now would be this epoch's)."""
        from pipetrace.training.output_kind import output_kind

        if diverged:
            return {"units": None, "network": None, "grid": None, "why": DIVERGED, "followed": self.sample}

        followed = self.followed if self.followed is not None else np.zeros((0, *self.input_shape), "float32")
        images = self.grid.scaled(self.input_shape) if self.grid is not None else followed[:0]
        batch = np.concatenate([followed, images])
        if self.outputs_model is not None:
            outputs = [np.asarray(v, dtype=np.float32) for v in self.outputs_model(batch, training=False)]
        else:
            outputs = [np.asarray(self.model(batch, training=False), dtype=np.float32)]
        head = len(followed)
        kind = output_kind(self.model)
        inside = {"units": None, "network": None, "grid": None, "why": self.why, "followed": self.sample}
        if self.grid is not None and kind.one_of_many:
            inside["grid"] = self.grid.answers_from(kind.probabilities(outputs[-1][head:].astype(np.float64)))
        if self.grid is None:
            inside["grid_why"] = NOT_BUNDLED
        if self.maps_model is not None:
            inside["filters"] = self.filters()
        if self.dense:
            inside["units"] = self.unit_pictures(outputs[0][head:])
            if inside["units"] is None:
                inside["units_why"] = NOT_BUNDLED if self.grid is None else "the first layer does not read a grey image's pixels"
            if not head:
                inside["network_why"] = "there is no followed test image (the sample is not one of the test images)"
            elif any(layer.units > MAX_LAYER_UNITS for layer in self.dense):
                inside["network_why"] = f"a layer has more than {MAX_LAYER_UNITS:,} units"
            elif sum(layer.units for layer in self.dense) > MAX_NETWORK_UNITS:
                inside["network_why"] = (f"the network has more than {MAX_NETWORK_UNITS:,} units: their weighted sums "
                                         "would make each epoch's event too large")
            else:
                inside["network"] = self.network(self.followed.reshape(-1), [values[0] for values in outputs])
        return inside

    def grid_layers(self) -> dict | None:
        """Every Dense layer's outputs for each grid image (for a network of Dense layers only), measured once when
        training ends, on the model as it is saved: what a click on a test image shows layer by layer."""
        if not self.dense or self.grid is None or sum(layer.units for layer in self.dense) > MAX_GRID_LAYER_UNITS:
            return None
        outputs = [np.asarray(v, dtype=np.float32) for v in
                   self.outputs_model(self.grid.scaled(self.input_shape), training=False)]
        return {"layers": [{"name": layer.name, "activation": activation_name(layer.activation), "units": int(layer.units)}
                           for layer in self.dense],
                "values": [[rounded(values[k]) for values in outputs] for k in range(len(self.grid.raw))]}

    def unit_pictures(self, first_outputs: np.ndarray) -> dict | None:
        """The first Dense layer's weights as pictures, when it reads a grey image's pixels; None otherwise."""
        if self.grid is None:
            return None
        height, width = self.grid.raw.shape[1:3]
        layer = self.dense[0]
        kernel = np.asarray(layer.kernel.numpy(), dtype=np.float32)
        if self.grid.raw.ndim != 3 or kernel.shape[0] != height * width:
            return None
        drawn = min(kernel.shape[1], MAX_UNITS)
        scales, weights = quantised(kernel[:, :drawn])
        activation = activation_name(layer.activation)
        silent = None
        if activation in ZERO_FLOOR and len(first_outputs):
            silent = np.flatnonzero((first_outputs <= 0).all(axis=0)).tolist()
        return {"layer": layer.name, "activation": activation, "units": int(kernel.shape[1]), "drawn": drawn,
                "height": int(height), "width": int(width), "scales": scales, "weights": weights,
                "silent": silent, "measured_on": len(first_outputs)}

    def filters(self) -> dict:
        """A first Conv2D layer on grey images: its filters as pictures and the followed image's feature maps,
        each quantised to int8 with its own scale, as the unit pictures are."""
        layer = self.maps_model.layers[-1]
        kernel = np.asarray(layer.kernel.numpy(), dtype=np.float32)  # height x width x 1 x filters
        height, width, _, count = kernel.shape
        scales, weights = quantised(kernel.reshape(height * width, count))
        drawn = {"layer": layer.name, "activation": activation_name(layer.activation), "filters": int(count), "height": int(height),
                 "width": int(width), "scales": scales, "weights": weights, "maps": None}
        if self.followed is not None:
            maps = np.asarray(self.maps_model(self.followed, training=False), dtype=np.float32)[0]  # H x W x filters
            map_scales, values = quantised(maps.reshape(-1, count))
            drawn["maps"] = {"height": int(maps.shape[0]), "width": int(maps.shape[1]),
                             "scales": map_scales, "values": values}
        return drawn

    def network(self, x: np.ndarray, outputs: list[np.ndarray]) -> dict:
        """Every Dense layer's outputs for the followed image, and each unit's weighted sum, term by term."""
        layers = []
        inputs = x.astype(np.float64)
        for layer, values in zip(self.dense, outputs):
            kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
            bias = np.asarray(layer.bias.numpy(), dtype=np.float64) if layer.use_bias else np.zeros(kernel.shape[1])
            terms = inputs[:, None] * kernel  # products of two float32 values: exact in float64
            columns = np.arange(kernel.shape[1])[:, None]
            top = largest(np.abs(terms).T, TOP_TERMS)  # units x TOP_TERMS
            chosen = terms[top, columns]
            sums = terms.sum(axis=0)
            layers.append({
                "name": layer.name, "activation": activation_name(layer.activation), "inputs": int(kernel.shape[0]),
                "units": int(kernel.shape[1]), "values": rounded(values),
                "top": top.tolist(), "w": [rounded(row) for row in kernel[top, columns]],
                "term": [rounded(row) for row in chosen], "top_sum": rounded(chosen.sum(axis=1)),
                "rest": rounded(sums - chosen.sum(axis=1)),
                "bias": rounded(bias), "z": rounded(sums + bias),
            })
            inputs = values.astype(np.float64)
        return {"input": rounded(x), "layers": layers}


def largest(rows: np.ndarray, count: int) -> np.ndarray:
    """Each row's `count` largest values' indices, largest first (a partition, then a sort of those alone)."""
    if rows.shape[1] > count:
        rows_index = np.arange(len(rows))[:, None]
        some = np.argpartition(-rows, count - 1, axis=1)[:, :count]
        return some[rows_index, np.argsort(-rows[rows_index, some], axis=1, kind="stable")]
    return np.argsort(-rows, axis=1, kind="stable")


def dense_chain(model) -> tuple[list, str]:
    """The model's Dense layers in order when it is nothing else (Dropout aside), and '' ; else [] and why not."""
    dense, other = [], []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            dense.append(layer)
        elif kind not in PASS_THROUGH:
            other.append(kind)
    if other or not dense:
        found = ", ".join(sorted(set(other))) or "no Dense layer"
        return [], f"the lab draws these for networks of Dense layers only; this one has {found}"
    return dense, ""


def quantised(columns: np.ndarray) -> tuple[list[float], str]:
    """Each column (a unit, a filter, a map) scaled by its own largest |value| to int8 -127..127: the scales (to 8
    significant digits) and base64 of the bytes column after column (v ~ q * scale / 127, within scale / 254)."""
    scales = np.abs(columns).max(axis=0).astype(np.float64)
    steps = np.where(scales > 0, scales, 1.0)
    q = np.clip(np.round(columns / steps * 127), -127, 127).astype(np.int8)
    return [float(f"{v:.8g}") for v in scales], base64.b64encode(np.ascontiguousarray(q.T).tobytes()).decode("ascii")
