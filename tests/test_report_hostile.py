"""The HTML report from a hostile trace: whatever a trace holds, the page shows it as text and runs nothing.

The traces here are built in Python from the session's real small run, so they reach the
report without the trace validator: the page must be safe even where validation misses
something. Two defences are tested apart: escaping (every value enters the HTML as text,
checked by parsing the page) and the Content-Security-Policy (only the page's own script
runs, checked in Chromium by writing markup into the page past the escaping).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from html.parser import HTMLParser
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipetrace.trace import Trace
from pipetrace.views.html import charts, render_html, write_report
from pipetrace.views.html.payload import payload, script_json
from test_report import cnn_run  # noqa: F401 (session fixture: a tiny CNN run)
from test_report_browser import browser, draw_seven, settle  # noqa: F401 (the module's Chromium)

# Each would run script (and set window.__pwned) if it reached the page as markup.
ATTACKS = [
    "<img src=x onerror=window.__pwned=1>",
    '</script><script>window.__pwned=2</script>',
    '" onmouseover="window.__pwned=3" autofocus onfocus="window.__pwned=3" x="',
    "<svg/onload=window.__pwned=4;alert(4)>",
    "<!--<script>window.__pwned=5</script>-->\u2028\u2029",
    "<style>*{display:none}</style><a href=javascript:window.__pwned=6>x</a>",
]


# ---- building hostile traces ------------------------------------------------------------------
STAGE_NUMBERS = {"Preprocessing": 2, "Flatten": 3, "Train/Test split": 4}


def _stage(trace: Trace, name: str):
    """A stage by its number (its name may be hostile by now)."""
    return next(s for s in trace.stages if s.number == STAGE_NUMBERS[name])


def _set_text(trace: Trace, field: str, text: str) -> None:
    """Put `text` into one string field of the trace (the fields a page shows or carries)."""
    t = trace
    match field:
        case "dataset.name" | "dataset.source" | "dataset.split":
            t.dataset[field.split(".")[1]] = text
        case "class name":
            t.dataset["class_names"][0] = text
            for stage in t.stages:
                if "class_names" in stage.details:
                    stage.details["class_names"][0] = text
        case "created_at":
            t.created_at = text
        case "status":
            t.status = text
            t.training.status = text
        case "stage text":
            for stage in t.stages:
                stage.name, stage.did, stage.example = text, text, text
        case "array names":
            for stage in t.stages:
                for info in stage.inputs + stage.outputs:
                    info.name, info.dtype = text, text
        case "split how":
            _stage(t, "Train/Test split").details["how"] = text
        case "network":
            t.network.optimizer, t.network.schedule, t.network.loss = text, text, text
            for layer in t.network.layers:
                layer.name, layer.label = text, text
            for w in t.weights:
                w.name = text
        case "observations":
            for epoch in t.training.epochs:
                epoch.observation = text
        case "layer names and summaries":
            for p in [t.prediction, *t.samples]:
                for layer in p.layers:
                    layer.name, layer.summary = text, text
        case "quiz":
            for q in t.quiz:
                q.text, q.explanation, q.level, q.kind = text, text, text, text
                q.options[0] = text
        case "insights":
            for insight in t.insights:
                insight.text = text
                insight.figures = {text: text, "number": 0.5}
        case "environment":
            t.environment[text] = text
            t.environment["python"] = text
            t.timings[text] = 1.0
        case _:
            raise AssertionError(field)


TEXT_FIELDS = ["dataset.name", "dataset.source", "dataset.split", "class name", "created_at", "status", "stage text",
               "array names", "split how", "network", "observations", "layer names and summaries", "quiz", "insights",
               "environment"]


def _set_detail_numbers(trace: Trace, value) -> None:
    """`value` where stages' details hold numbers: the followed image's label; the preprocessing examples'
    row, col, before and after; Flatten's row, col and index; the split's counts."""
    trace.stages[0].details["sample_label"] = value
    for pixel in _stage(trace, "Preprocessing").details["examples"]:
        pixel["row"] = pixel["col"] = pixel["before"] = pixel["after"] = value
    flatten = _stage(trace, "Flatten").details
    flatten["row"] = flatten["col"] = flatten["index"] = value
    counts = _stage(trace, "Train/Test split").details
    counts["train_counts"][0] = counts["test_counts"][0] = value


def _set_shown_numbers(trace: Trace, value) -> None:
    """`value` in the numbers the page writes as they are (the charts' numbers are left to the validator):
    sample indices, batch size, planned epochs, image counts, the mistakes' indices and the quiz's answers."""
    t = trace
    t.settings.sample = t.training.batch_size = t.training.epochs_planned = value
    t.dataset["train_count"] = t.dataset["test_count"] = value
    for mistake in t.evaluation.mistakes:
        mistake.index = value
    for question in t.quiz:
        question.answer = value
    for p in [t.prediction, *t.samples]:
        p.sample = value


def hostile(trace: Trace, text: str, fields=TEXT_FIELDS, numbers=True) -> Trace:
    """A copy of `trace` with `text` in every field named and, with `numbers`, in its numbers that the
    page writes (the stages' details and the others above)."""
    bad = copy.deepcopy(trace)
    for field in fields:
        _set_text(bad, field, text)
    if numbers:
        _set_detail_numbers(bad, text)
        _set_shown_numbers(bad, text)
    return bad


# ---- the page's structure, parsed ---------------------------------------------------------------
class Structure(HTMLParser):
    """Every element and attribute name in a page, its scripts, and its text (entities decoded)."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.elements: list[tuple[str, tuple[str, ...]]] = []  # every start tag with its attribute names, in order
        self.attributes: set[str] = set()
        self.urls: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self.styles = 0
        self.text: list[str] = []
        self._in_script: dict | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.elements.append((tag, tuple(name for name, _ in attrs)))
        self.attributes.update(name for name, _ in attrs)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "action", "formaction")]
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))
        if tag == "style":
            self.styles += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = None

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.text.append(data)


@pytest.fixture(scope="module")
def plain(small_run):
    """The real run's page, parsed: what a page may hold."""
    return Structure(render_html(small_run[0]))


def assert_inert(page: str, plain: Structure, trace: Trace) -> Structure:
    """No element, attribute or script that the real run's page does not have; the data block is the trace's data."""
    got = Structure(page)
    assert got.tags <= plain.tags, got.tags - plain.tags
    assert got.attributes <= plain.attributes, got.attributes - plain.attributes
    assert not [a for a in got.attributes if a.startswith("on")]
    assert len(got.scripts) == 2 and got.styles == 1
    (data_attrs, data), (code_attrs, code) = got.scripts
    assert data_attrs == {"type": "application/json", "id": "pipetrace-data"} and code_attrs == {}
    assert json.loads(data) == json.loads(script_json(payload(trace)))  # data stayed data, every string intact
    assert code == plain.scripts[1][1]  # the page's own script, unchanged
    assert all(url.startswith(("data:", "#")) for url in got.urls), got.urls
    return got


# ---- without a browser: escaping, for any text (Hypothesis) ------------------------------------
def test_a_hostile_trace_in_every_field_renders_as_text(small_run, plain):
    for attack in ATTACKS:
        bad = hostile(small_run[0], attack)
        got = assert_inert(render_html(bad), plain, bad)
        shown = "".join(got.text)
        assert shown.count(attack) >= 10, attack  # in many places, every character as it was


MARKUP = st.lists(st.sampled_from(["<", ">", "&", '"', "'", "/", "=", " ", "script", "img", "svg", "style", "onerror",
                                   "onload", "src=x", "javascript:", "<!--", "-->", "]]>", "`", "\\", "\u2028",
                                   "\u2029", "&lt;", "&#x3c;", "\x00", "window.__pwned=1"]),
                  min_size=1, max_size=12).map("".join)
TEXT = st.one_of(MARKUP, st.text(min_size=1, max_size=40), st.sampled_from(ATTACKS))
DETAIL = st.one_of(TEXT, st.integers(-10**20, 10**20), st.floats(), st.none(), st.booleans(),
                   st.lists(st.integers(0, 255), max_size=3))


def _defused(value):
    """The same value with every character that could make markup (< > & " ') made harmless."""
    return value.translate(str.maketrans("<>&\"'", "_____")) if isinstance(value, str) else value


def _without_charts():
    """matplotlib's charts (most of a render's time) as empty <svg>s: they escape their own text, and the test
    above renders them with every attack."""
    empty = lambda *args: '<svg class="chart"></svg>'  # noqa: E731
    pair = lambda *args: (empty(), empty())  # noqa: E731
    return mock.patch.multiple(charts, epoch_chart=empty, batch_chart=empty, epoch_charts=pair, batch_charts=pair,
                               confusion_chart=empty, per_class_chart=empty)


class ByName:
    """A fixture's value that prints as its name: Hypothesis writes out every argument of each explicit example
    it runs, and the whole trace took it about 3 s each."""

    def __init__(self, name: str, value):
        self.name, self.value = name, value

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(scope="module")
def small_trace(small_run):
    return ByName("small_run's trace", small_run[0])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, fields=st.sets(st.sampled_from(TEXT_FIELDS), min_size=1), detail=DETAIL)
@example(text="<", fields={"network"}, detail=0)  # once refused by `learn code` where "_" was not: a pre became a div
@example(text="x", fields={"status"}, detail=float("nan"))  # once raised: JSON has no NaN
@example(text="x", fields={"quiz"}, detail=float("-inf"))
def test_any_text_in_any_field_and_anything_in_its_numbers_stays_text(small_trace, plain, text, fields, detail):
    """The page of a hostile trace has exactly the elements and attributes of the page of the same trace with
    the markup characters taken out of its text: the text added no element and no attribute."""
    bad = hostile(small_trace.value, text, sorted(fields), numbers=False)
    _set_detail_numbers(bad, detail)
    _set_shown_numbers(bad, detail)
    harmless = hostile(small_trace.value, _defused(text), sorted(fields), numbers=False)
    _set_detail_numbers(harmless, _defused(detail))
    _set_shown_numbers(harmless, _defused(detail))
    with _without_charts():
        got = assert_inert(render_html(bad), plain, bad)
        assert got.elements == Structure(render_html(harmless)).elements


def test_a_reshape_stage_shows_hostile_numbers_as_text(cnn_run):
    bad = copy.deepcopy(cnn_run[0])
    reshape = next(s for s in bad.stages if s.name == "Reshape")
    reshape.details["row"] = reshape.details["col"] = ATTACKS[0]
    page = render_html(bad)
    got = Structure(page)
    assert len(got.scripts) == 2 and not [a for a in got.attributes if a.startswith("on")] and "<img src=x" not in page
    assert f"Pixel ({ATTACKS[0]}, {ATTACKS[0]}) is now at [{ATTACKS[0]}, {ATTACKS[0]}, 0]" in "".join(got.text)


def test_detail_numbers_that_are_numbers_are_still_formatted(small_run):
    """The fall-back to text is for what is not a number: real numbers keep their format."""
    bad = copy.deepcopy(small_run[0])
    _set_detail_numbers(bad, 12345)
    page = render_html(bad)
    assert "(12345, 12345)" in page and "now index 12345" in page and "<td>12,345</td>" in page


# ---- in Chromium: every control used, nothing run -------------------------------------------------
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


class Opened:
    """A report opened in Chromium from file://, with dialogs, console messages, requests and CSP violations kept."""

    def __init__(self, browser, path):
        self.url = path.resolve().as_uri()
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.dialogs: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda err: self.console.append(("pageerror", str(err))))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.add_init_script(WATCH)
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__violations")

    def assert_nothing_ran(self) -> None:
        settle(self.page)  # what the last action queued has run
        assert self.page.evaluate("typeof window.__pwned") == "undefined"
        assert self.dialogs == []
        assert self.violations() == []
        assert [(kind, text) for kind, text in self.console if kind in ("error", "warning", "pageerror")] == []
        assert [url for url in self.requests if url != self.url and not url.startswith("data:")] == []


