"""The HTML report in a real browser: Debian's Chromium, driven by Playwright for Python.

Skipped, with the reason, where no Chromium is installed; with PIPETRACE_REQUIRE_BROWSER=1
(set by .ci/run) a missing browser fails instead. Chromium is started with the flags this
machine needs (no sandbox as root, no background networking, which would try to reach
Google's hosts); Playwright gives it a fresh, empty profile each time.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from test_report import SECTIONS, cnn_run, deep_run, hostile_trace  # noqa: F401 (session fixtures)

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def find_chromium() -> str | None:
    """$PIPETRACE_CHROMIUM, else Debian's /usr/bin/chromium, else one on PATH."""
    for candidate in (os.environ.get("PIPETRACE_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _unavailable(reason: str):
    if os.environ.get("PIPETRACE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and PIPETRACE_REQUIRE_BROWSER=1 says the browser tests must run")
    pytest.skip(f"{reason}: install Debian's chromium (apt-get install chromium) to run the browser tests")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed")
    executable = find_chromium()
    if executable is None:
        _unavailable("no Chromium found (looked at $PIPETRACE_CHROMIUM, /usr/bin/chromium and PATH)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def settle(page) -> None:
    """Wait until what the page had queued has run: one animation frame, then one task after it.

    Not a sleep: an event-loop turn, the same on a fast machine and a slow one.
    """
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))")


class Visit:
    """A page opened from file://, with every console message, page error and request kept."""

    def __init__(self, browser, path: Path):
        self.url = path.resolve().as_uri()
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def errors(self) -> list[tuple[str, str]]:
        return [(kind, text) for kind, text in self.console if kind in ("error", "pageerror", "warning")]

    def outside_requests(self) -> list[str]:
        return [url for url in self.requests if url != self.url and not url.startswith("data:")]


@pytest.fixture()
def visit(browser, small_run):
    opened = Visit(browser, small_run[1] / "report.html")
    yield opened
    opened.page.close()


def test_opens_from_file_with_no_errors_and_no_outside_request(visit):
    visit.page.wait_for_function("window.pipetrace !== undefined")  # the page's script ran to its end
    settle(visit.page)
    assert visit.errors() == []
    assert visit.outside_requests() == []
    assert visit.requests == [visit.url]


def test_every_section_is_present(visit, small_run):
    page = visit.page
    for ident in SECTIONS:
        assert page.locator(f"section#{ident}").is_visible(), ident
    assert page.locator("header.hero").is_visible()
    assert page.locator(".stage").count() == len(small_run[0].stages)
    assert page.locator("svg.chart:visible").count() == 4 and page.locator(".scale-log svg.chart").count() == 2
    assert page.locator(".mistake").count() == len(small_run[0].evaluation.mistakes)


def test_switching_the_sample_changes_the_shown_probabilities(visit, small_run):
    trace = small_run[0]
    page, shown = visit.page, '[data-trace="sample"] .probs .v'
    before = page.locator(shown).all_inner_texts()
    wrong = next(i for i, p in enumerate(trace.samples) if not p.correct)
    page.locator(f'.pick[data-sample="{wrong}"]').click()
    after = page.locator(shown).all_inner_texts()
    assert after != before
    expected = trace.samples[wrong].layers[2].values
    assert after == [f"{100 * v:.2f}%" for v in expected]
    names = trace.dataset["class_names"]
    assert page.locator('[data-trace="sample"] [data-part="predicted"]').inner_text() == names[trace.samples[wrong].predicted]
    assert "wrong" in page.locator('[data-trace="sample"] [data-part="verdict"]').inner_text()
    assert page.locator(f'.pick[data-sample="{wrong}"]').get_attribute("aria-pressed") == "true"


def test_the_page_asks_every_question_the_run_answers(visit, small_run):
    """The run's own questions first, then the rest of the pool `pipetrace learn quiz` draws from, each answerable."""
    from pipetrace.insights.quiz import quiz_pool

    trace, page = small_run[0], visit.page
    pool = {q.text: q for q in quiz_pool(trace)}
    assert len(pool) > len(trace.quiz)
    questions = page.locator(".question")
    assert questions.count() == len(pool)
    assert f"({len(pool)} questions)" in page.locator("#quiz-score").inner_text()
    shown = [q.locator(".q").evaluate("p => p.firstChild.textContent").strip() for q in questions.all()]
    assert shown[:len(trace.quiz)] == [q.text for q in trace.quiz] and sorted(shown) == sorted(pool)
    page.locator("details.more-questions > summary").click()
    last = questions.last
    question = pool[shown[-1]]
    last.locator(".option", has_text=question.options[question.answer]).first.click()
    assert last.locator(".feedback").inner_text().startswith("Right.")
    assert page.locator("#quiz-score").inner_text().startswith("Score: 1 right of 1 answered")


def test_quiz_feedback_and_score_follow_the_answers(visit, small_run):
    quiz, page = small_run[0].quiz, visit.page
    score = page.locator("#quiz-score")
    assert score.inner_text().startswith("Score: 0 right of 0 answered")

    first = page.locator("#question-1")
    wrong = next(i for i in range(len(quiz[0].options)) if i != quiz[0].answer)
    first.locator(f'.option[data-option="{wrong}"]').click()
    assert first.locator(".feedback").inner_text().startswith("Not quite.")
    assert quiz[0].explanation in first.locator(".feedback").inner_text()
    assert score.inner_text().startswith("Score: 0 right of 1 answered")

    second = page.locator("#question-2")
    second.locator(f'.option[data-option="{quiz[1].answer}"]').click()
    assert second.locator(".feedback").inner_text().startswith("Right.")
    assert score.inner_text().startswith("Score: 1 right of 2 answered")

    # the keyboard alone: focus the right answer of question 3 and press Enter
    third = page.locator("#question-3")
    third.locator(f'.option[data-option="{quiz[2].answer}"]').focus()
    page.keyboard.press("Enter")
    assert third.locator(".feedback").inner_text().startswith("Right.")
    assert score.inner_text().startswith("Score: 2 right of 3 answered")
    assert visit.errors() == []


def draw_seven(page) -> None:
    """A '7' drawn with the mouse: a bar across the top, then the diagonal down."""
    pad = page.locator("#pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 80, y + 60)
    page.mouse.down()
    for i in range(12):
        page.mouse.move(x + 80 + i * 10, y + 60)
    for i in range(16):
        page.mouse.move(x + 200 - i * 5, y + 60 + i * 12)
    page.mouse.up()


PAD_INK = """() => { const pad = document.getElementById("pad"), rgba = pad.getContext("2d").getImageData(0, 0, pad.width,
  pad.height).data; let n = 0; for (let i = 0; i < rgba.length; i += 4) if (rgba[i] > 0) n++; return n; }"""


def test_the_pad_draws_with_the_keyboard_alone(visit, small_run):
    """Tab to the pad, Space puts the pen down, arrows draw, Space lifts it (moving then draws nothing), Delete clears."""
    page = visit.page
    page.locator("#clear-pad").focus()
    page.keyboard.press("Shift+Tab")  # the pad is the control before Clear
    assert page.evaluate("document.activeElement.id") == "pad"
    page.keyboard.press("ArrowUp")
    assert page.evaluate(PAD_INK) == 0  # the pen is up: moving draws nothing
    for key in ["ArrowUp"] * 5 + ["ArrowLeft"] * 3 + ["Space"] + ["ArrowRight"] * 6 + ["ArrowDown", "ArrowLeft"] * 7:
        page.keyboard.press(key)
    page.keyboard.press("Space")  # the pen lifted: the drawing is done, and the network has read it
    page.wait_for_function("() => window.pipetrace.lastDrawing !== null")
    drawn = page.evaluate(PAD_INK)
    assert drawn > 0 and page.evaluate("window.pipetrace.lastDrawing.input.some(v => v > 0)")
    assert page.locator('[data-trace="draw"] [data-part="predicted"]').inner_text() in small_run[0].dataset["class_names"]
    for key in ["ArrowLeft"] * 5:
        page.keyboard.press(key)
    assert page.evaluate(PAD_INK) == drawn  # moved with the pen up
    page.keyboard.press("Enter")  # down: a dot where it is
    assert page.evaluate(PAD_INK) > drawn
    page.keyboard.press("Delete")
    assert page.evaluate(PAD_INK) == 0 and page.evaluate("window.pipetrace.lastDrawing") is None
    assert page.locator('[data-trace="draw"] [data-part="predicted"]').inner_text() == "?"
    assert visit.errors() == []


def test_drawing_on_the_canvas_gives_a_prediction(visit, small_run):
    page = visit.page
    names = small_run[0].dataset["class_names"]
    assert page.locator('[data-trace="draw"] [data-part="predicted"]').inner_text() == "?"
    draw_seven(page)
    page.wait_for_function("window.pipetrace.lastDrawing !== null")
    drawing = page.evaluate("window.pipetrace.lastDrawing")
    assert abs(sum(drawing["probabilities"]) - 1) < 1e-9
    shown = page.locator('[data-trace="draw"] [data-part="predicted"]').inner_text()
    assert shown == names[drawing["predicted"]]
    bars = [float(t.rstrip("%")) for t in page.locator('[data-trace="draw"] .probs .v').all_inner_texts()]
    assert abs(sum(bars) - 100) < 0.1
    # prepared like MNIST: the ink's centre of mass sits within a pixel of pixel (14, 14)
    image = np.array(drawing["input"]).reshape(28, 28)
    rows, cols = np.indices(image.shape)
    assert abs((image * rows).sum() / image.sum() - 14) <= 1
    assert abs((image * cols).sum() / image.sum() - 14) <= 1
    assert image.max() <= 1 and image.min() >= 0
    assert visit.errors() == []


def test_javascript_forward_pass_agrees_with_keras(visit, small_run):
    import keras

    from pipetrace.data import load_mnist

    model = keras.models.load_model(small_run[1] / "model.keras")
    x = load_mnist().x_test[:200].reshape(200, -1).astype(np.float32) / np.float32(255)
    expected = model.predict(x, verbose=0)
    started = time.perf_counter()
    got = np.array(visit.page.evaluate("xs => window.pipetrace.predict(xs)", x.tolist()))
    seconds = time.perf_counter() - started
    difference = float(np.abs(got - expected).max())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "js-vs-keras.txt").write_text(
        f"200 test images, max |JavaScript - Keras| probability difference: {difference:.3g} ({seconds:.2f} s in the page)\n"
    )
    assert got.shape == expected.shape
    assert difference < 1e-4
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_preparing_mnist_digits_keeps_them_recognized(visit, small_run):
    """MNIST digits are already prepared; passing them through the page's `prepare` must not spoil them."""
    import keras

    from pipetrace.data import load_mnist

    data = load_mnist()
    raw, labels = data.x_test[:200], data.y_test[:200]
    prepared = np.array(visit.page.evaluate(
        "images => images.map(img => window.pipetrace.prepare(img, 28, 28))", raw.reshape(200, -1).tolist()))
    model = keras.models.load_model(small_run[1] / "model.keras")
    as_is = (model.predict(raw.reshape(200, -1) / 255, verbose=0).argmax(1) == labels).mean()
    after = (model.predict(prepared, verbose=0).argmax(1) == labels).mean()
    print(f"MNIST test images recognized as they are: {as_is:.1%}; after the page's prepare: {after:.1%}")
    assert after >= as_is - 0.02, (as_is, after)


def test_trace_strings_holding_script_render_as_text(browser, small_run, tmp_path):
    from pipetrace.views.html import write_report

    path = write_report(hostile_trace(small_run[0]), tmp_path / "hostile.html")
    visit = Visit(browser, path)
    page = visit.page
    page.locator(".pick").nth(1).click()  # a summary set by JavaScript, from the hostile sample
    page.locator("#question-1 .option").first.click()
    draw_seven(page)
    page.wait_for_function("window.pipetrace.lastDrawing !== null")
    assert page.evaluate("window.__pwned") is None
    assert "<script>window.__pwned = 1</script>" in page.locator("#insights").inner_text()
    assert "<script>window.__pwned = 1</script>" in page.locator("h1").inner_text()
    assert "</script><script>window.__pwned=3</script>" in page.locator('[data-trace="sample"]').inner_text()
    assert visit.outside_requests() == []  # <img src=x> stayed text: nothing was fetched
    page.close()


def test_full_page_screenshot_is_kept(browser, small_run):
    """test-artifacts/report.png: the whole page after a sample switch, a drawing and two answers."""
    visit = Visit(browser, small_run[1] / "report.html")
    page, trace = visit.page, small_run[0]
    wrong = next(i for i, p in enumerate(trace.samples) if not p.correct)
    page.locator(f'.pick[data-sample="{wrong}"]').click()
    draw_seven(page)
    page.wait_for_function("window.pipetrace.lastDrawing !== null")
    page.locator(f'#question-1 .option[data-option="{trace.quiz[0].answer}"]').click()
    page.locator(f'#question-2 .option[data-option="{(trace.quiz[1].answer + 1) % len(trace.quiz[1].options)}"]').click()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    assert visit.errors() == []
    page.close()


# ---- other networks (issue 6): a CNN's feature maps, a deep tanh network's drawing pad ------------
def test_cnn_report_shows_feature_maps_that_follow_the_sample(browser, cnn_run):
    trace, folder = cnn_run
    visit = Visit(browser, folder / "report.html")
    page = visit.page
    grid = page.locator('[data-trace="sample"] [data-role="maps"]').first
    assert grid.is_visible()
    maps = grid.locator(".maps img")
    assert maps.count() == min(16, len(next(l for l in trace.prediction.layers if l.kind == "Conv2D").details["feature_maps"]))
    box = maps.first.bounding_box()
    assert box["width"] > 20 and box["height"] > 20
    assert page.locator('[data-trace="sample"] [data-step]').count() == len(trace.prediction.layers)
    before = maps.evaluate_all("imgs => imgs.map(i => i.src)")
    other = next(i for i, p in enumerate(trace.samples) if p.sample != trace.prediction.sample)
    page.locator(f'.pick[data-sample="{other}"]').click()
    after = maps.evaluate_all("imgs => imgs.map(i => i.src)")
    assert after != before
    shown = page.locator('[data-trace="sample"] .probs .v').all_inner_texts()
    assert shown == [f"{100 * v:.2f}%" for v in trace.samples[other].output_layer.values]
    assert "cannot run this one live" in page.locator("#draw").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-cnn.png"), full_page=True)
    assert visit.errors() == [] and visit.outside_requests() == []
    page.close()


def test_deep_tanh_drawing_pad_works_and_agrees_with_keras(browser, deep_run):
    import keras

    from pipetrace.data import load_mnist

    trace, folder = deep_run
    visit = Visit(browser, folder / "report.html")
    page = visit.page
    draw_seven(page)
    page.wait_for_function("window.pipetrace.lastDrawing !== null")
    drawing = page.evaluate("window.pipetrace.lastDrawing")
    assert abs(sum(drawing["probabilities"]) - 1) < 1e-9
    assert [len(a) for a in drawing["activations"]] == [64, 32, len(trace.dataset["class_names"])]
    assert min(drawing["activations"][0]) < 0  # tanh, not ReLU
    root = page.locator('[data-trace="draw"]')
    assert root.locator('[data-part="predicted"]').inner_text() == trace.dataset["class_names"][drawing["predicted"]]
    assert "Tanh gave values" in root.locator('[data-kind="Dense"] [data-part="summary"]').first.inner_text()
    assert "Inactive at prediction time" in root.locator('[data-kind="Dropout"] [data-part="summary"]').first.inner_text()

    model = keras.models.load_model(folder / "model.keras")
    x = load_mnist().x_test[:200].reshape(200, -1).astype(np.float32) / np.float32(255)
    expected = model.predict(x, verbose=0)
    got = np.array(page.evaluate("xs => window.pipetrace.predict(xs)", x.tolist()))
    difference = float(np.abs(got - expected).max())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "js-vs-keras-deep-tanh.txt").write_text(
        f"784 -> Dense(64, tanh) -> Dropout -> Dense(32, tanh) -> Dropout -> Dense(10, softmax), 200 test images: "
        f"max |JavaScript - Keras| probability difference {difference:.3g}\n")
    assert difference < 1e-4
    assert visit.errors() == []
    page.close()


