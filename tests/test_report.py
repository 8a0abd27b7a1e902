"""The HTML report without a browser: what the run adds to the trace, and what the page holds.

Browser behaviour (clicks, drawing, the JavaScript forward pass) is in test_report_browser.py.
"""

from __future__ import annotations

import copy
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from pipetrace.trace import PackedArray, Trace
from pipetrace.views.html import notebook_html, render_html
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
