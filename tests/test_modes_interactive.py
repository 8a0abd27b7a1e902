"""`walk` and `quiz` driven as a learner would: keys on a pseudo-terminal, and lines through a pipe."""

from __future__ import annotations

import io

from modes_helpers import Terminal, piped
from pipetrace.insights.quiz import LEVELS, draw_quiz, quiz_pool
from pipetrace.modes.answers import Answers
from pipetrace.modes.walk import shuffled, steps

LETTERS = "abcd"


def test_quiz_draws_every_level_with_distinct_options(small_run):
    trace, _ = small_run
    questions = draw_quiz(trace, 10, seed=0)
    assert len(questions) == 10 and {q.level for q in questions} == set(LEVELS)
    assert [LEVELS.index(q.level) for q in questions] == sorted(LEVELS.index(q.level) for q in questions)
    for q in quiz_pool(trace):
        assert len(set(q.options)) == len(q.options) >= 2


def test_piped_quiz_scores_right_and_wrong_answers(small_run):
    trace, folder = small_run
    questions = draw_quiz(trace, 4, seed=0)
    wrong = (questions[1].answer + 1) % len(questions[1].options)
    lines = [LETTERS[questions[0].answer], "nonsense", LETTERS[wrong], LETTERS[questions[2].answer], LETTERS[questions[3].answer]]
    result = piped("learn", "quiz", str(folder), "--questions", "4", input="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Score: 3 of 4 right" in out
    assert out.count("Right.") == 3 and out.count("Not quite.") == 1
    assert "expected one of A, B, C, D" in out
    assert f"2. {' '.join(questions[1].text.split())}" in out  # listed among the questions to review


def test_piped_quiz_stops_at_the_end_of_input(small_run):
    result = piped("learn", "quiz", str(small_run[1]), input="a\n")
    assert result.returncode == 0, result.stderr
    assert "9 question(s) not answered" in result.stdout


def test_quiz_with_too_many_questions_is_a_clear_error(small_run):
    result = piped("learn", "quiz", str(small_run[1]), "--questions", "999", input="")
    assert result.returncode == 2 and "--questions 999" in result.stderr and "Traceback" not in result.stderr


def test_quiz_on_a_terminal_takes_single_keys(small_run):
    trace, folder = small_run
    questions = draw_quiz(trace, 3, seed=0)
    term = Terminal("learn", "quiz", str(folder), "--questions", "3")
    for n, q in enumerate(questions):
        term.expect("q to stop): ")
        term.press("x")  # not an answer: ignored
        term.press(LETTERS[q.answer] if n != 1 else LETTERS[(q.answer + 1) % len(q.options)])
    term.expect("Score: 2 of 3 right")
    assert term.finish() == 0


def test_walk_on_a_terminal_goes_forward_back_and_quits(small_run):
    trace, folder = small_run
    first = shuffled(steps(trace)[0].question, 0)
    term = Terminal("learn", "walk", str(folder))
    term.expect("Step 1 of 7")
    term.expect("b back · q quit: ")
    term.press("1234"[first.answer])
    assert "Right." in term.expect("Enter next")
    term.press("\r")
    term.expect("Step 2 of 7")
    term.expect("q quit: ")
    term.press("b")
    assert "Stage 1: Load" in term.expect("q quit: ")
    term.press("\r")
    term.expect("Step 2 of 7")
    term.expect("q quit: ")
    term.press("q")
    term.expect("Walk over: 2 of 7 steps seen, 1 of 1 check questions answered right")
    assert term.finish() == 0


def test_piped_walk_shows_numbers_code_and_questions(small_run):
    trace, folder = small_run
    all_steps = steps(trace)
    answers = []
    for n, step in enumerate(all_steps):
        answers += ["1234"[shuffled(step.question, n).answer], ""]
    result = piped("learn", "walk", str(folder), input="\n".join(answers) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "7 of 7 steps seen, 7 of 7 check questions" in " ".join(out.split())
    assert "images.reshape(len(images), -1)" in out and "optimizer.apply(gradients" in out
    assert " x ".join(map(str, trace.stages[2].outputs[0].shape)) in out


def test_answers_read_lines_when_piped():
    keys = Answers(io.StringIO("\nB\nq\n"), echo=lambda text: None)
    assert keys.ask("? ", "abq", enter=True) == ""
    assert keys.ask("? ", "abq") == "b"
    assert keys.ask("? ", "abq") == "q"
    assert keys.ask("? ", "abq") is None


def test_piped_walk_at_80_columns_cuts_no_column(small_run):
    """At 80 columns nothing is cut to '…' (the split counts once showed as 'lab… tra…')."""
    trace, folder = small_run
    result = piped("learn", "walk", str(folder), input="\n" * 8, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    counts = trace.stages[3].details["train_counts"]
    assert f"'{trace.dataset['class_names'][0]}' {counts[0]:,}" in result.stdout
