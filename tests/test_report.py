"""The HTML report without a browser: what the run adds to the trace, and what the page holds.

Browser behaviour (clicks, drawing, the JavaScript forward pass) is in test_report_browser.py.
"""

from __future__ import annotations

import copy
import json
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from pipetrace.trace import PackedArray, Trace
from pipetrace.views.html import notebook_html, render_html, sections
from pipetrace.views.html.pictures import png_uri

SECTIONS = ["data-flow", "training", "prediction", "draw", "evaluation", "quiz", "insights"]
HOSTILE = "<script>window.__pwned = 1</script>"


def test_every_run_writes_a_report_with_every_section(small_run):
    trace, folder = small_run
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for ident in SECTIONS:
        assert f'<section id="{ident}">' in page
    assert 'class="hero"' in page  # the header
    assert (folder / "report.html").stat().st_size < 3_000_000


def test_the_page_asks_no_host_for_anything(small_run):
    page = (small_run[1] / "report.html").read_text(encoding="utf-8")
    # xmlns="http://www.w3.org/2000/svg" names a namespace; nothing may be loaded from an address.
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:|//)|@import|@font-face", page, re.I)
    assert "default-src 'none'" in page  # the Content-Security-Policy forbids loading anything


def test_show_html_rerenders_the_same_page_without_tensorflow(small_run, tmp_path):
    _, folder = small_run
    out = tmp_path / "again.html"
    code = (
        "import sys; from pipetrace.cli import main; "
        f"rc = main(['show', {str(folder / 'trace.json')!r}, '--html', {str(out)!r}]); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported a backend'; "
        "sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (folder / "report.html").read_bytes()  # deterministic, from the trace alone


def test_show_html_into_a_folder_is_a_clear_error(small_run, tmp_path):
    from pipetrace.cli import main

    assert main(["show", str(small_run[1] / "trace.json"), "--html", str(tmp_path)]) == 2


def test_weights_in_the_trace_are_the_saved_models_exactly(small_run):
    import keras

    trace, folder = small_run
    model = keras.models.load_model(folder / "model.keras")
    loaded = Trace.load(folder / "trace.json")
    assert [w.name for w in loaded.weights] == [layer.name for layer in model.layers]
    for packed, layer in zip(loaded.weights, model.layers):
        kernel, bias = layer.get_weights()
        assert np.array_equal(packed.kernel.unpack(), kernel)
        assert np.array_equal(packed.bias.unpack(), bias)
        assert packed.activation == layer.activation.__name__


def test_packed_arrays_round_trip_and_stay_compact():
    values = np.random.default_rng(0).normal(size=(784, 128)).astype(np.float32)
    packed = PackedArray.pack(values)
    assert np.array_equal(packed.unpack(), values)
    assert len(packed.data) == 4 * -(-4 * values.size // 3)  # base64 of 4 bytes a value, nothing more


def test_stored_samples_hold_right_and_wrong_ones_chosen_by_the_run(small_run):
    trace, _ = small_run
    assert trace.samples[0] == trace.prediction
    assert any(p.correct for p in trace.samples) and any(not p.correct for p in trace.samples)
    assert len({p.sample for p in trace.samples}) == len(trace.samples)
    mistakes = trace.evaluation.mistakes
    assert [m.index for m in mistakes] == trace.evaluation.misclassified
    assert all(m.predicted != m.label and len(m.image) == 28 for m in mistakes)


def test_sample_traces_match_the_model(small_run):
    import keras

    from pipetrace.data import load_mnist

    trace, folder = small_run
    model = keras.models.load_model(folder / "model.keras")
    x_test = load_mnist().x_test
    indices = [p.sample for p in trace.samples]
    expected = model.predict(x_test[indices].reshape(len(indices), -1).astype(np.float32) / 255, verbose=0)
    for p, probabilities in zip(trace.samples, expected):
        assert np.allclose(p.layers[2].values, probabilities, atol=1e-6)
        assert p.image == x_test[p.sample].tolist()


def test_old_traces_without_the_new_fields_still_render(small_run):
    data = small_run[0].to_dict()
    for key in ("weights", "samples"):
        del data[key]
    del data["evaluation"]["mistakes"]
    page = render_html(Trace.from_dict(data))
    assert "holds no weights" in page
    assert all(f'<section id="{ident}">' in page for ident in SECTIONS)


def hostile_trace(trace: Trace) -> Trace:
    """The small run with `<script>` (and other markup) in every kind of string the page shows."""
    bad = copy.deepcopy(trace)
    bad.dataset["name"] = HOSTILE
    bad.dataset["source"] = HOSTILE
    bad.dataset["class_names"] = [f"{HOSTILE}{c}" if i == 0 else c for i, c in enumerate(bad.dataset["class_names"])]
    bad.insights[0].text = HOSTILE
    bad.quiz[0].text = HOSTILE
    bad.quiz[0].options[0] = '<img src=x onerror="window.__pwned=2">'
    bad.quiz[0].explanation = HOSTILE
    bad.stages[0].did = HOSTILE
    bad.training.epochs[0].observation = HOSTILE
    bad.prediction.layers[0].summary = HOSTILE
    bad.samples[1].layers[0].summary = HOSTILE + "</script><script>window.__pwned=3</script>"
    bad.environment["python"] = HOSTILE
    return bad


def test_markup_in_trace_strings_is_escaped(small_run):
    page = render_html(hostile_trace(small_run[0]))
    assert "window.__pwned" in page  # the text is there ...
    assert page.count("<script") == 2  # ... but the only script elements are the page's own two
    assert "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page


def test_notebooks_get_the_report_in_an_iframe(small_run):
    trace, _ = small_run
    cell = trace._repr_html_()
    assert cell.startswith("<iframe srcdoc=") and cell == notebook_html(trace)
    assert "<script" not in cell  # all of the page is inside the (escaped) srcdoc attribute


def test_digit_pictures_are_real_pngs():
    import matplotlib.image

    pixels = [[(r * 28 + c) % 256 for c in range(28)] for r in range(28)]
    uri = png_uri(pixels)
    assert uri.startswith("data:image/png;base64,")
    import base64

    decoded = matplotlib.image.imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    assert np.array_equal(np.rint(decoded * 255).astype(int), np.array(pixels))


@pytest.mark.parametrize("name", ["report.css", "report.js", "page.html"])
def test_static_files_ship_with_the_package(name):
    from importlib import resources

    assert resources.files("pipetrace.views.html").joinpath("static", name).is_file()


# ---- every kind of run: other networks and datasets (issue 6) ------------------------------------
TINY = dict(epochs=1, seed=0)


def _steps(page: str, trace_kind: str) -> list[str]:
    """The data-role of each step of one trace block (sample or draw) in a page."""
    block = page.split(f'data-trace="{trace_kind}"', 1)[1].split('<section', 1)[0]
    return re.findall(r'data-step="\d+" data-role="(\w+)"', block)


@pytest.fixture(scope="session")
def cnn_run(tmp_path_factory):
    """(trace, folder) of a tiny --conv run on MNIST, saved with its model and report."""
    import pipetrace

    folder = tmp_path_factory.mktemp("cnn-run")
    return pipetrace.run(out=folder, force=True, conv=True, limit=600, **TINY), folder


@pytest.fixture(scope="session")
def deep_run(tmp_path_factory):
    """(trace, folder) of two tanh hidden layers with dropout on MNIST, saved."""
    import pipetrace

    folder = tmp_path_factory.mktemp("deep-run")
    trace = pipetrace.run(out=folder, force=True, hidden=[64, 32], dropout=0.2, activation="tanh", limit=1200, **TINY)
    return trace, folder


@pytest.fixture(scope="module")
def digits_trace():
    import pipetrace

    return pipetrace.run(dataset="digits", limit=600, **TINY)


@pytest.fixture(scope="module")
def colour_trace(tmp_path_factory):
    """A folder of 3 classes of small RGB PNGs (a coloured square on dark noise), read at 16 x 16."""
    from PIL import Image

    import pipetrace

    root = tmp_path_factory.mktemp("colours")
    rng = np.random.default_rng(0)
    for name, colour in (("red", (220, 30, 30)), ("green", (30, 200, 60)), ("blue", (40, 60, 230))):
        (root / name).mkdir()
        for i in range(12):
            pixels = rng.integers(0, 40, (20, 20, 3)).astype(np.uint8)
            x, y = rng.integers(2, 10, 2)
            pixels[y:y + 8, x:x + 8] = colour
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return pipetrace.run(dataset=str(root), image_size=[16, 16], **TINY)


@pytest.fixture(scope="module")
def npz_trace(tmp_path_factory):
    """A 12 x 12 .npz dataset whose class names hold markup."""
    import pipetrace

    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("npz") / "toy.npz"
    np.savez(path, x_train=rng.integers(0, 256, (120, 12, 12)).astype(np.uint8), y_train=np.arange(120) % 3,
             x_test=rng.integers(0, 256, (30, 12, 12)).astype(np.uint8), y_test=np.arange(30) % 3,
             class_names=np.array(["shirt", "shoe", "<b>hat</b>"]))
    return pipetrace.run(dataset=str(path), **TINY)


@pytest.fixture(scope="module")
def functional_trace():
    """A hand-built functional model: Rescaling, Conv2D, BatchNormalization, pooling, Dense(gelu), Dropout, logits."""
    import keras

    import pipetrace

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Rescaling(2.0, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(16, activation="gelu")(x)
    x = keras.layers.Dropout(0.1)(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x), name="handmade")
    return pipetrace.run(model=model, limit=600, **TINY)


def test_a_cnn_report_shows_the_reshape_stage_every_layer_and_feature_maps(cnn_run):
    trace, folder = cnn_run
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert all(f'<section id="{ident}">' in page for ident in SECTIONS)
    assert trace.stages[2].name == "Reshape" and 'class="planes"' in page and 'class="strip"' not in page
    assert "28 x 28 x 1" in page.split('id="stage-3"', 1)[1].split("</article>", 1)[0]
    for layer in trace.network.layers:  # the network picture: every layer with its label and parameters
        assert f"{sections.e(layer.label)}".replace("(", "<wbr>(").replace(", ", ",<wbr> ") in page
        assert f"{layer.params:,} params" in page or (not layer.params and "no params" in page)
    roles = _steps(page, "sample")
    assert len(roles) == len(trace.prediction.layers)
    assert roles[0] == "input" and roles[-2:] == ["probs", "verdict"] and roles.count("maps") >= 2
    convs = [layer for layer in trace.prediction.layers if layer.kind == "Conv2D"]
    first_grid = re.search(r'data-part="maps"[^>]*>(.*?)</div>', page).group(1)
    assert first_grid.count("<img") == min(16, len(convs[0].details["feature_maps"]))
    data = json.loads(page.split('id="pipetrace-data">', 1)[1].split("</script>", 1)[0])
    assert len(data["samples"]) == len(trace.samples)
    assert all(len(s["steps"]) == len(trace.prediction.layers) for s in data["samples"])
    assert data["layers"] == [] and "cannot run this one live" in page and 'id="pad"' not in page


def test_a_deep_tanh_report_draws_every_layer_and_can_run_the_network(deep_run):
    trace, folder = deep_run
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert [w.activation for w in trace.weights] == ["tanh", "tanh", "softmax"]
    assert _steps(page, "sample") == ["input", "neurons", "neurons", "neurons", "neurons", "probs", "verdict"]
    assert _steps(page, "draw") == _steps(page, "sample") and 'id="pad"' in page
    draw_block = page.split('data-trace="draw"', 1)[1]
    assert re.findall(r'data-kind="(\w+)" data-from="(\d)"', draw_block)[:4] == [
        ("Dense", "0"), ("Dropout", "0"), ("Dense", "1"), ("Dropout", "1")]
    assert page.count('class="drop"') == 8 + 8  # both Dropout columns drawn in the network picture
    assert 'class="neg"' in page  # tanh gives values below 0, shown in their own colour


def test_digits_are_scaled_by_their_own_full_ink_value(digits_trace):
    import base64

    import matplotlib.image

    trace = digits_trace
    assert trace.dataset["pixel_max"] == 16
    page = render_html(trace)
    uri = re.search(r'id="stage-1".*?<img class="digit large" src="([^"]+)"', page, re.S).group(1)
    shown = matplotlib.image.imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    raw = np.array(trace.stages[0].details["sample_image"])
    assert shown.shape == (8, 8) and np.allclose(np.rint(shown * 255), np.rint(raw * 255 / 16))
    assert "0 (black) to 16 (white" in page
    assert 'class="strip"' in page and "now index" in page  # an 8 x 8 image still flattens into 64 values
    assert "How: a seeded, stratified split" in page
    assert "scaled into a 5.71 x 5.71 box" in page and 'width="8" height="8"' in page  # the drawing at 8 x 8


def test_colour_images_show_in_colour(colour_trace):
    import base64

    import matplotlib.image

    page = render_html(colour_trace)
    assert all(f'<section id="{ident}">' in page for ident in SECTIONS)
    uri = re.search(r'id="stage-1".*?<img class="digit large" src="([^"]+)"', page, re.S).group(1)
    shown = matplotlib.image.imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    assert shown.shape == (16, 16, 3)
    assert np.array_equal(np.rint(shown * 255).astype(int), np.array(colour_trace.stages[0].details["sample_image"]))
    assert "colour pixels" in page and "3 channel values one after the other" in page
    for name in colour_trace.dataset["class_names"]:
        assert f'<th>{name}</th>' in page and f'<span class="d">{name}</span>' in page
    assert "same grey in all 3 colour channels" in page  # the drawing pad feeds 16 x 16 x 3


def test_class_names_from_a_npz_are_escaped_everywhere(npz_trace):
    page = render_html(npz_trace)
    assert "<b>hat</b>" not in page and "&lt;b&gt;hat&lt;/b&gt;" in page
    assert page.count("<script") == 2
    assert '<th>class</th>' in page  # not "digit": these classes are not digits


def test_a_functional_model_with_other_layers_is_shown_layer_by_layer(functional_trace):
    trace = functional_trace
    page = render_html(trace)
    roles = _steps(page, "sample")
    kinds = [layer.kind for layer in trace.prediction.layers]
    assert len(roles) == len(kinds) == 10  # Input, 8 layers, Prediction
    assert dict(zip(kinds, roles))["Conv2D"] == "maps" and dict(zip(kinds, roles))["Dense"] in ("neurons", "probs")
    for kind in ("Rescaling", "BatchNormalization", "MaxPooling2D", "GlobalAveragePooling2D", "Dropout"):
        assert f">{kind}" in page, kind
    assert "InputLayer" not in page.split('class="net-chain"', 1)[1].split("</ol>", 1)[0]
    assert "BatchNormalization, Conv2D, GlobalAveragePooling2D, MaxPooling2D, Rescaling layers" in page


def test_the_epoch_table_starts_with_the_untrained_network_and_names_what_it_measured(small_run):
    trace, _ = small_run
    table = re.search(r'<table class="epochs">(.*?)</table>', sections.training(trace), re.S).group(1)
    first_cells = re.findall(r"<tr><td[^>]*>(\d+)</td>", table)
    assert first_cells == [str(n) for n in range(len(trace.training.epochs) + 1)]  # epoch 0, then every epoch
    assert trace.training.train_measured_on > 0 and "<th>train accuracy</th>" in table

    running = copy.deepcopy(trace)
    running.training.train_measured_on, running.training.start = 0, None  # a TraceCallback's record
    table = re.search(r'<table class="epochs">(.*?)</table>', sections.training(running), re.S).group(1)
    assert "running mean" in table and "<th>train accuracy</th>" not in table
    assert re.findall(r"<tr><td[^>]*>(\d+)</td>", table)[0] == "1"


def test_a_run_whose_weights_were_put_back_says_so_in_the_report(small_run):
    trace, _ = small_run
    restored = copy.deepcopy(trace)
    restored.training.restored_epoch = 0
    assert "untrained starting weights were put back" in sections.training(restored)
    assert "put back" not in sections.training(trace)


def test_the_batch_charts_smoothing_is_tensorboards_debiased_moving_average():
    from pipetrace.views.html.charts import smoothed

    values = [2.3, 1.9, 2.1, 1.2, 1.4, 0.9, 1.0, 0.7]
    expected, ema = [], 0.0
    for n, v in enumerate(values, start=1):  # TensorBoard: last = last * w + (1 - w) * v, then / (1 - w ** n)
        ema = 0.9 * ema + 0.1 * v
        expected.append(ema / (1 - 0.9 ** n))
    assert smoothed(values) == pytest.approx(expected)
    assert smoothed([5.0, 5.0, 5.0]) == pytest.approx([5.0, 5.0, 5.0])  # a constant stays itself: no pull to 0


def test_log_scale_charts_label_their_ticks_as_plain_numbers(small_run):
    from pipetrace.views.html.charts import batch_charts, epoch_charts

    for linear, log in (epoch_charts(small_run[0].training), batch_charts(small_run[0].training)):
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", log)
        assert "log scale" in " ".join(labels) and "log scale" not in " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", linear))
        assert not [label for label in labels if "$" in label or "mathdefault" in label]
