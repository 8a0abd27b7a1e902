"""The report's filter pictures for a convolutional network, checked against the saved model itself."""

from __future__ import annotations

import base64
import copy
import io
import re

import numpy as np
import pytest

pytest.importorskip("keras")


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    """(trace, page, model) of a tiny --conv run on MNIST, saved, and its report."""
    import keras

    import pipetrace
    from pipetrace.views.html.report import render_html

    folder = tmp_path_factory.mktemp("conv-filters")
    trace = pipetrace.run(out=folder, force=True, conv=True, limit=600, epochs=1, seed=3, verbose=0)
    return trace, render_html(trace), keras.models.load_model(folder / "model.keras")


def _png(uri: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")).astype(int)


def _figures(page: str) -> list[tuple[int, str, str, str]]:
    """(filter number, weights PNG, map PNG, caption) of each figure of the filters section."""
    section = page.split('<section id="units">', 1)[1].split("</section>", 1)[0]
    return [(int(j), w, m, c) for j, w, m, c in re.findall(
        r'<figure class="filter[^"]*" data-filter="(\d+)"><img class="weights" src="([^"]+)"[^>]*>'
        r'<img class="map" src="([^"]+)"[^>]*><figcaption>([^<]*)</figcaption>', section)]


def test_each_filter_is_drawn_from_the_saved_models_weights_and_its_map_from_keras_own_output(conv_run):
    import keras

    trace, page, model = conv_run
    conv = next(layer for layer in model.layers if type(layer).__name__ == "Conv2D")
    kernel = conv.get_weights()[0]  # 3 x 3 x 1 x 16
    image = trace.prediction.image
    x = np.asarray(image, dtype="float32").reshape(1, 28, 28, 1) / 255.0
    maps = keras.Model(model.inputs, conv.output)([x], training=False).numpy()[0]  # 28 x 28 x 16
    figures = _figures(page)
    assert [j for j, *_ in figures] == list(range(min(16, kernel.shape[-1])))
    low, high = min(0.0, maps[:, :, :16].min()), maps[:, :, :16].max()
    for j, weights_uri, map_uri, caption in figures:
        w = kernel[:, :, 0, j]
        t = np.rint(255 * np.abs(w) / np.abs(w).max())
        expected = np.stack([np.where(w > 0, 255, 255 - t), 255 - t, np.where(w < 0, 255, 255 - t)], axis=-1)
        assert np.abs(_png(weights_uri) - expected).max() <= 1, j  # the trace keeps 4 decimals of each weight
        grey = _png(map_uri)[:, :, 0]
        assert np.abs(grey - 255 * (maps[:, :, j] - low) / (high - low)).max() <= 1.5, j
        assert ("0 everywhere" in caption) == (maps[:, :, j].max() <= 0), j


def test_a_trace_whose_filter_weights_are_not_pictures_gets_no_filters_section(conv_run):
    from pipetrace.views.html.filter_pictures import filters_section

    trace, page, _ = conv_run
    assert filters_section(trace) != ""
    for junk in ([[["x"]]], [[[float("nan")]]], "abc", [[[1.0] * 99] * 99], [[[1.0, 2.0], [3.0]]], []):
        broken = copy.deepcopy(trace)
        layer = next(layer for layer in broken.prediction.layers if "filter_weights" in layer.details)
        layer.details["filter_weights"] = junk
        assert filters_section(broken) == "", junk


def test_a_dense_network_has_unit_pictures_and_no_filters_section(small_run):
    from pipetrace.views.html.filter_pictures import filters_section

    assert filters_section(small_run[0]) == ""


def test_the_filters_travel_in_the_saved_trace_and_a_reread_trace_draws_the_same_section(conv_run, tmp_path):
    import pipetrace
    from pipetrace.errors import TraceFileError
    from pipetrace.views.html.filter_pictures import filters_section

    trace, _, _ = conv_run
    path = tmp_path / "trace.json"
    trace.save(path)
    assert filters_section(pipetrace.Trace.load(path)) == filters_section(trace) != ""
    text, made = re.subn(r'"filter_weights":\s*\[\[\[', '"filter_weights":[[[1.0,2.0],[', path.read_text(), count=1)
    assert made == 1
    path.write_text(text)  # its first filter's rows no longer of one length
    with pytest.raises(TraceFileError, match="filter_weights"):
        pipetrace.Trace.load(path)
