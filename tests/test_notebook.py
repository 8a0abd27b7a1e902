"""pipetrace in a notebook: progress while it trains, short reprs, and the report in a sandboxed iframe.

The main test executes a real notebook with a real IPython kernel (nbclient), in a temporary Jupyter
home so nothing outside the test is touched; the report's iframe is opened in Chromium inside a page
that stands for the notebook around it.
"""

from __future__ import annotations

import html
import io
import json
import re
import sys
from html.parser import HTMLParser

import pytest
from rich.console import Console

import pipetrace
from pipetrace.pipeline import Observer
from pipetrace.views.html import notebook_html, render_html
from pipetrace.views.html.report import UNTRUSTED_HINT
from pipetrace.views.rich_html import NOTEBOOK_COLUMNS
from pipetrace.views.progress import Observers, RunProgress, progress_observer, run_observer, verbose_level
from pipetrace.views.terminal import epoch_cells
from test_report_browser import browser  # noqa: F401 (module fixture: Debian's Chromium through Playwright)

KERNEL = "pipetrace-test-python"


# ---- a real kernel --------------------------------------------------------------------


@pytest.fixture()
def jupyter_home(tmp_path, monkeypatch):
    """A Jupyter home of the test's own, with a kernel that runs this very Python (the venv's)."""
    home = tmp_path / "jupyter"
    spec = home / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "pipetrace test (this venv)", "language": "python",
    }))
    for variable, folder in (("JUPYTER_PATH", home), ("JUPYTER_DATA_DIR", tmp_path / "data"),
                             ("JUPYTER_CONFIG_DIR", tmp_path / "config"), ("JUPYTER_RUNTIME_DIR", tmp_path / "runtime"),
                             ("IPYTHONDIR", tmp_path / "ipython")):
        monkeypatch.setenv(variable, str(folder))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return tmp_path


FIRST_CELL = """\
import pipetrace
trace = pipetrace.run(limit=600, epochs=2, seed=0)
display(trace.training)
trace
"""

# Epoch 2 waits until the test has received epoch 1's line: the proof that progress reaches the
# notebook while training goes on, not all at once when the cell ends.
SECOND_CELL = """\
import pathlib, time
from pipetrace.pipeline import Observer

class WaitsForTheTest(Observer):
    finished = 0
    def on_epoch(self, epoch):
        self.finished = epoch.epoch
    def on_batch(self, step):
        deadline = time.monotonic() + 120
        while self.finished == 1 and not pathlib.Path({flag!r}).exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the notebook never received epoch 1's progress line while epoch 2 trained")
            time.sleep(0.05)

pipetrace.run(limit=600, epochs=2, seed=1, verbose=1, observer=WaitsForTheTest()).training
"""


def _text(output) -> str:
    """What an output shows as plain text (a stream's text, or a display's text/plain)."""
    return output.get("text", "") or output.get("data", {}).get("text/plain", "")


def test_a_notebook_shows_progress_while_training_a_short_repr_and_a_sandboxed_report(jupyter_home):
    import nbformat
    from nbclient import NotebookClient

    flag, messages = jupyter_home / "epoch-1-seen", []

    class Client(NotebookClient):
        def process_message(self, msg, cell, cell_index):
            content = msg["content"]
            shown = content.get("text", "") + content.get("data", {}).get("text/plain", "")
            messages.append(shown)
            if "Epoch 1/2" in shown and "loss" in shown:
                flag.touch()  # lets the kernel's second run go on into epoch 2
            return super().process_message(msg, cell, cell_index)

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(FIRST_CELL), nbformat.v4.new_code_cell(SECOND_CELL.format(flag=str(flag)))]
    Client(notebook, kernel_name=KERNEL, timeout=600, startup_timeout=180, resources={"metadata": {"path": str(jupyter_home)}}).execute()
    saved = jupyter_home / "executed.ipynb"
    nbformat.write(notebook, saved)
    first, second = nbformat.read(saved, as_version=4).cells

    outputs = first.outputs
    assert [o.output_type for o in outputs if o.output_type == "error"] == []
    result = outputs[-1]
    assert result.output_type == "execute_result"
    before = outputs[:-1]
    # progress came as outputs of their own, before the result: the stages, then one output per epoch
    assert any(_text(o).lstrip().startswith("1 Load") for o in before)
    for epoch in (1, 2):
        lines = [o for o in before if f"Epoch {epoch}/2" in _text(o)]
        assert len(lines) == 1 and "loss" in _text(lines[0]) and "test accuracy" in _text(lines[0])
        assert "<pre" in lines[0].data["text/html"]  # shown as rich draws it, in colour
    assert any(re.match(r"Epoch 1/2 +━+ +3/3 batches", shown) for shown in messages)  # each epoch's bar, then its line
    assert not [o for o in outputs if "\x1b[" in _text(o)]  # plain text without the terminal's escape codes

    # the training table, as `rich.print(trace.training)` shows it in a terminal
    table = next(o for o in before if o.output_type == "display_data" and "Test accuracy" in o.data.get("text/html", ""))
    assert table.data["text/plain"].startswith("Training(2 epochs")

    # the trace: a short text, and the report in a sandboxed iframe with a line for an untrusted notebook
    plain = result.data["text/plain"]
    assert len(plain.encode()) < 1024 and plain.startswith("Trace(MNIST, Input(784) -> Dense(128, relu)")
    assert "2 epochs" in plain and re.search(r"test accuracy \d+(\.\d+)?%\)$", plain)
    page = result.data["text/html"]
    assert '<iframe srcdoc="' in page and ' sandbox="allow-scripts" ' in page and "allow-same-origin" not in page
    assert html.escape(UNTRUSTED_HINT) in _outside_iframes(page)

    # the second run: epoch 1's line reached the notebook before epoch 2 finished training
    assert flag.exists()
    assert [o.output_type for o in second.outputs if o.output_type == "error"] == []
    assert any("Epoch 2/2" in _text(o) for o in second.outputs)
    assert second.outputs[-1].data["text/plain"].startswith("Training(2 epochs")


