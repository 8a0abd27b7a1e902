"""Mode `quiz`: test yourself on this run, easy to hard, with the explanation after each answer.

Questions come from `pipetrace.insights.quiz`, so every answer key is a number or a fact of
this run. On a terminal a letter key answers; piped, one letter a line (the end of input
stops the quiz, and the questions left count as not answered).

>>> import io
>>> from rich.console import Console
>>> result = run_quiz(trace, Answers(io.StringIO("a\\nb\\n")), Console(), count=2)   # doctest: +SKIP
>>> result.right, result.asked                                                   # doctest: +SKIP
(1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from pipetrace.insights.quiz import draw_quiz
from pipetrace.modes.answers import Answers
from pipetrace.modes.locate import load_trace
from pipetrace.trace import Question, Trace

LETTERS = "abcdefghij"


@dataclass
class QuizResult:
    """How it went: what was asked, what was right, and the questions missed."""

    asked: int
    right: int = 0
    answered: int = 0
    missed: list[tuple[int, Question, str | None]] = field(default_factory=list)  # (number, question, chosen letter)


def ask(question: Question, number: int, total: int, answers: Answers, console) -> str | None:
    """Show one question and return the chosen letter ('q' to stop, None when input ended)."""
    console.print(Text(f"\nQuestion {number} of {total}  [{question.level}]", style="bold"))
    console.print(Text(question.text))
    for letter, option in zip(LETTERS, question.options):
        console.print(Text(f"  {letter.upper()}  {option}"))
    letters = LETTERS[: len(question.options)]
    console.file.flush()
    return answers.ask(f"Your answer ({', '.join(letters.upper())}, q to stop): ", letters + "q")


def feedback(question: Question, chosen: str, console) -> bool:
    """Say right or wrong, give the answer and why; return True when right."""
    right = LETTERS.index(chosen) == question.answer
    key = question.options[question.answer]
    if right:
        console.print(Text.assemble(("Right. ", "bold green"), question.explanation))
    else:
        console.print(Text.assemble(("Not quite. ", "bold red"), f"The answer is {LETTERS[question.answer].upper()}: {key}. ",
                                    question.explanation))
    return right


def run_quiz(trace: Trace, answers: Answers, console, count: int = 10, seed: int = 0) -> QuizResult:
    """Ask `count` questions drawn across levels; print the score and the questions missed."""
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
    summary(result, console)
    return result


def summary(result: QuizResult, console) -> None:
    share = f" ({100 * result.right / result.answered:.0f}% of those answered)" if result.answered else ""
    console.print(Text(f"\nScore: {result.right} of {result.asked} right{share}", style="bold"))
    if result.answered < result.asked:
        console.print(Text(f"{result.asked - result.answered} question(s) not answered"))
    if result.missed:
        console.print(Text("To review:", style="bold"))
        for number, question, chosen in result.missed:
            said = f"you said {chosen.upper()}, " if chosen else "not answered, "
            console.print(Text(f"  {number}. {question.text}\n     {said}the answer is "
                               f"{question.options[question.answer]}: {question.explanation}"))


def main(args, console) -> int:
    trace, _ = load_trace(args.trace)
    with Answers() as answers:
        run_quiz(trace, answers, console, count=args.questions, seed=args.seed)
    return 0