ACTIVATIONS = ["gelu", "elu", "selu", "silu", "leaky_relu", "sigmoid", "linear", "relu"]


def test_every_activation_matches_keras(visit):
    """Each activation the page knows, on values from -8 to 8, against keras.activations (float64 in, as in JS);
    one page load, each activation checked (and named when it fails) on its own."""
    import keras

    z = np.linspace(-8, 8, 801)
    worst = {}
    for activation in ACTIVATIONS:
        expected = keras.ops.convert_to_numpy(keras.activations.get(activation)(z.astype(np.float64)))
        got = np.array(visit.page.evaluate(
            "([name, z]) => window.pipetrace.activations[name](z)", [activation, z.tolist()]))
        worst[activation] = float(np.abs(got - expected).max())
    assert {name: error for name, error in worst.items() if not error < 1e-6} == {}


def test_mode_bar_switches_views(visit, small_run):
    page = visit.page
    buttons = page.locator(".mode-bar .mode")
    assert buttons.all_inner_texts() == ["trace", "walk", "quiz", "math", "explain", "cheatsheet"]
    assert page.locator("section#training").is_visible() and not page.locator("section#walk").is_visible()
    page.locator('.mode[data-mode="walk"]').click()
    assert page.locator("section#walk").is_visible() and not page.locator("section#training").is_visible()
    assert page.locator("#walk-where").inner_text() == "Step 1 of 7"
    page.locator("#walk-next").click()
    assert page.locator("#walk-where").inner_text() == "Step 2 of 7"
    assert page.locator('.walk-step[data-step="1"]').is_visible() and not page.locator('.walk-step[data-step="0"]').is_visible()
    page.locator('.mode[data-mode="math"]').click()
    assert page.locator("section#math").is_visible() and not page.locator("section#walk").is_visible()
    from pipetrace.modes.arithmetic import arithmetic

    assert f"= {arithmetic(small_run[0]).loss:.6f}" in page.locator("section#math").inner_text()
    page.locator('.mode[data-mode="quiz"]').click()
    assert page.locator("section#quiz").is_visible() and not page.locator("section#math").is_visible()
    page.locator('.mode[data-mode="trace"]').click()
    assert page.locator("section#prediction").is_visible() and not page.locator("section#cheatsheet").is_visible()
    assert page.locator('.mode[data-mode="trace"]').get_attribute("aria-pressed") == "true"
    assert visit.errors() == [] and visit.outside_requests() == []


