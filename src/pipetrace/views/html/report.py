"""Assemble the report: one self-contained HTML file from a Trace, with no request to any host.

The CSS and JavaScript live beside this file (static/) and are inlined; pictures are
data: URIs and charts inline SVG. A Content-Security-Policy in the page forbids loading
anything from anywhere, so a slip would show as a blocked request, not a silent leak.

The policy also forbids every script but the page's own: `script-src` names the sha256 of
report.js, so neither an inline script nor an event-handler attribute (onerror=...) that a
crafted trace slipped past the escaping would run. A hash rather than a nonce keeps the page
the same bytes for the same trace. The <style> element is allowed by its hash too; style
attributes stay allowed (`style-src-attr 'unsafe-inline'`): the charts and the neuron cells
carry hundreds of them, and a style attribute can run no script and, with every request
forbidden, fetch nothing.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from pathlib import Path
from string import Template

from pipetrace.trace import Trace
from pipetrace.trace.model import write_atomic
from pipetrace.views.html import filter_pictures, modes, network_live, sections, test_images, unit_pictures
from pipetrace.views.html.markup import e
from pipetrace.views.html.payload import payload, script_json


def render_html(trace: Trace, pad: bool = True) -> str:
    """The whole report as one HTML document; `pad=False` leaves out the drawing pad and the trained weights
    it runs (most of the page's size: a notebook keeps every display in its file)."""
    body = "\n".join(
        [
            sections.header(trace),
            modes.mode_bar(trace),
            "<main>",
            *modes.with_glossary([  # each term of the glossary explained in the section that first uses it
                sections.data_flow(trace),
                sections.training(trace),
                sections.prediction(trace),
                unit_pictures.units_section(trace) if pad else "",  # drawn from the weights, which pad=False leaves out
                filter_pictures.filters_section(trace),  # a convolutional network's (its units section is empty)
                network_live.network_section(trace) if pad else "",
                sections.draw(trace) if pad else sections.draw_left_out(trace),
                sections.evaluation(trace),
                test_images.test_images_section(trace, traceable=pad),
                sections.quiz(trace),
                sections.insights(trace),
            ]),
            modes.panels(trace),
            "</main>",
            sections.footer(trace),
        ]
    )
    style, script = _static("report.css"), _static("report.js")
    page = Template(_static("page.html"))
    return page.substitute(
        policy=content_security_policy(script, style),  # our own constants and base64: nothing to escape
        title=e(f"pipetrace · {trace.dataset['name']} · ") + sections.pct(trace.evaluation.test_accuracy, 2)
        + " test accuracy",
        style=style,
        body=body,
        data=script_json(payload(trace, weights=pad)),
        script=script,
    )


def content_security_policy(script: str, style: str) -> str:
    """Nothing from any address; only this script and this style sheet (by their hashes); pictures as data: URIs."""
    return "; ".join([
        "default-src 'none'",
        "img-src data:",
        f"style-src {_sha256(style)}",
        "style-src-attr 'unsafe-inline'",
        f"script-src {_sha256(script)}",
        "base-uri 'none'",
        "form-action 'none'",
    ])


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def write_report(trace: Trace, path: str | Path) -> Path:
    """Write the report to `path` atomically and return the path."""
    path = Path(path)
    write_atomic(path, render_html(trace).encode("utf-8"))  # readable like any new file (files.write_atomic)
    return path


def notebook_html(trace: Trace, height: int = 900) -> str:
    """The report for Jupyter and Colab: a sandboxed iframe, and one line for a notebook that hides it.

    sandbox="allow-scripts" and nothing else: the report's script runs (mode bar, quiz, drawing pad)
    in a frame of its own opaque origin, so it cannot reach the notebook around it (parent.document,
    the server's cookies and API), and its CSS stays out of the notebook. The page is the frame's
    srcdoc, escaped as an attribute value.

    JupyterLab and Notebook 7 remove iframes from output they do not trust (a notebook saved and
    opened again, or executed by papermill or nbconvert). The line under the frame is plain HTML,
    which their sanitiser keeps, so such a cell says what to do instead of staying blank.
    """
    from html import escape

    from pipetrace.numbers import percent

    what = f"pipetrace report: {trace.dataset.get('name', '')}, test accuracy {percent(trace.evaluation.test_accuracy)}."
    page = render_html(trace, pad=False)  # without the weights: the notebook file keeps every display
    return (f'<iframe srcdoc="{escape(page, quote=True)}" sandbox="allow-scripts" '
            f'style="width:100%;height:{height}px;border:1px solid #ddd;border-radius:8px" title="pipetrace report"></iframe>'
            f'<p style="margin:4px 0;font-size:12px;color:#666">{escape(what)} {escape(UNTRUSTED_HINT)}</p>')


UNTRUSTED_HINT = ("If you see only this line, the notebook is not trusted and hid the report: run the cell again, "
                  'or write the report to a file with trace.save_html("report.html") (or pipetrace show TRACE.json '
                  "--html report.html) and open it in a browser.")


def _static(name: str) -> str:
    return resources.files("pipetrace.views.html").joinpath("static", name).read_text(encoding="utf-8")
