"""The lab's pictures of the network in Chromium: unit pictures, the network diagram and the test-image grid
appear and are redrawn after each epoch event (counted per epoch, never timed); a click writes a unit's weighted
sum and shows a test image's probabilities; no CSP errors, no outside requests, no overflow on a 390-px phone.

The numbers themselves are checked against Keras in tests/test_lab_inside.py.
"""

from __future__ import annotations

import contextlib

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

pytest.importorskip("distributed")
from test_lab_browser import GUARD_MS, LabPage, lab  # noqa: E402,F401 (one lab for this module)
from test_report_browser import browser  # noqa: E402,F401 (the module's Chromium)

PIXELS, HIDDEN, CLASSES = 784, 128, 10


# what each part showed each time its data-epoch changed, noted before the page handles the next event
# (a MutationObserver's callback runs right after the event's handler): one note per epoch event, never timed
NOTE_EACH_DRAW = """
window.pipetraceDraws = [];
new MutationObserver((records) => {
  for (const record of records) {
    const part = record.target, all = (selector) => part.querySelectorAll(selector);
    window.pipetraceDraws.push({
      part: part.id, epoch: part.dataset.epoch,
      units: all("figure.unit").length, captions: [...all("figcaption")].map((c) => c.textContent),
      intro: (part.querySelector(".intro") || {}).textContent,
      cells: all("rect.net-cell").length, lines: all("line.net-line").length,
      images: all(".test-image").length, answered: all(".test-image.right, .test-image.wrong").length,
      confusion_rows: all("table.confusion tr").length,
    });
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-epoch"] });
"""


@pytest.fixture(scope="module")
def trained(browser, lab):  # noqa: F811
    """A page that trained the default network (784-128-10) for 2 epochs on 600 images, with what each part
    showed after each epoch event: {(part, epoch): note}."""
    page = LabPage(browser, lab)
    p = page.page
    p.add_init_script(NOTE_EACH_DRAW)
    p.reload()
    p.wait_for_selector("#dataset option", state="attached")
    page.fill(epochs=2, limit=600)
    p.click("#train")
    expect(p.locator("#run-status")).to_contain_text("done", timeout=GUARD_MS)
    for part in ("units-part", "diagram-part", "grid-part"):
        p.wait_for_selector(f'#{part}[data-epoch="2"]', state="attached", timeout=GUARD_MS)
    notes = p.evaluate("window.pipetraceDraws")
    seen = {}
    for note in notes:
        if note["epoch"] is not None:
            seen.setdefault((note["part"], int(note["epoch"])), []).append(note)
    yield page, seen
    p.close()


def test_the_pictures_appear_and_are_redrawn_after_each_epoch(trained):
    page, seen = trained
    assert page.errors() == []
    assert sorted(seen) == [(part, epoch) for part in ("diagram-part", "grid-part", "units-part") for epoch in (1, 2)]
    for epoch in (1, 2):
        [units], [diagram], [grid] = (seen[(part, epoch)] for part in ("units-part", "diagram-part", "grid-part"))
        assert units["units"] == HIDDEN and len(units["captions"]) == HIDDEN
        assert f"After epoch {epoch}." in units["intro"] and "gave 0 for all 100 test images of the grid" in units["intro"]
        assert diagram["cells"] == PIXELS + HIDDEN + CLASSES and diagram["lines"] == 6
        assert f"After epoch {epoch}." in diagram["intro"]
        assert grid["images"] == 100 and grid["answered"] == 100 and grid["confusion_rows"] == 1 + CLASSES
        assert f"After epoch {epoch}:" in grid["intro"] and "of 100 right" in grid["intro"]
    # each unit's output for the followed image moved between the epochs
    assert seen[("units-part", 1)][0]["captions"] != seen[("units-part", 2)][0]["captions"]