def test_section_links_reach_their_section_from_every_mode(visit):
    """The header's links go to their section whichever mode hides it: the mode that shows it comes first.
    One page load, every mode in turn (each link starts from the mode clicked just before it)."""
    page = visit.page
    for mode, ident in [(m, i) for m in ("walk", "quiz", "math", "explain", "cheatsheet")
                        for i in ("training", "insights", "evaluation")]:
        page.locator(f'.mode[data-mode="{mode}"]').click()
        page.locator(f'header.hero a[href="#{ident}"]').click()
        section = page.locator(f"section#{ident}")
        assert section.is_visible(), (mode, ident)
        page.wait_for_function("id => { const top = document.getElementById(id).getBoundingClientRect().top;"
                               " return top >= 0 && top < innerHeight; }", arg=ident)  # scrolled to it (smoothly)
        assert page.locator('.mode[aria-pressed="true"]').get_attribute("data-mode") == "trace"


def test_an_address_with_a_panels_hash_opens_its_mode(browser, small_run):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((small_run[1] / "report.html").resolve().as_uri() + "#math")
    page.wait_for_load_state("load")
    assert page.locator("section#math").is_visible() and not page.locator("section#training").is_visible()
    assert page.locator('.mode[aria-pressed="true"]').get_attribute("data-mode") == "math"
    page.close()


