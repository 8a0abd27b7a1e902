"""The lab page's charts (uPlot), settings in the address, the lessons panel and the phone layout, in Chromium
against the real `pipetrace lab` (the fixtures and helpers of test_lab_browser.py).

Every chart number is checked against the run's own: the batch losses and the epoch curves against its saved
trace, the smoothing against the report's `smoothed`. Waits are on what the page shows (guards only).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytest.importorskip("distributed")
from test_lab_browser import GUARD_MS, LabPage, lab  # noqa: E402,F401 (the module's lab and Chromium)
from test_report_browser import browser  # noqa: E402,F401

from pipetrace.modes.experiment import label  # noqa: E402
from pipetrace.modes.lesson import lesson_named  # noqa: E402
from pipetrace.trace.reading import read_trace  # noqa: E402
from pipetrace.views.html.charts import smoothed  # noqa: E402

PHONE = {"width": 390, "height": 844}
LINK = "#hidden=24&activation=tanh&learning_rate=0.01&batch_size=32&epochs=1&limit=600&seed=3&token=zzz&bogus=1"


def api(page: LabPage, path: str):
    """GET `path` as the page does (its token), the answer's JSON."""
    return page.page.evaluate("(path) => window.pipetraceLab.api(path).then((r) => r.json())", path)


def saved_trace(page: LabPage, run_id: str, folder: Path):
    """The run's trace.json, as the lab serves it, read and validated as the report reads it."""
    text = page.page.evaluate("(p) => window.pipetraceLab.api(p).then((r) => r.text())", f"/api/runs/{run_id}/trace.json")
    path = folder / f"{run_id}.json"
    path.write_text(text)
    return read_trace(path)


def chart(page: LabPage, name: str):
    return page.page.evaluate("(name) => window.pipetraceLab.charts[name].data", name)


def fits(page: LabPage) -> bool:
    return page.page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def test_the_vendored_chart_library_is_the_recorded_one():
    static = Path(__file__).resolve().parents[1] / "src" / "pipetrace" / "lab" / "static"
    recorded = (static / "VENDORED.md").read_text()
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"):
        assert hashlib.sha256((static / name).read_bytes()).hexdigest() in recorded
    assert "(v1.6.32)" in (static / "uPlot.iife.min.js").read_text()[:80] and "1.6.32" in recorded