def use_every_control(page) -> None:
    """Each mode, the walk's buttons, every sample, one answer to every question, the quiz reset, the pixel
    readout, the drawing pad and its Clear, every <details>."""
    for mode in page.locator(".mode-bar .mode").all():
        mode.click()
        if mode.get_attribute("data-mode") == "walk" and page.locator("#walk-next").count():
            page.locator("#walk-next").click()
            page.locator("#walk-back").click()
        for summary in page.locator("main > section:not([hidden]) details > summary").all():
            if summary.is_visible():
                summary.click()
    page.locator('.mode[data-mode="trace"]').click()
    for pick in page.locator(".pick").all():
        pick.click()
    more = page.locator("details.more-questions")
    if more.count() and not more.evaluate("d => d.open"):
        more.locator(":scope > summary").click()  # the questions beyond the run's own
    for question in page.locator(".question").all():
        question.locator(".option").first.click()
    page.locator("#quiz-reset").click()
    page.locator("#pixel-image").hover()
    if page.locator("#pad").count():
        draw_seven(page)
        page.wait_for_function("window.pipetrace.lastDrawing !== null")
        page.locator("#clear-pad").click()
    page.mouse.move(0, 0)


# All the attacks at once in every text field; then in the numbers the page writes too (the learning modes
# that compute with those numbers then say they are not available for this run; the rest of the page works).
# Each attack is rendered alone, without a browser, in the tests above.
CASES = [(" ".join(ATTACKS), False), (" ".join(ATTACKS), True), (ATTACKS[0], True)]


