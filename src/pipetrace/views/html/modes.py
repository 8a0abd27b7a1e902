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
from pipetrace.views.html.sections import letter, num, pct, section


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


def walk_panel(trace: Trace) -> str:
    from pipetrace.modes.walk import QUESTIONS, _code_blocks, _epoch_question, _prediction_question, shuffled

    code = {b.stage: b.lines for b in _code_blocks(trace)}
    steps = []
    for stage in trace.stages:
        key = "Model training" if stage.number == 5 else stage.name
        body = f'<p class="did">{e(stage.did)}</p><p class="example">{e(stage.example)}</p>'
        # titles are text (escaped where they are placed), bodies HTML
        steps.append((f"Stage {stage.number}: {stage.name}", body, code.get(key, []), QUESTIONS[stage.number](trace)))
    last = trace.training.epochs[-1] if trace.training.epochs else None
    steps.append(("Training, epoch by epoch",
                  f"<p>{len(trace.training.epochs)} epochs; " + (f"last: loss {num(last.loss)}, "
                  f"test accuracy {pct(last.test_accuracy, 2)}. {e(last.observation)}" if last else "") + "</p>",
                  code.get("Model training", [])[-2:], _epoch_question(trace)))
    p = trace.prediction
    steps.append((f"One prediction (test image {p.sample})", "".join(f"<p><b>{e(layer.name)}</b>: {e(layer.summary)}</p>" for layer in p.layers),
                  code.get("Evaluation", [])[:2], _prediction_question(trace)))
    items = "".join(
        f'<li class="walk-step" data-step="{n}"><h3>Step {n + 1} of {len(steps)}: {e(title)}</h3>{body}'
        + (f'<pre class="code"><code>{e(chr(10).join(lines))}</code></pre>' if lines else "")
        + _question(shuffled(q, n), n) + "</li>"
        for n, (title, body, lines, q) in enumerate(steps)
    )
    controls = ('<div class="walk-controls"><button type="button" id="walk-back">Back</button>'
                '<span id="walk-where" aria-live="polite"></span><button type="button" id="walk-next">Next</button></div>')
    intro = "One stage at a time: what it measured, the code that does it (as `pipetrace learn code` writes it), and a question."
    return section("walk", "Walk through the pipeline", f"{len(steps)} steps", f'{controls}<ol class="walk">{items}</ol>', intro)


def math_panel(trace: Trace) -> str:
    from pipetrace.modes.arithmetic import arithmetic
    from pipetrace.modes.math import TITLES, math_lines

    parts = [f"<h3>{e(TITLES[key])}</h3>{_lines(lines)}" for key, lines in math_lines(arithmetic(trace), trace).items()]
    intro = (f"The arithmetic of test image {fmt(trace.prediction.sample)} with this run's trained weights, "
             "as `pipetrace learn math` prints it; every number agrees with the saved model.")
    return section("math", "The math of one prediction", "", "".join(parts), intro)


def explain_panel(trace: Trace) -> str:
    from pipetrace.modes.explain import chapters

    items = "".join(
        f'<article class="card chapter"><h3>{n}. {e(c.title)}</h3><p><b>What it is:</b> {e(c.what)}</p>'
        f'<p><b>Why it matters:</b> {e(c.why)}</p><p><b>Mental model:</b> {e(c.model)}</p>'
        f'<p><b>Common mistake:</b> {e(c.mistakes)}</p></article>'
        for n, c in enumerate(chapters(trace), start=1)
    )
    return section("explain", "Explained", "every claim with this run's numbers", f'<div class="chapters">{items}</div>')


def cheatsheet_panel(trace: Trace) -> str:
    from pipetrace.modes.cheatsheet import sheet

    parts = "".join(f"<h3>{e(title)}</h3>{_lines(lines)}" for title, lines in sheet(trace, "runs/<run>/trace.json").items())
    return section("cheatsheet", "Cheatsheet", "the run on one page", parts)