class _Outside(HTMLParser):
    """The text of a page outside any <iframe>: what a notebook that strips iframes still shows."""

    def __init__(self):
        super().__init__()
        self.depth, self.text = 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag == "iframe"

    def handle_endtag(self, tag):
        self.depth -= tag == "iframe"

    def handle_data(self, data):
        if not self.depth:
            self.text.append(data)


def _outside_iframes(page: str) -> str:
    parser = _Outside()
    parser.feed(page)
    return html.escape("".join(parser.text))


# ---- the report's iframe in a browser -------------------------------------------------


def test_the_report_works_sandboxed_and_cannot_reach_the_notebook(browser, small_run, tmp_path):  # noqa: F811
    trace, _ = small_run
    host = tmp_path / "notebook.html"
    host.write_text('<!DOCTYPE html><html><body><div id="notebook-secret">the notebook around the output</div>'
                    f"{notebook_html(trace)}</body></html>", encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(host.resolve().as_uri())
    page.wait_for_load_state("load")
    frame = next(f for f in page.frames if f != page.main_frame)

    assert frame.evaluate("() => self.origin") == "null"  # an opaque origin of its own
    reached = frame.evaluate("""() => { try { return parent.document.getElementById('notebook-secret').textContent; }
                                        catch (e) { return 'blocked: ' + e.name; } }""")
    assert reached == "blocked: SecurityError"
    assert frame.evaluate("() => { try { localStorage.length; return 'storage'; } catch (e) { return e.name; } }") == "SecurityError"

    # the report's own script runs: the mode bar switches panels, the quiz answers
    inside = page.frame_locator("iframe")
    inside.locator('.mode[data-mode="walk"]').click()
    assert inside.locator("section#walk").is_visible() and not inside.locator("section#training").is_visible()
    inside.locator('.mode[data-mode="trace"]').click()
    question = inside.locator("#question-1")
    question.locator(f'.option[data-option="{trace.quiz[0].answer}"]').click()
    assert question.locator(".feedback").inner_text().startswith("Right.")
    # no drawing pad: its place says where the pad is
    assert inside.locator("#pad").count() == 0
    assert 'trace.save_html("report.html")' in inside.locator("section#draw").inner_text()
    assert errors == []

    # a notebook that does not trust the output removes the iframe: the line under it stays, visible
    page.evaluate("() => document.querySelector('iframe').remove()")
    hint = page.locator("p", has_text="If you see only this line")
    assert hint.is_visible() and "trace.save_html" in hint.inner_text()
    page.close()


# ---- reprs ----------------------------------------------------------------------------


def test_reprs_are_one_short_line_that_says_what_the_run_was(small_run):
    trace, _ = small_run
    text = repr(trace)
    last = trace.training.epochs[-1]
    assert len(text) < 300 and "\n" not in text and str(trace) == text
    assert text.startswith(f"Trace({trace.dataset['name']}, {trace.network.architecture}, {len(trace.training.epochs)} epochs")
    assert f"test accuracy {100 * trace.evaluation.test_accuracy:.1f}%" in text
    kernel = trace.weights[0].kernel
    assert kernel.data[:40] not in text and kernel.data[:40] not in repr(trace.weights[0])
    assert repr(kernel) == f"PackedArray(float32 {kernel.shape[0]} x {kernel.shape[1]}, {4 * kernel.shape[0] * kernel.shape[1]:,} bytes)"
    parts = [trace.training, *trace.training.epochs, trace.prediction, *trace.prediction.layers, trace.evaluation,
             *trace.evaluation.mistakes, trace.network, *trace.network.layers, *trace.stages, *trace.weights, *trace.samples]
    for part in parts:
        assert len(repr(part)) < 300 and "\n" not in repr(part), type(part).__name__
    assert f"loss {trace.training.epochs[0].loss:.4f} -> {last.loss:.4f}" in repr(trace.training)
    assert f"predicted {trace.prediction.predicted}" in repr(trace.prediction)


def test_a_long_architecture_keeps_its_ends(small_run):
    import copy

    trace = copy.deepcopy(small_run[0])
    hidden = trace.network.layers[0]
    trace.network.layers = [hidden] * 30 + trace.network.layers[1:]
    text = repr(trace)
    assert len(text) < 300 and "… (31 layers)" in text and text.count(hidden.label) == 2


@pytest.mark.parametrize("part", ["training", "prediction"])
def test_training_and_prediction_show_in_a_notebook_what_the_terminal_shows(small_run, part):
    shown = getattr(small_run[0], part)
    terminal = Console(file=io.StringIO(), width=NOTEBOOK_COLUMNS, force_terminal=True, color_system="truecolor", force_jupyter=False)
    terminal.print(shown)
    on_screen = re.sub(r"\x1b\[[0-9;]*m", "", terminal.file.getvalue())  # the characters, without their colours
    page = shown._repr_html_()
    assert page.startswith("<pre") and "<span style=" in page  # coloured, as rich colours it
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert [line.rstrip() for line in text.strip("\n").splitlines()] == [line.rstrip() for line in on_screen.strip("\n").splitlines()]


# ---- progress: verbose, as in model.fit --------------------------------------------------


def test_verbose_takes_keras_values_and_refuses_others_before_loading_anything():
    assert [verbose_level(v) for v in ("auto", 0, 1, 2, True, False)] == [1, 0, 1, 2, 1, 0]
    for bad in ("loud", 3, -1, 1.0, None):
        with pytest.raises(pipetrace.SettingsError, match=r'verbose must be "auto", 0 \(silent\)'):
            verbose_level(bad)
    with pytest.raises(pipetrace.SettingsError, match="verbose must be"):
        pipetrace.run(verbose="loud", data_dir="/nonexistent")  # refused before the data is even looked for


def test_auto_progress_gives_way_to_an_observer_of_yours():
    mine = Observer()
    assert run_observer(mine, "auto") is mine and run_observer(mine, 0) is mine
    assert isinstance(run_observer(None, "auto"), RunProgress) and type(run_observer(None, 0)) is Observer
    both = run_observer(mine, 2)
    assert isinstance(both, Observers) and both.observers[0] is mine and isinstance(both.observers[1], RunProgress)
    assert both.observers[1].bar is False and progress_observer(1).bar is True


def _replay(observer, trace) -> None:
    """A finished run's events, in the order the pipeline sends them (no training needed)."""
    observer.on_start(trace.settings, trace.dataset)
    for stage in trace.stages[:4]:
        observer.on_stage(stage)
    steps = trace.training.steps_per_epoch
    observer.on_training_start(trace.settings.epochs, steps)
    for epoch in trace.training.epochs:
        observer.on_batch(steps // 2)
        observer.on_batch(steps)
        observer.on_epoch(epoch)
    observer.on_training_end(trace.training)


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_prints_a_line_per_stage_and_per_epoch(small_run, terminal):
    trace, _ = small_run
    console = Console(file=io.StringIO(), width=100, force_terminal=terminal, force_jupyter=False, color_system=None)
    bars = []
    observer = RunProgress(console)
    started = observer.on_training_start

    def watch(epochs, steps):
        started(epochs, steps)
        bars.append(observer._progress)

    observer.on_training_start = watch
    _replay(observer, trace)
    assert (bars[0] is not None) is terminal  # rich's live bar on a terminal only; a log gets lines
    # what stays on the screen: each line after its last carriage return, without escape codes
    lines = [re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", line.split("\r")[-1]) for line in console.file.getvalue().splitlines()]
    lines = [line for line in lines if line.strip()]
    for stage in trace.stages[:4]:
        assert any(line.startswith(f"{stage.number} {stage.name} ") and f"{stage.seconds:.2f} s" in line for line in lines)
    for epoch in trace.training.epochs:
        number, loss, _, _, test_accuracy, seconds, _ = epoch_cells(epoch)
        line = next(line for line in lines if line.startswith(f"Epoch {number}/{trace.settings.epochs} "))
        assert f"loss {loss}" in line and f"test accuracy {test_accuracy}" in line and line.endswith(seconds)


def test_verbose_0_is_silent_and_the_default_shows_progress(capsys):
    pipetrace.run(limit=600, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    trace = pipetrace.run(limit=600, epochs=1)
    out = capsys.readouterr().out
    assert "1 Load" in out and f"Epoch 1/1  loss {epoch_cells(trace.training.epochs[0])[1]}" in out


def test_a_displayed_trace_keeps_the_notebook_file_small(small_run):
    """Each display is stored in the .ipynb: the cell holds the report without the weights its drawing pad runs."""
    trace, _ = small_run
    cell = notebook_html(trace)
    weights = sum(len(w.kernel.data) + len(w.bias.data) for w in trace.weights)  # base64 text, in the full page
    assert weights > 500_000
    assert not any(w.kernel.data in cell for w in trace.weights)
    assert len(cell) + weights < len(html.escape(render_html(trace), quote=True))  # the cell with the pad
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', cell).group(1))
    data = json.loads(re.search(r'<script type="application/json" id="pipetrace-data">(.*?)</script>', page, re.S).group(1))
    assert data["layers"] == [] and len(data["samples"]) == len(trace.samples)
