"""The learning modes in the terminal: rich renderings of the content pipetrace.modes builds.

Each mode's content is plain data made in pipetrace.modes (walk steps, explain chapters, math
sections, cheatsheet rows, quiz questions); this module draws it with rich and runs the
interactive loops of `walk` and `quiz`. The report's panels (views/html/modes.py) draw the same
content. Long lines wrap with a hanging indent, so a wrapped line never restarts at column 0,
and each term of the glossary (insights.glossary) is explained where a mode first uses it.

>>> from rich.console import Console
>>> Console().print(explain_view(trace))          # doctest: +SKIP
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from pipetrace.errors import SettingsError
from pipetrace.files import write_atomic
from pipetrace.insights import glossary
from pipetrace.modes import cheatsheet, compare, explain, math, walk
from pipetrace.modes.answers import ENTER, Answers
from pipetrace.modes.locate import load_trace, refuse_recorded_fit
from pipetrace.modes.quiz import QuizResult
from pipetrace.trace import Question, Trace
from pipetrace.views.safe_text import literal, visible


class Wrapped:
    """Plain lines wrapped to the width at hand, each continuation indented under its line's text."""

    def __init__(self, lines: list[str], style: str = "", hang: int = 2):
        self.lines, self.style, self.hang = lines, style, hang

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, 20)
        out = []
        for line in map(visible, self.lines):
            marker = re.match(r" *(\d+\. |- )", line)  # a numbered or bulleted line: wrap under its text
            indent = " " * (marker.end() if marker else len(line) - len(line.lstrip(" ")) + self.hang)
            out += textwrap.wrap(line, width, subsequent_indent=indent[: width // 2], break_on_hyphens=False,
                                 drop_whitespace=True) or [""]
        yield Text("\n".join(out), style=self.style)


class CodePanel:
    """Python lines in a titled panel; a line too long for the width gets its trailing comment on a line above.

    The code stays valid Python and is not wrapped mid-statement (only a statement still too long on
    its own wraps).
    """

    def __init__(self, lines: list[str], title: str = "the code that does it"):
        self.lines, self.title = lines, title

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        fits = max(options.max_width - 4, 20)  # the panel's borders and padding
        out: list[str] = []
        for line in self.lines:
            code, sep, comment = line.partition("  # ")
            if len(line) > fits and sep and code.strip() and '"' not in comment and "'" not in comment:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}# {comment}")
                line = code.rstrip()
            out += _split_in_brackets(line, fits)
        yield Panel(Syntax("\n".join(out), "python", theme="ansi_dark", word_wrap=True), title=self.title, title_align="left")


def _split_in_brackets(line: str, fits: int) -> list[str]:
    """A long Python line broken after a ', ' inside brackets (implicit continuation), the rest indented."""
    out = []
    while len(line) > fits:
        depth, quote, cut = 0, "", -1
        for i, c in enumerate(line[:fits]):
            if quote:
                quote = "" if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif c == "," and depth > 0 and line[i + 1 : i + 2] == " ":
                cut = i + 1
        if cut < 0:
            break
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        out.append(line[:cut])
        line = indent + line[cut:].lstrip()
    return out + [line]


def facts_grid(rows: list[tuple[str, str]]) -> Table:
    """(label, text) rows: the label in its own column, so wrapped text stays indented under the text."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(literal(label), literal(value))
    return table


def verdict(right: bool, text: str) -> Table:
    """'Right.' or 'Not quite.' in colour, then why, wrapped under the explanation rather than at column 0."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, style="bold green" if right else "bold red")
    table.add_column()
    table.add_row("Right." if right else "Not quite.", literal(text))
    return table


def glossary_note(entries: list[glossary.Entry]) -> RenderableType | None:
    """The glossary entries first used here, one a line, dim."""
    if not entries:
        return None
    return facts_grid([(f"  {entry.term}:", entry.meaning) for entry in entries])


# ---- trace ------------------------------------------------------------------------------