def test_a_click_on_a_unit_writes_its_weighted_sum_and_a_click_on_an_image_its_probabilities(trained):
    page, _ = trained
    p = page.page
    p.locator('#diagram-part rect[data-layer="0"][data-unit="5"]').dispatch_event("click")
    total = p.locator("#diagram-part .net-sum")
    expect(total).to_contain_text("Unit #5 of layer 1 ('hidden', relu), for the followed test image after epoch 2:")
    text = total.inner_text()
    assert text.count("  pixel (") == 8 and "the other 776 terms add up to" in text and "bias b = " in text
    assert "relu(z) = " in text
    p.locator('#grid-part .test-image[data-index="7"]').click()
    trace = p.locator("#grid-part .test-trace")
    expect(trace).to_contain_text("Test image #7")
    assert trace.locator(".bar").count() == CLASSES
    layers = trace.locator(".through-layer")  # the run ended: every layer, as the trained network computed it
    assert layers.count() == 2
    expect(layers.nth(0)).to_contain_text("Layer 1: hidden (128 units, relu)")
    expect(layers.nth(0)).to_contain_text(" of 128 outputs above 0")
    expect(layers.nth(1)).to_contain_text("its 10 probabilities; the largest: ")
    assert p.locator('#grid-part .test-image[data-index="7"]').get_attribute("aria-pressed") == "true"
    expect(p.locator("#grid-part .confusion-words")).to_contain_text("not the whole test set")
    trace.locator("button.to-report").click()  # the run is saved: its report traces the image layer by layer
    assert p.locator("#report").get_attribute("src").endswith("/report.html#test-images")
    expect(p.frame_locator("#report").locator("section#test-images")).to_be_visible(timeout=GUARD_MS)
    assert page.errors() == [] and page.outside_requests() == []


def test_the_pictures_fit_a_390_pixel_phone(trained):
    page, _ = trained
    p = page.page
    p.set_viewport_size({"width": 390, "height": 844})
    charts_fitted = "[...document.querySelectorAll('.uplot')].every((u) => u.offsetWidth <= u.parentNode.clientWidth)"
    with contextlib.suppress(PlaywrightTimeout):  # lab-charts.js resizes them when the page handles its resize event
        p.wait_for_function(f"() => {charts_fitted}", timeout=GUARD_MS)
    wide = p.evaluate("""() => [document.documentElement.scrollWidth,
        [...document.querySelectorAll('body *')].filter((n) => n.getBoundingClientRect().right > 391 &&
          !n.closest('.scroll, pre, iframe')).map((n) => n.tagName + '.' + n.className + '#' + n.id).slice(0, 10)]""")
    assert wide[0] <= 390, wide[1]
    assert page.errors() == []


def test_a_convolutional_network_shows_its_filters_and_maps_and_says_why_there_is_no_diagram(browser, lab):  # noqa: F811
    page = LabPage(browser, lab)
    p = page.page
    try:
        page.fill(epochs=1, limit=600)
        p.check("#conv")
        p.click("#train")
        expect(p.locator("#run-status")).to_contain_text("done", timeout=GUARD_MS)
        for part in ("units-part", "diagram-part", "grid-part"):
            p.wait_for_selector(f'#{part}[data-epoch="1"]', state="attached", timeout=GUARD_MS)
        assert p.locator("#units-part .filter").count() == 16
        assert p.locator("#units-part .filter canvas").count() == 32  # each filter and its feature map
        expect(p.locator("#units-part .intro")).to_contain_text("The first layer (conv_1) is convolutional")
        expect(p.locator("#diagram-part .intro")).to_contain_text("Dense layers only; this one has Conv2D")
        assert p.locator("#diagram-part rect").count() == 0
        assert p.locator("#grid-part .test-image.right, #grid-part .test-image.wrong").count() == 100
        assert page.errors() == [] and page.outside_requests() == []
    finally:
        p.close()


def test_a_page_reloaded_mid_run_draws_the_newest_pictures_and_nothing_for_the_older_epochs(browser, lab):  # noqa: F811
    page = LabPage(browser, lab)
    p = page.page
    try:
        p.add_init_script(NOTE_EACH_DRAW)
        page.fill(epochs=500, limit=600, batch_size=16)  # still training at the reload: stopped below
        p.click("#train")
        expect(p.locator("#units-part")).to_have_attribute("data-epoch", re.compile(r"^([2-9]|\d\d+)$"), timeout=GUARD_MS)
        p.reload()  # the lab replays every event so far: `inside` only with the newest epoch
        p.wait_for_selector("#units-part[data-epoch]", state="attached", timeout=GUARD_MS)
        notes = p.evaluate("window.pipetraceDraws")
        first = {}
        for note in notes:
            first.setdefault(note["part"], note)
        assert sorted(first) == ["diagram-part", "grid-part", "units-part"], notes
        assert int(first["units-part"]["epoch"]) >= 2 and first["units-part"]["units"] == HIDDEN
        assert first["diagram-part"]["cells"] == PIXELS + HIDDEN + CLASSES
        assert first["grid-part"]["answered"] == 100
        assert not [n for n in notes if "Not drawn" in (n["intro"] or "")]
        p.click("#stop")
        expect(p.locator("#run-status")).to_contain_text("stopped", timeout=GUARD_MS)
        assert page.errors() == [] and page.outside_requests() == []
    finally:
        p.close()