OVERFLOWING = """() => Array.from(document.querySelectorAll("main *, header *")).filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.right > innerWidth + 1 && !e.closest("pre"); }).map(e => e.tagName + "." + e.className + "#" + e.id)"""


def test_every_mode_fits_a_phone_screen(browser, small_run):
    """On a 390-pixel-wide phone nothing is wider than the screen, in any mode: no sideways scrolling, not even
    inside a scroll box (the epoch table becomes one card per epoch), but for code, which scrolls in its box."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto((small_run[1] / "report.html").resolve().as_uri())
    page.wait_for_load_state("load")
    for mode in ["trace", "walk", "quiz", "math", "explain", "cheatsheet"]:
        page.locator(f'.mode[data-mode="{mode}"]').click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, mode
        assert page.evaluate(OVERFLOWING) == [], mode
    page.locator('.mode[data-mode="trace"]').click()
    first = page.locator("table.epochs tbody tr").first
    assert first.locator('td[data-label="test accuracy"]').is_visible()
    assert first.locator("td.obs").bounding_box()["width"] > 300  # what happened: the card's full width
    page.close()


UNIT_PIXELS = """j => { const c = document.querySelector(`.unit[data-unit="${j}"] canvas`);
  return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data); }"""


def test_each_hidden_units_picture_is_its_weights_in_model_keras(visit, small_run):
    """Unit j's square, pixel i: red for w[i, j] > 0, blue for < 0, as deep as |w| / max |w[:, j]| (the saved model's
    kernel, read by Keras); units marked silent are exactly those Keras gives 0 on every image the page holds."""
    import keras

    trace, folder = small_run
    model = keras.models.load_model(folder / "model.keras")
    dense = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
    kernel = np.asarray(dense.kernel)
    page = visit.page
    assert page.evaluate("window.pipetrace.unitsDrawn") == kernel.shape[1]
    for j in (0, 1, kernel.shape[1] // 2, kernel.shape[1] - 1):
        rgba = np.array(page.evaluate(UNIT_PIXELS, j)).reshape(-1, 4)
        w = kernel[:, j]
        depth = np.floor(255 * np.abs(w) / np.abs(w).max() + 0.5)
        assert np.abs(rgba[:, 0] - np.where(w > 0, 255, 255 - depth)).max() <= 1
        assert np.abs(rgba[:, 1] - (255 - depth)).max() <= 1
        assert np.abs(rgba[:, 2] - np.where(w < 0, 255, 255 - depth)).max() <= 1
    images = np.array([np.asarray(p.image, np.float32).reshape(-1) / 255 for p in [trace.prediction, *trace.samples]])
    hidden = keras.Model(model.inputs, dense.output).predict(images, verbose=0)
    silent = {int(f.get_attribute("data-unit")) for f in page.locator(".unit.silent").all()}
    assert silent == set(np.flatnonzero((hidden <= 0).all(axis=0)).tolist())
    followed = page.locator('.unit[data-unit="0"] figcaption').inner_text()
    assert followed.startswith(f"#0 · {hidden[0, 0]:.2f}")
    assert visit.errors() == []


def test_the_loss_charts_switch_to_a_log_scale_and_back(visit):
    page = visit.page
    toggle = page.locator("section#training .scale-toggle")
    linear, log = page.locator("section#training .scale-linear svg.chart"), page.locator("section#training .scale-log svg.chart")
    assert linear.count() == log.count() == 2 and linear.first.is_visible() and not log.first.is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    assert all(chart.is_visible() for chart in log.all()) and not any(chart.is_visible() for chart in linear.all())
    assert "log scale" in log.first.text_content()
    toggle.click()
    assert linear.first.is_visible() and not log.first.is_visible() and visit.errors() == []


def test_the_network_unit_by_unit_agrees_with_keras(visit, small_run):
    """Cells, lines and the written-out weighted sum for the followed image, each against model.keras: the predicted
    class's unit is chosen first; a hidden unit chosen by its cell shows Keras' weighted sum and output."""
    import keras

    trace, folder = small_run
    model = keras.models.load_model(folder / "model.keras")
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    x = np.asarray(trace.prediction.image, np.float32).reshape(1, -1) / 255
    hidden = keras.Model(model.inputs, dense[0].output).predict(x, verbose=0)[0]
    probabilities = model.predict(x, verbose=0)[0]
    kernel, bias = (np.asarray(w, np.float64) for w in dense[0].get_weights())
    page = visit.page
    chosen = page.evaluate("window.pipetrace.chosenUnit")
    assert (chosen["layer"], chosen["unit"]) == (1, int(probabilities.argmax()))
    assert chosen["output"] == pytest.approx(float(probabilities.max()), abs=1e-5)
    assert page.locator(".net-line").count() == 6
    assert page.locator(".net-cell").count() == 784 + hidden.size + probabilities.size

    unit = int(hidden.argmax())
    page.locator(f'.net-cell[data-layer="0"][data-unit="{unit}"]').click()
    chosen = page.evaluate("window.pipetrace.chosenUnit")
    terms = x[0].astype(np.float64) * kernel[:, unit]
    z = terms.sum() + bias[unit]
    assert chosen["unit"] == unit and chosen["z"] == pytest.approx(z, abs=1e-4)
    assert chosen["output"] == pytest.approx(float(hidden[unit]), abs=1e-4)
    assert chosen["top"] == [int(i) for i in np.argsort(-np.abs(terms), kind="stable")[:8]]
    text = page.locator(".net-sum").inner_text()
    assert text.startswith(f"Unit #{unit} of layer 1 ('{dense[0].name}', relu)")
    assert f"= {z:.4f}" in text and f"relu(z) = {hidden[unit]:.4f}" in text
    row, col = divmod(chosen["top"][0], 28)
    assert f"pixel ({row}, {col})" in text.splitlines()[2]

    page.locator(".net-unit").fill("3")  # the keyboard's way: the layer and unit fields
    page.locator(".net-unit").dispatch_event("change")
    assert page.evaluate("window.pipetrace.chosenUnit")["unit"] == 3 and visit.errors() == []


def test_the_first_test_images_show_keras_answers_and_trace_on_a_click(visit, small_run):
    """Under each picture Keras' own answer (predict on the same 100 images); a click traces that image through
    every layer in the page, agreeing with Keras to 1e-5."""
    import keras

    trace, folder = small_run
    model = keras.models.load_model(folder / "model.keras")
    gallery = trace.evaluation.gallery
    assert [g.index for g in gallery] == list(range(100))
    x = np.array([np.asarray(g.image, np.float32).reshape(-1) for g in gallery]) / np.float32(255)
    probabilities = model.predict(x, verbose=0)
    page = visit.page
    buttons = page.locator(".test-image")
    assert buttons.count() == 100
    names = trace.dataset["class_names"]
    for k in (0, 1, 37, 99):
        said = int(probabilities[k].argmax())
        assert buttons.nth(k).locator("span").inner_text().startswith(f"{names[said]} · ")
        assert ("wrong" in buttons.nth(k).get_attribute("class")) == (said != gallery[k].label)
    wrong = next(k for k in range(100) if probabilities[k].argmax() != gallery[k].label)
    buttons.nth(wrong).click()
    traced = page.evaluate("window.pipetrace.galleryTrace")
    assert traced["index"] == wrong and np.abs(np.array(traced["probabilities"]) - probabilities[wrong]).max() < 1e-5
    root = page.locator('[data-trace="gallery"]')
    assert root.locator('[data-part="predicted"]').inner_text() == names[int(probabilities[wrong].argmax())]
    assert "wrong" in root.locator('[data-part="verdict"]').inner_text()
    assert buttons.nth(wrong).get_attribute("aria-pressed") == "true" and visit.errors() == []
