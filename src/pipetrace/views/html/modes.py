"""The report's mode bar: the learning modes that fit a page, each a view of the same report.

`trace` is the whole report; `walk`, `quiz`, `math`, `explain` and `cheatsheet` each show
one panel. The panels are ordinary sections filled here from the Trace (so the page reads
without JavaScript, all panels one after another); the script only switches which shows.
Their text comes from the same functions as the terminal modes (pipetrace.modes).
"""

from __future__ import annotations

from pipetrace.modes import MODES
from pipetrace.trace import Trace
from pipetrace.views.html.markup import e, fmt, pick
from pipetrace.views.html.sections import letter, section


def mode_bar(trace: Trace) -> str:
    buttons = "".join(
        f'<button type="button" class="mode" data-mode="{m.name}" aria-pressed="{"true" if m.name == "trace" else "false"}" '
        f'title="{e(m.summary)}">{e(m.name)}</button>'
        for m in MODES if m.on_page
    )
    return (f'<nav class="mode-bar" aria-label="Learning modes"><span class="mode-label">Choose your learning style:</span>'
            f'{buttons}</nav>')


def panels(trace: Trace) -> str:
    return "\n".join(_safe(make, trace) for make in (walk_panel, math_panel, explain_panel, cheatsheet_panel))


def _safe(make, trace: Trace) -> str:
    try:
        return make(trace)
    except Exception as error:  # a mode that cannot handle this trace says so; the rest of the page still works
        ident = make.__name__.removesuffix("_panel")
        return section(ident, ident.capitalize(), "", f'<p class="warning">Not available for this run: {e(error)}</p>')


def _lines(lines: list[str]) -> str:
    return "<pre class=\"worked\">" + e("\n".join(lines)) + "</pre>"


def _question(q, n: int) -> str:
    options = "".join(f"<li><b>{letter(i)}</b> {e(o)}</li>" for i, o in enumerate(q.options))
    return (f'<div class="check"><p><b>Check yourself:</b> {e(q.text)}</p><ol class="check-options">{options}</ol>'
            f'<details><summary>Show the answer</summary><p><b>{letter(q.answer)}.</b> {e(pick(q.options, q.answer))}. '
            f'{e(q.explanation)}</p></details></div>')


def _facts(rows: list[tuple[str, str]]) -> str:
    return ('<table class="walk-facts">' + "".join(f'<tr><th scope="row">{e(label)}</th><td>{e(text)}</td></tr>'
                                                  for label, text in rows) + "</table>")


def _glossary(entries) -> str:
    """The glossary entries a panel uses first (insights.glossary), as a small definition list."""
    if not entries:
        return ""
    return ('<dl class="glossary">' + "".join(f"<dt><dfn>{e(entry.term)}</dfn></dt><dd>{e(entry.meaning)}</dd>"
                                              for entry in entries) + "</dl>")


def with_glossary(sections_html: list[str]) -> list[str]:
    """Each report section with the glossary's terms it uses first explained at its end (insights.glossary).

    The terms are found in the section's own text (tags left out), so the report explains exactly
    the words it shows, once, in the section where a reader meets them first.
    """
    import html as html_lib
    import re

    from pipetrace.insights.glossary import first_uses

    seen: set[str] = set()
    out = []
    for part in sections_html:
        text = html_lib.unescape(re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", part, flags=re.S))
        note = _glossary(first_uses([text], seen))
        if note and part.rstrip().endswith("</section>"):
            part = part.rstrip()[: -len("</section>")] + f'<details class="glossary-note" open><summary>Words used here</summary>{note}</details></section>'
        out.append(part)
    return out


def walk_panel(trace: Trace) -> str:
    """The same steps `pipetrace learn walk` shows (modes.walk.steps), one after another."""
    from pipetrace.insights.glossary import first_uses
    from pipetrace.modes.walk import shuffled, steps

    content = steps(trace)
    seen: set[str] = set()
    items = "".join(
        f'<li class="walk-step" data-step="{n}"><h3>Step {n + 1} of {len(content)}: {e(step.title)}</h3>'
        + _facts(step.facts)
        + _glossary(first_uses([text for _, text in step.facts] + [step.question.text], seen))
        + (f'<pre class="code"><code>{e(chr(10).join(step.code))}</code></pre>' if step.code else "")
        + _question(shuffled(step.question, n), n) + "</li>"
        for n, step in enumerate(content)
    )
    controls = ('<div class="walk-controls"><button type="button" id="walk-back">Back</button>'
                '<span id="walk-where" aria-live="polite"></span><button type="button" id="walk-next">Next</button></div>')
    intro = "One stage at a time: what it measured, the code that does it (as `pipetrace learn code --exact` writes it), and a question."
    return section("walk", "Walk through the pipeline", f"{len(content)} steps", f'{controls}<ol class="walk">{items}</ol>', intro)


def math_panel(trace: Trace) -> str:
    """The same sections `pipetrace learn math` prints (modes.math.content)."""
    from pipetrace.insights.glossary import first_uses
    from pipetrace.modes.math import content

    seen: set[str] = set()
    parts = [f"<h3>{e(part.title)}</h3>{_lines(part.lines)}" + _glossary(first_uses([part.title, *part.lines], seen))
             for part in content(trace)]
    intro = (f"The arithmetic of test image {fmt(trace.prediction.sample)} with this run's trained weights, "
             "as `pipetrace learn math` prints it; every number agrees with the saved model.")
    return section("math", "The math of one prediction", "", "".join(parts), intro)


def explain_panel(trace: Trace) -> str:
    """The same chapters `pipetrace learn explain` prints, each term of the glossary explained at its first use."""
    from pipetrace.insights.glossary import first_uses
    from pipetrace.modes.explain import chapters

    seen: set[str] = set()
    items = "".join(
        f'<article class="card chapter"><h3>{n}. {e(c.title)}</h3><p><b>What it is:</b> {e(c.what)}</p>'
        f'<p><b>Why it matters:</b> {e(c.why)}</p><p><b>Mental model:</b> {e(c.model)}</p>'
        f'<p><b>Common mistake:</b> {e(c.mistakes)}</p>'
        + _glossary(first_uses([c.title, c.what, c.why, c.model, c.mistakes], seen)) + '</article>'
        for n, c in enumerate(chapters(trace), start=1)
    )
    return section("explain", "Explained", "every claim with this run's numbers", f'<div class="chapters">{items}</div>')


def cheatsheet_panel(trace: Trace) -> str:
    from pipetrace.modes.cheatsheet import sheet

    parts = "".join(f"<h3>{e(title)}</h3>{_lines(lines)}" for title, lines in sheet(trace, "runs/<run>/trace.json").items())
    return section("cheatsheet", "Cheatsheet", "the run on one page", parts)