def print_trace(args, console) -> int:
    from pipetrace.views.terminal import render_trace

    trace, _ = load_trace(args.trace)
    for part in render_trace(trace, answers=not args.no_answers):
        console.print(part)
    return 0


# ---- walk -------------------------------------------------------------------------------


def _picture(trace: Trace, step: walk.Step) -> RenderableType | None:
    """What the terminal can draw beside a step's facts: the sample digit, the loss chart."""
    if step.picture == "stage:0" and "sample_image" in trace.stages[0].details:
        from pipetrace.views.digit import Digit, grey

        d = trace.stages[0].details
        return Digit(grey(d["sample_image"]), d.get("pixel_max", 255.0))
    if step.picture == "training" and any(e.loss is not None for e in trace.training.epochs):
        from pipetrace.views.chart import loss_chart

        return loss_chart(trace.training)
    return None


def render_step(trace: Trace, step: walk.Step, number: int, total: int, question: Question, seen: set[str]):
    parts: list[RenderableType] = [facts_grid(step.facts)]
    picture = _picture(trace, step)
    if picture is not None:
        parts.append(picture)
    note = glossary_note(glossary.first_uses([text for _, text in step.facts] + [question.text], seen))
    if note is not None:
        parts += [Text("Words used here", style="bold dim"), note]
    if step.code:
        parts.append(CodePanel(step.code))
    choices = Table.grid(padding=(0, 2))
    choices.add_column(no_wrap=True)
    choices.add_column()
    for key, option in zip(walk.LETTERS, question.options):
        choices.add_row(f"  {key}", literal(option))
    parts += [Wrapped([f"Check yourself: {question.text}"], style="bold"), choices]
    return Panel(Group(*parts), title=literal(f"Step {number} of {total}: {step.title}", style="bold"), title_align="left")


def run_walk(trace: Trace, answers: Answers, console) -> tuple[int, int]:
    """Run the walk; returns (right answers, steps seen)."""
    all_steps = walk.steps(trace)
    questions = [walk.shuffled(s.question, n) for n, s in enumerate(all_steps)]
    results: dict[int, bool] = {}
    seen: set[int] = set()
    explained: set[str] = set()
    index = 0
    console.print(Text(f"A walk through the run of {visible(trace.created_at)}: {len(all_steps)} steps. "
                       "Keys: 1-4 answer, Enter next, b back, q quit.", style="bold"))
    while 0 <= index < len(all_steps):
        seen.add(index)
        question = questions[index]
        console.print(render_step(trace, all_steps[index], index + 1, len(all_steps), question, explained))
        letters = walk.LETTERS[: len(question.options)]
        while True:
            prompt = (f"[1-{len(question.options)}] answer · Enter next · b back · q quit: " if index not in results
                      else "Enter next · b back · q quit: ")
            console.file.flush()
            key = answers.ask(prompt, ("" if index in results else letters) + "bq", enter=True)
            if key is None or key == "q":
                index = -1
                break
            if key == "b":
                if index == 0:
                    console.print(Text("This is the first step."))
                    continue
                index -= 1
                break
            if key == ENTER:
                index += 1
                break
            right = walk.LETTERS.index(key) == question.answer
            results[index] = right
            key_text = f"The answer is {walk.LETTERS[question.answer]}: {question.options[question.answer]}. "
            console.print(verdict(right, ("" if right else key_text) + question.explanation))
    right = sum(results.values())
    console.print(Text(f"\nWalk over: {len(seen)} of {len(all_steps)} steps seen, {right} of {len(results)} "
                       "check questions answered right.", style="bold"))
    return right, len(seen)


def print_walk(args, console) -> int:
    trace, _ = load_trace(args.trace)
    refuse_recorded_fit(trace, "walk")
    with Answers() as answers:
        run_walk(trace, answers, console)
    return 0


# ---- quiz -------------------------------------------------------------------------------

QUIZ_LETTERS = "abcdefghij"


