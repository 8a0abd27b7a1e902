"""Pause, Step, Resume and the replay slider in the lab's page, in Chromium against the real `pipetrace lab`.

The run is paused while it waits behind a long run (one worker), so it trains exactly one batch and
pauses; each Step is proven by the batch count the loss chart holds, never by timing. The replay's
numbers are compared with the run's own trace.json.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

pytest.importorskip("distributed")
from test_lab_browser import GUARD_MS, TOKEN, lab, page  # noqa: E402,F401 (the module's lab, a page on it)
from test_report_browser import browser  # noqa: E402,F401 (the module's Chromium)


def _post(base: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(base + path, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_pause_step_resume_in_the_page_then_the_replay_slider_shows_the_traces_numbers(page):  # noqa: F811
    p, base = page.page, page.base
    blocker = _post(base, "/api/runs", {"epochs": 500, "limit": 600, "batch_size": 16})["id"]
    page.fill(epochs=2, limit=600, batch_size=100)  # 6 batches an epoch
    p.click("#train")
    expect(p.locator("#pause")).to_be_enabled()
    assert p.locator("#resume").is_disabled() and p.locator("#step").is_disabled()
    p.evaluate("window.pipetraceLab.on('event:paused', (d) => { window.pausedSeen = d; })")  # what the page was sent
    p.click("#pause")  # queued behind the long run: it pauses after its first batch
    expect(p.locator("#resume")).to_be_enabled()
    _post(base, f"/api/runs/{blocker}/stop")
    status = p.locator("#run-status")
    expect(status).to_contain_text("paused at epoch 1, batch 1 of 6", timeout=GUARD_MS)
    expect(p.locator("#paused-panel")).to_be_visible()
    assert p.locator("#loss").get_attribute("data-batches") == "1"
    assert p.locator("#paused-panel .bar").count() == 10
    hidden = p.evaluate("window.pausedSeen.hidden")  # the first hidden layer's outputs, drawn as after an epoch
    zero = hidden.count(0)
    assert len(hidden) == 128 and min(hidden) >= 0
    expect(p.locator("#paused-panel figure.hidden figcaption")).to_have_text(
        f"the first hidden layer: 128 outputs, largest {'%#.4g' % max(hidden)}" + (f", {zero} exactly 0" if zero else ""))
    assert p.locator("#paused-panel figure.hidden canvas").evaluate("(c) => [c.width, c.height]") == [320, 40]
    expect(p.locator("#paused-numbers")).to_contain_text("Paused after epoch 1, batch 1 of 6 (batch 1 of the run)")
    assert p.locator("#pause").is_disabled()
    for n in (2, 3):
        p.click("#step")
        expect(status).to_contain_text(f"paused at epoch 1, batch {n} of 6", timeout=GUARD_MS)
        assert p.locator("#loss").get_attribute("data-batches") == str(n)  # exactly one more batch
        expect(p.locator("#step")).to_be_enabled()
    p.click("#resume")
    expect(status).to_contain_text("done", timeout=GUARD_MS)
    expect(p.locator("#paused-panel")).to_be_hidden()
    for name in ("pause", "resume", "step"):
        assert p.locator(f"#{name}").is_disabled()

    # the finished run replays from its trace
    run_id = p.evaluate("window.pipetraceLab.following.id")
    trace = p.request.get(f"{base}/api/runs/{run_id}/trace.json").json()["training"]
    epochs = [trace["start"], *trace["epochs"]]
    slider = p.locator("#replay-epoch")
    expect(p.locator("#replay-section")).to_be_visible(timeout=GUARD_MS)
    expect(slider).to_have_attribute("max", "2")
    slider.focus()
    for key, chosen in (("Home", 0), ("ArrowRight", 1), ("End", 2)):
        p.keyboard.press(key)
        expect(p.locator("#replay-value")).to_contain_text(f"epoch {chosen}")
        shown = dict(zip(p.locator("#replay-shown dt").all_inner_texts(), p.locator("#replay-shown dd").all_inner_texts()))
        e = epochs[chosen]
        assert float(shown["Train loss"]) == pytest.approx(e["loss"], rel=1e-3)
        assert float(shown["Test loss"]) == pytest.approx(e["test_loss"], rel=1e-3)
        assert float(shown["Train accuracy"].rstrip("%")) == pytest.approx(100 * e["accuracy"], abs=0.05)
        assert float(shown["Test accuracy"].rstrip("%")) == pytest.approx(100 * e["test_accuracy"], abs=0.05)
        assert p.locator("#replay-shown p.observation").inner_text() == e["observation"]
        rows = p.locator("#replay-shown table.replay-table tbody tr")
        assert rows.count() == chosen + 1 and rows.nth(chosen).get_attribute("class") == "chosen"
        losses = [v for x in epochs[:chosen + 1] for v in x.get("batch_losses", [])]
        assert p.locator("#replay-shown .replay-loss").get_attribute("data-batches") == str(len(losses))
        drawn = p.evaluate("window.pipetraceLab.charts.replay && window.pipetraceLab.charts.replay.data")
        if losses:  # the chart's own data (uPlot's, drawn in its canvas) is the trace's losses
            assert drawn == [list(range(1, len(losses) + 1)), losses]
            assert p.locator("#replay-shown .replay-loss canvas").count() == 1
        else:
            assert drawn is None and p.locator("#replay-shown p.caption").inner_text() == "no batch losses recorded to here"
    assert page.errors() == [] and page.outside_requests() == []


def test_a_finished_run_refuses_pause_in_words_and_replays_from_the_runs_list(page):  # noqa: F811
    p, base = page.page, page.base
    page.fill(epochs=1, limit=600)
    p.click("#train")
    expect(p.locator("#run-status")).to_contain_text("done", timeout=GUARD_MS)
    run_id = p.evaluate("window.pipetraceLab.following.id")
    refused = p.request.post(f"{base}/api/runs/{run_id}/pause", headers={"Authorization": f"token {TOKEN}"})
    assert refused.status == 409 and "has already ended (done)" in refused.json()["error"]
    p.reload()  # a fresh page: the replay comes from the runs list
    p.wait_for_selector("#runs button.replay", timeout=GUARD_MS)
    assert p.locator("#replay-section").is_hidden()
    p.locator("#runs tbody tr", has_text=run_id).locator("button.replay").click()
    expect(p.locator("#replay-run")).to_have_text(run_id)
    expect(p.locator("#replay-epoch")).to_have_attribute("max", "1")  # the untrained start and one epoch
    assert page.errors() == [] and page.outside_requests() == []


def test_a_hostile_trace_replays_as_text_with_dashes_for_what_is_not_a_number(page):  # noqa: F811
    p = page.page
    page.fill(epochs=1, limit=600)
    p.click("#train")
    expect(p.locator("#run-status")).to_contain_text("done", timeout=GUARD_MS)
    run_id = p.evaluate("window.pipetraceLab.following.id")
    hostile = {"training": {"start": "<b>0</b>", "epochs": [
        {"epoch": "<img src=x onerror=alert(1)>", "loss": "1e9", "accuracy": None, "test_loss": 0.5, "test_accuracy": 2,
         "observation": "<script>alert(1)</script>", "batch_losses": [1.5, "x", None, 0.5]}, 5, None]}}
    p.route(f"**/api/runs/{run_id}/trace.json", lambda route: route.fulfill(json=hostile))
    p.locator("#runs tbody tr", has_text=run_id).locator("button.replay").click()
    expect(p.locator("#replay-value")).to_have_text("epoch ?")
    expect(p.locator("#replay-epoch")).to_have_attribute("max", "0")  # the one epoch that is an object
    shown = dict(zip(p.locator("#replay-shown dt").all_inner_texts(), p.locator("#replay-shown dd").all_inner_texts()))
    assert shown == {"Train loss": "-", "Train accuracy": "-", "Test loss": "0.5000", "Test accuracy": "-"}
    assert p.locator("#replay-shown p.observation").inner_text() == "<script>alert(1)</script>"
    assert p.locator("#replay-shown script, #replay-shown img, #replay-shown b").count() == 0
    assert p.locator("#replay-shown .replay-loss").get_attribute("data-batches") == "4"
    assert p.evaluate("window.pipetraceLab.charts.replay.data") == [[1, 2, 3, 4], [1.5, None, None, 0.5]]
    assert page.errors() == [] and page.outside_requests() == []