def test_a_link_fills_the_form_train_uses_it_and_the_charts_draw_the_runs_numbers_on_a_phone(browser, lab, tmp_path):  # noqa: F811
    page = LabPage(browser, lab + LINK.replace("#", "&", 1))  # the printed address (#login=CODE), then the settings
    p = page.page
    try:
        p.set_viewport_size(PHONE)
        for name, value in (("hidden", "24"), ("learning_rate", "0.01"), ("batch_size", "32"), ("epochs", "1"),
                            ("limit", "600"), ("seed", "3"), ("activation", "tanh")):
            expect(p.locator(f"#{name}")).to_have_value(value)
        assert "token" not in p.evaluate("location.hash") and "bogus" not in p.evaluate("location.hash")
        p.click("#train")
        expect(p.locator("#run-status")).to_contain_text("done", timeout=GUARD_MS)
        run = next(r for r in api(page, "/api/runs")["runs"] if r["settings"].get("hidden") == [24])
        assert {k: run["settings"][k] for k in ("hidden", "activation", "learning_rate", "batch_size", "epochs", "limit", "seed")} == \
            {"hidden": [24], "activation": "tanh", "learning_rate": 0.01, "batch_size": 32, "epochs": 1, "limit": 600, "seed": 3}
        trace = saved_trace(page, run["id"], tmp_path)

        raw, smooth = chart(page, "batch")[1:]  # each batch's loss as the run measured it (events: 5 digits)
        measured = [loss for epoch in trace.training.epochs for loss in epoch.batch_losses]
        assert raw == [float(f"{v:.5g}") for v in measured] and len(raw) == -(-600 // 32)
        assert smooth == pytest.approx(smoothed(raw), rel=1e-12, abs=0)  # the report's smoothing, same numbers

        epochs, loss, test_loss = chart(page, "loss")
        _, accuracy, test_accuracy = chart(page, "accuracy")
        last = trace.training.epochs[-1]
        assert epochs == [1] and loss == pytest.approx([last.loss]) and test_loss == pytest.approx([last.test_loss])
        assert test_accuracy == pytest.approx([100 * last.test_accuracy]) and accuracy == pytest.approx([100 * last.accuracy])

        assert p.locator("#loss").get_attribute("data-scale") == "linear"
        p.check("#log-scale")
        assert p.evaluate("window.pipetraceLab.charts.batch.scales.y.distr") == 3  # uPlot's log scale
        assert p.locator("#loss").get_attribute("data-scale") == "log" == p.locator("#epoch-loss").get_attribute("data-scale")
        assert chart(page, "batch")[1] == raw  # the same numbers, drawn on another scale
        p.uncheck("#log-scale")
        assert p.evaluate("window.pipetraceLab.charts.batch.scales.y.distr") == 1

        p.wait_for_selector("#report-section:not([hidden])")
        assert fits(page), p.evaluate("document.scrollingElement.scrollWidth")  # 390 px: nothing wider than the screen

        p.fill("#epochs", "4")
        assert "epochs=4" in p.evaluate("location.hash") and "hidden=24&" in p.evaluate("location.hash")
        p.click("#copy-link")
        link = p.locator("#share-link").input_value()
        assert link == page.base + "/" + p.evaluate("location.hash") and "token" not in link
        assert page.errors() == [] and page.outside_requests() == []  # a CSP violation is a console error
    finally:
        p.close()


def test_two_compared_runs_have_their_epoch_curves_overlaid_readable_on_a_phone(browser, lab, tmp_path):  # noqa: F811
    page = LabPage(browser, lab)
    p = page.page
    try:
        ids = [None]
        for seed in (5, 6):
            page.fill(epochs=1, limit=600, seed=seed, batch_size=64, hidden="16")
            p.click("#train")  # the status says the last run's "done" until this one is followed
            p.wait_for_function("(last) => (window.pipetraceLab.following || {}).id !== last", arg=ids[-1], timeout=GUARD_MS)
            expect(p.locator("#run-status")).to_contain_text("done", timeout=GUARD_MS)
            ids.append(p.evaluate("window.pipetraceLab.following.id"))
        ids = ids[1:]
        p.set_viewport_size(PHONE)
        for run_id in ids:
            p.locator(f'#runs input[value="{run_id}"]').check()
        p.click("#compare")
        expect(p.locator("#compare-accuracy")).to_be_attached()
        data = {"loss": chart(page, "compareLoss"), "accuracy": chart(page, "compareAccuracy")}
        a_and_b = p.evaluate("[...document.querySelectorAll('#runs input:checked')].map((i) => i.value)")  # list order
        assert sorted(a_and_b) == sorted(ids)
        labels = p.evaluate("window.pipetraceLab.charts.compareLoss.series.map((s) => s.label)")
        assert labels[1] == f"A {a_and_b[0]} training" and labels[3] == f"B {a_and_b[1]} training"
        for n, run_id in enumerate(a_and_b):
            trace = saved_trace(page, run_id, tmp_path)
            rows = [trace.training.start, *trace.training.epochs]
            assert data["loss"][0] == [row.epoch for row in rows] == [0, 1]
            assert data["loss"][1 + 2 * n] == pytest.approx([row.loss for row in rows])
            assert data["loss"][2 + 2 * n] == pytest.approx([row.test_loss for row in rows])
            assert data["accuracy"][2 + 2 * n] == pytest.approx([100 * row.test_accuracy for row in rows])
        assert fits(page), p.evaluate("document.scrollingElement.scrollWidth")
        assert page.errors() == [] and page.outside_requests() == []
    finally:
        p.close()


def test_the_lesson_panel_trains_every_variant_and_shows_the_lessons_reading(browser, lab, tmp_path):  # noqa: F811
    page = LabPage(browser, lab)
    p = page.page
    lesson = lesson_named("dead-relus")
    try:
        p.select_option("#lesson", lesson.name)
        p.fill("#lesson-limit", "100000")  # more than MNIST has: every variant refused, in the lab's words
        p.dispatch_event("#lesson-limit", "change")
        expect(p.locator("#lesson-variants .refusal")).to_have_count(len(lesson.values))
        expect(p.locator("#lesson-variants .refusal").first).to_contain_text("--limit 100000 is larger than the 60000")
        expect(p.locator("#lesson-queue")).to_be_disabled()
        p.fill("#lesson-limit", "600")
        p.dispatch_event("#lesson-limit", "change")
        expect(p.locator("#lesson-variants .refusal")).to_have_count(0)
        expect(p.locator("#lesson-question")).to_have_text(lesson.question)
        expect(p.locator("#lesson-variants li")).to_have_count(len(lesson.values))
        expect(p.locator("#lesson-variants")).to_contain_text("600 training images")
        p.locator("#lesson-variants li").nth(1).locator("button").click()  # the form, then the address, take it
        expect(p.locator("#learning_rate")).to_have_value(str(lesson.values[1]))
        assert "learning_rate=0.5" in p.evaluate("location.hash")
        p.click("#lesson-queue")
        expect(p.locator("#lesson-status")).to_contain_text("Training 2 variants", timeout=GUARD_MS)
        reading = p.locator("#lesson-reading p")
        expect(reading.first).to_be_attached(timeout=GUARD_MS)
        runs = {r["id"]: r for r in api(page, "/api/runs")["runs"]}
        status = p.locator("#lesson-status").inner_text()
        ids = [status.split(f"{label(lesson.setting, value)} as run ")[1].split(",")[0].split(".")[0].strip()
               for value in lesson.values]
        assert [runs[i]["settings"]["learning_rate"] for i in ids] == lesson.values
        traces = [(label(lesson.setting, v), v, saved_trace(page, i, tmp_path)) for v, i in zip(lesson.values, ids)]
        assert reading.all_inner_texts() == lesson.read(traces)  # the same sentences as `pipetrace learn lesson`
        assert page.errors() == [] and page.outside_requests() == []
    finally:
        p.close()


def test_a_link_with_bad_settings_fills_the_form_and_train_shows_the_servers_words(browser, lab):  # noqa: F811
    page = LabPage(browser, lab + "&epochs=0&optimizer=nope")  # the printed address (#login=CODE), then the settings
    p = page.page
    try:
        expect(p.locator("#optimizer")).to_have_value("nope")
        p.click("#train")
        expect(p.locator('p.error[data-for="epochs"]')).to_contain_text("--epochs must be a whole number of at least 1")
        page.fill(epochs=1)
        p.click("#train")
        expect(p.locator('p.error[data-for="optimizer"]')).to_contain_text("--optimizer must be one of adam")
        assert page.outside_requests() == []
    finally:
        p.close()
