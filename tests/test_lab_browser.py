"""The lab's page in a real browser (Debian's Chromium via Playwright) against the real `pipetrace lab`.

One lab (server, cluster, warm worker) for the module. The page is driven as a learner would:
settings, Train, stages, the live loss, epochs, the report; a refused setting; a reload mid-run;
Stop. Waits are on what the page shows, with generous timeouts only as guards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from playwright.sync_api import expect

pytest.importorskip("distributed")
from conftest import ROOT  # noqa: E402
from test_report_browser import browser  # noqa: E402,F401 (the module's Chromium)

TOKEN = "browser-test-token"
GUARD_MS = 240_000


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    runs = tmp_path_factory.mktemp("lab-browser-runs")
    env = {**os.environ, "PIPETRACE_LAB_TOKEN": TOKEN}
    process = subprocess.Popen([sys.executable, "-m", "pipetrace", "lab", "--no-open", "--max-epochs", "1000",
                                "--runs", str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=ROOT)
    process.stdout.readline()
    address = process.stdout.readline().strip()
    yield address
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


class LabPage:
    def __init__(self, browser, address):
        self.base = address.split("/#")[0]
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.console, self.requests = [], []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.context.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(address)
        self.page.wait_for_selector("#dataset option", state="attached")

    def fill(self, **settings):
        for name, value in settings.items():
            self.page.fill(f"#{name}", str(value))

    def errors(self):
        return [(kind, text) for kind, text in self.console if kind in ("error", "pageerror")]

    def outside_requests(self):
        return [url for url in self.requests if not url.startswith(self.base + "/") and not url.startswith("data:")]


@pytest.fixture()
def page(browser, lab):  # noqa: F811
    opened = LabPage(browser, lab)
    yield opened
    opened.page.close()


def test_train_shows_the_stages_the_live_loss_the_epochs_the_probe_and_the_report(page):
    p = page.page
    page.fill(epochs=2, limit=600, batch_size=32, hidden="64,32")
    p.select_option("#activation", "tanh")
    p.click("#train")
    p.wait_for_selector("#stages li.stage >> nth=3", timeout=GUARD_MS)
    expect(p.locator("#run-status")).to_contain_text("done", timeout=GUARD_MS)
    assert p.locator("#stages li.stage").count() == 5  # four live, the training stage at the end
    assert p.locator("#stages canvas.digit").count() >= 1
    assert p.locator("#loss").get_attribute("data-batches") == str(2 * -(-600 // 32))
    rows = p.locator("#epochs-table tbody tr")
    assert rows.count() == 2 and "%" in rows.nth(1).locator("td").nth(4).inner_text()
    assert p.locator("#probe .bar").count() == 10
    assert "the first hidden layer: 64 outputs" in p.locator("#probe figcaption").inner_text()
    p.wait_for_selector("#report-section:not([hidden])")
    frame = p.frame_locator("#report")
    frame.locator("section").first.wait_for(timeout=GUARD_MS)
    assert p.locator("#report").get_attribute("sandbox") == "allow-scripts"
    runs = p.locator("#runs tbody tr")
    expect(runs.first).to_contain_text("done")
    assert page.errors() == [] and page.outside_requests() == []


def test_a_refused_setting_is_shown_at_its_control_in_the_command_lines_words(page):
    p = page.page
    page.fill(epochs=0)
    p.click("#train")
    error = p.locator('p.error[data-for="epochs"]')
    expect(error).to_contain_text("--epochs must be a whole number of at least 1")
    assert "invalid" in p.locator("#epochs").get_attribute("class")
    assert page.outside_requests() == []


def test_a_reload_mid_run_replays_everything_then_stop_keeps_the_epochs(page):
    p = page.page
    page.fill(epochs=500, limit=600, batch_size=16)
    p.click("#train")
    p.wait_for_selector("#epochs-table tbody tr", timeout=GUARD_MS)
    p.reload()
    p.wait_for_selector("#stages li.stage >> nth=3", timeout=GUARD_MS)  # replayed from the start
    p.wait_for_selector("#epochs-table tbody tr", timeout=GUARD_MS)
    assert int(p.locator("#loss").get_attribute("data-batches")) > 0
    p.click("#stop")
    expect(p.locator("#run-status")).to_contain_text("stopped", timeout=GUARD_MS)
    p.wait_for_selector("#report-section:not([hidden])")
    assert page.errors() == [] and page.outside_requests() == []


def test_two_pages_train_at_once_then_the_two_runs_compare_side_by_side(browser, lab):  # noqa: F811
    first, second = LabPage(browser, lab), LabPage(browser, lab)
    try:
        for page, seed in ((first, 1), (second, 2)):
            page.fill(epochs=1, limit=600, seed=seed)
        first.page.click("#train")
        second.page.click("#train")
        for page in (first, second):
            expect(page.page.locator("#run-status")).to_contain_text("done", timeout=GUARD_MS)
            assert page.page.locator("#epochs-table tbody tr").count() == 1
        p = first.page
        expect(p.locator("#runs tbody tr").nth(1)).to_contain_text("done", timeout=GUARD_MS)  # the list follows others' runs
        p.locator("#runs tbody tr").nth(0).locator("input").check()
        p.locator("#runs tbody tr").nth(1).locator("input").check()
        p.click("#compare")
        expect(p.locator("#comparison")).to_contain_text("seed")  # the setting that differs
        expect(p.locator("#comparison")).to_contain_text("test accuracy")
        assert first.errors() == [] and second.errors() == []
        assert first.outside_requests() == [] and second.outside_requests() == []
    finally:
        first.page.close()
        second.page.close()