@pytest.mark.parametrize(("attack", "numbers"), CASES, ids=["all-in-text", "all-in-text-and-numbers", "img-onerror"])
def test_hostile_traces_run_nothing_in_chromium(browser, small_run, tmp_path, attack, numbers):
    bad = hostile(small_run[0], attack, numbers=numbers)
    opened = Opened(browser, write_report(bad, tmp_path / "hostile.html"))
    page = opened.page
    if not numbers:
        assert page.locator("#walk-next").count() == 1  # every mode's panel is there to use
    use_every_control(page)
    opened.assert_nothing_ran()
    # the text is there, literally, where it was put
    assert attack in page.locator("h1").text_content()
    assert attack in page.locator("footer").text_content()  # created_at
    assert attack in page.locator("#quiz").text_content()
    if numbers:
        assert f"({attack}, {attack})" in page.locator("#stage-2 table.mini").text_content()  # row, col
        assert f"The mark is pixel ({attack}, {attack}), now index {attack}" in page.locator("#stage-3").text_content()
    page.locator(".pick").last.click()
    assert attack in page.locator('[data-trace="sample"] [data-part="summary"]').first.text_content()
    page.close()


# Markup that runs script in each way a page can: an image's load and error handlers, an inline script, a
# javascript: link. Each sets a flag of its own.
INJECTED = ('<img id="x1" src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7" '
            'onload="window.__pwned1=1"><img id="x2" src="missing.png" onerror="window.__pwned2=1">'
            '<script>window.__pwned3=1</script><a id="x4" href="javascript:window.__pwned4=1">x</a>')