def ask(question: Question, number: int, total: int, answers: Answers, console) -> str | None:
    """Show one question and return the chosen letter ('q' to stop, None when input ended)."""
    console.print(Text(f"\nQuestion {number} of {total}  [{question.level}]", style="bold"))
    console.print(Wrapped([question.text]))
    choices = Table.grid(padding=(0, 2))
    choices.add_column(no_wrap=True)
    choices.add_column()
    for letter, option in zip(QUIZ_LETTERS, question.options):
        choices.add_row(f"  {letter.upper()}", literal(option))
    console.print(choices)
    letters = QUIZ_LETTERS[: len(question.options)]
    console.file.flush()
    return answers.ask(f"Your answer ({', '.join(letters.upper())}, q to stop): ", letters + "q")


def feedback(question: Question, chosen: str, console) -> bool:
    """Say right or wrong, give the answer and why; return True when right."""
    right = QUIZ_LETTERS.index(chosen) == question.answer
    key = question.options[question.answer]
    key_text = "" if right else f"The answer is {QUIZ_LETTERS[question.answer].upper()}: {key}. "
    console.print(verdict(right, key_text + question.explanation))
    return right


def run_quiz(trace: Trace, answers: Answers, console, count: int = 10, seed: int = 0) -> QuizResult:
    """Ask `count` questions drawn across levels; print the score and the questions missed."""
    from pipetrace.insights.quiz import draw_quiz

    questions = draw_quiz(trace, count, seed)
    result = QuizResult(asked=len(questions))
    console.print(Text(f"Model Quiz: {len(questions)} questions from the run of {trace.created_at} "
                       f"({trace.network.architecture} on {trace.dataset['name']})", style="bold"))
    for number, question in enumerate(questions, start=1):
        chosen = ask(question, number, len(questions), answers, console)
        if chosen in (None, "q"):
            result.missed += [(n, q, None) for n, q in enumerate(questions[number - 1:], start=number)]
            break
        result.answered += 1
        if feedback(question, chosen, console):
            result.right += 1
        else:
            result.missed.append((number, question, chosen))
    quiz_summary(result, console)
    return result


def quiz_summary(result: QuizResult, console) -> None:
    share = f" ({100 * result.right / result.answered:.0f}% of those answered)" if result.answered else ""
    console.print(Text(f"\nScore: {result.right} of {result.asked} right{share}", style="bold"))
    if result.answered < result.asked:
        console.print(Text(f"{result.asked - result.answered} question(s) not answered"))
    if result.missed:
        console.print(Text("To review:", style="bold"))
        for number, question, chosen in result.missed:
            said = f"you said {chosen.upper()}, " if chosen else "not answered, "
            console.print(Wrapped([f"  {number}. {question.text}",
                                   f"     {said}the answer is {question.options[question.answer]}: {question.explanation}"]))


def print_quiz(args, console) -> int:
    trace, _ = load_trace(args.trace)
    refuse_recorded_fit(trace, "quiz")
    with Answers() as answers:
        run_quiz(trace, answers, console, count=args.questions, seed=args.seed)
    return 0


# ---- math -------------------------------------------------------------------------------


def math_view(trace: Trace, sample: int | None = None) -> Group:
    sections = math.content(trace, sample)
    parts: list[RenderableType] = [Wrapped([math.headline(trace, sample)], style="bold")]
    seen: set[str] = set()
    for section in sections:
        parts += [Rule(Text(section.title, style="bold"), align="left"), Wrapped(section.lines, hang=4)]
        note = glossary_note(glossary.first_uses([section.title, *section.lines], seen))
        if note is not None:
            parts.append(note)
    return Group(*parts)


def print_math(args, console) -> int:
    trace, _ = load_trace(args.trace)
    console.print(math_view(trace, args.sample))
    other = math.other_mistake(trace, args.sample) if trace.weights else None
    if other is not None:
        console.print(Text(f"\nTry a mistake: pipetrace learn math --sample {other} (bigger error, bigger gradient)", style="dim"))
    return 0


# ---- explain ----------------------------------------------------------------------------


