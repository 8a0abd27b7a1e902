"""Mode `quiz`: test yourself on this run, easy to hard, with the explanation after each answer.

Questions come from `pipetrace.insights.quiz` (`draw_quiz`: easy to hard), so every answer key
is a number or a fact of this run. This module holds the quiz's content and its result as plain
data; views/learn.py asks the questions in the terminal (a letter key answers; piped, one letter
a line, the end of input stops the quiz) and the report's quiz section shows the same questions.

>>> [q.level for q in draw_quiz(trace, 3)]       # doctest: +SKIP
['easy', 'medium', 'hard']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipetrace.insights.quiz import draw_quiz
from pipetrace.trace import Question, Trace

__all__ = ["QuizResult", "draw_quiz", "questions"]


@dataclass
class QuizResult:
    """How it went: what was asked, what was right, and the questions missed."""

    asked: int
    right: int = 0
    answered: int = 0
    missed: list[tuple[int, Question, str | None]] = field(default_factory=list)  # (number, question, chosen letter)


def questions(trace: Trace, count: int = 10, seed: int = 0) -> list[Question]:
    """The quiz's content: `count` questions of this run, easy to hard, options shuffled by `seed`."""
    return draw_quiz(trace, count, seed)