FLAGS = ["__pwned1", "__pwned2", "__pwned3", "__pwned4"]


def _injected_page(trace, tmp_path, name: str, policy: bool):
    """The run's page with INJECTED written into it past the escaping; with or without its own CSP."""
    text = render_html(trace).replace("<main>", "<main>" + INJECTED, 1)
    if not policy:
        text, removed = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
        assert removed == 1
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_markup_past_the_escaping_is_stopped_by_the_content_security_policy(browser, small_run, tmp_path):
    """If escaping ever missed: an image's handlers, an inline script and a javascript: link in the page itself
    run nothing, while the page's own script still runs.

    The same markup in the same page without its policy runs all four (waited for, flag by flag): the test
    shows the markup is live in this browser, so 'nothing ran' is the policy's doing. Nothing here reads the
    browser's own report of what it blocked, which differs between Chromium versions.
    """
    control = Opened(browser, _injected_page(small_run[0], tmp_path, "no-policy.html", policy=False)).page
    control.locator("#x4").click()
    for flag in FLAGS:
        control.wait_for_function(f"window.{flag} === 1")
    control.close()

    opened = Opened(browser, _injected_page(small_run[0], tmp_path, "injected.html", policy=True))
    page = opened.page
    page.wait_for_function("document.getElementById('x1').complete && document.getElementById('x2').complete")
    page.locator("#x4").click()
    settle(page)
    assert page.evaluate(f"[{', '.join(f'typeof window.{flag}' for flag in FLAGS)}]") == ["undefined"] * 4
    # the page's own script still runs: the mode bar works
    page.locator('.mode[data-mode="walk"]').click()
    assert page.locator("section#walk").is_visible()
    page.close()


def _shortened(packed: str, values: int) -> str:
    """Base64 float32 data with its last `values` values cut off (still valid base64)."""
    return base64.b64encode(base64.b64decode(packed)[:-4 * values]).decode("ascii")


def test_weights_of_the_wrong_length_leave_no_pad_and_a_reason(browser, small_run, tmp_path):
    bad = copy.deepcopy(small_run[0])
    bad.weights[0].kernel.data = _shortened(bad.weights[0].kernel.data, 3)
    opened = Opened(browser, write_report(bad, tmp_path / "short.html"))
    page = opened.page
    assert page.locator("#pad").count() == 0
    shown = page.locator("#draw").inner_text()
    assert "do not fit together" in shown and "its kernel holds 100,349 values, not 100,352" in shown
    use_every_control(page)
    opened.assert_nothing_ran()
    page.close()


def test_the_pages_script_checks_weight_lengths_itself(browser, small_run, tmp_path):
    """The weights reach the script wrong even so (a page edited, a check missed): it says why, without an error."""
    trace = small_run[0]
    page_text = render_html(trace)
    data = payload(trace)
    data["layers"][1]["kernel"]["data"] = _shortened(data["layers"][1]["kernel"]["data"], 3)
    page_text = re.sub(r'(<script type="application/json" id="pipetrace-data">).*?(</script>)',
                       lambda m: m.group(1) + script_json(data) + m.group(2), page_text, count=1, flags=re.S)
    path = tmp_path / "edited.html"
    path.write_text(page_text, encoding="utf-8")
    opened = Opened(browser, path)
    page = opened.page
    assert page.locator("#pad").count() == 0
    shown = page.locator("#draw").inner_text()
    units = trace.weights[1].kernel.shape
    assert f"layer 2's kernel holds {units[0] * units[1] - 3} values, not {units[0] * units[1]}" in shown
    use_every_control(page)
    opened.assert_nothing_ran()
    page.close()


def test_the_policy_allows_only_the_pages_own_script_and_style(small_run):
    page = render_html(small_run[0])
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'" and directives["img-src"] == "data:"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", directives["script-src"])
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", directives["style-src"])
    assert "unsafe" not in directives["script-src"] + directives["style-src"]
    assert not re.search(r"<[^>]+\son\w+\s*=", page)  # no handler attributes anywhere in the page