def explain_view(trace: Trace) -> Group:
    parts: list[RenderableType] = [Wrapped([f"Explained: {trace.network.architecture} on {trace.dataset['name']}, "
                                            "with this run's numbers"], style="bold")]
    seen: set[str] = set()
    for number, c in enumerate(explain.chapters(trace), start=1):
        rows = [("What it is:", c.what), ("Why it matters:", c.why), ("Mental model:", c.model), ("Common mistake:", c.mistakes)]
        parts += [Rule(Text(f"{number}. {c.title}", style="bold"), align="left"), facts_grid(rows)]
        note = glossary_note(glossary.first_uses([c.title] + [text for _, text in rows], seen))
        if note is not None:
            parts.append(note)
    return Group(*parts)


def print_explain(args, console) -> int:
    trace, _ = load_trace(args.trace)
    refuse_recorded_fit(trace, "explain")
    console.print(explain_view(trace))
    return 0


# ---- cheatsheet -------------------------------------------------------------------------


def cheatsheet_view(trace: Trace, trace_file: str = "TRACE") -> Group:
    parts: list[RenderableType] = [Wrapped([f"Cheatsheet: {trace.network.architecture} on {trace.dataset['name']}"], style="bold")]
    for title, items in cheatsheet.sheet(trace, trace_file).items():
        parts += [Rule(Text(title, style="bold"), align="left"), Wrapped(items, hang=4)]
    return Group(*parts)


def print_cheatsheet(args, console) -> int:
    trace, path = load_trace(args.trace)
    refuse_recorded_fit(trace, "cheatsheet")
    console.print(cheatsheet_view(trace, str(path)))
    if args.markdown:
        target = Path(args.markdown)
        try:
            write_atomic(target, cheatsheet.markdown(trace, str(path)).encode("utf-8"))  # never through a planted link
        except OSError as error:
            raise SettingsError(f"--markdown {target}: cannot write there ({error.strerror})") from error
        console.print(f"\nWrote {visible(target)}", markup=False, emoji=False)
    return 0


# ---- compare ----------------------------------------------------------------------------


def compare_view(a: Trace, b: Trace, name_a: str, name_b: str) -> Group:
    from pipetrace.modes.experiment import curves_chart

    parts: list[RenderableType] = [Text(f"A: {visible(name_a)}\nB: {visible(name_b)}", style="bold")]
    diff = compare.setting_differences(a, b)
    table = Table("setting", "A", "B")
    for row in diff:
        table.add_row(*map(literal, row))
    parts += [Rule(Text("Settings that differ", style="bold"), align="left"),
              table if diff else Text("None: the same settings (differences come from the machine or the library versions)")]
    ma, mb = compare.metrics(a), compare.metrics(b)
    table = Table("", "A", "B")
    for key in ma:
        table.add_row(literal(key), literal(ma[key]), literal(mb[key]))
    parts += [Rule(Text("Metrics", style="bold"), align="left"), table, Text(compare.accuracy_change(a, b))]
    parts += [Rule(Text("Loss per epoch", style="bold"), align="left"), curves_chart({"A": a, "B": b})]
    rows = compare.per_class(a, b)
    if rows:
        table = Table("class", "A", "B", "B - A")
        for row in rows:
            table.add_row(*map(literal, row))
        parts += [Rule(Text("Accuracy per class", style="bold"), align="left"), table]
    parts += [Rule(Text("Where their predictions disagree", style="bold"), align="left"),
              Wrapped(compare.disagreement_lines(a, b), hang=4)]
    return Group(*parts)


def print_compare(args, console) -> int:
    a, path_a = load_trace(args.a)
    b, path_b = load_trace(args.b)
    console.print(compare_view(a, b, str(path_a), str(path_b)))
    return 0


MAINS = {"trace": print_trace, "walk": print_walk, "quiz": print_quiz, "math": print_math, "explain": print_explain,
         "cheatsheet": print_cheatsheet, "compare": print_compare}
