"""Quiz answer keys and insights agree with the trace they were built from."""

import copy
import re

from pipetrace.insights import build_quiz, key_insights, quiz_pool
from pipetrace.numbers import number, percent
from pipetrace.stages.measure import shape_text
from pipetrace.training.observations import gap_noise


def test_every_question_has_distinct_options_and_one_key(small_run):
    trace, _ = small_run
    pool = quiz_pool(trace)
    assert len(pool) >= 8
    for q in build_quiz(trace, len(pool), seed=3):
        assert len(set(q.options)) == len(q.options) >= 3
        assert 0 <= q.answer < len(q.options)
        assert q.explanation


def test_default_quiz_mirrors_the_seed_page(small_run):
    trace, _ = small_run
    q1, q2, q3 = trace.quiz
    assert q1.kind == "concept" and q1.options[q1.answer] == trace.stages[2].did
    assert {s.did for s in trace.stages if s.name != "Flatten"} >= set(q1.options) - {trace.stages[2].did}
    assert q2.options[q2.answer] == shape_text(trace.stages[2].outputs[0].shape)
    assert q3.options[q3.answer] == percent(trace.training.epochs[-1].test_accuracy)


def test_measured_keys_match_the_trace(small_run):
    trace, _ = small_run
    keys = {q.text: q.options[q.answer] for q in quiz_pool(trace)}
    hidden = trace.network.layers[0]
    by_start = lambda s: next(v for k, v in keys.items() if k.startswith(s))  # noqa: E731
    assert by_start("How many numbers") == f"{hidden.params:,}"
    assert by_start(f"For test image {trace.prediction.sample}, how many") == str(trace.prediction.layers[1].details["fired"])
    flat = trace.stages[2].details
    assert by_start("After Flatten") == str(28 * flat["row"] + flat["col"])
    assert by_start("What did the network predict").startswith(f"'{trace.prediction.predicted}'")


def test_shuffling_moves_the_key_but_keeps_it_right(small_run):
    trace, _ = small_run
    a, b = build_quiz(trace, 5, seed=1), build_quiz(trace, 5, seed=2)
    for qa, qb in zip(a, b):
        assert qa.options[qa.answer] == qb.options[qb.answer]
    assert [q.answer for q in a] != [q.answer for q in b]


def test_insights_quote_the_numbers_they_rest_on(small_run):
    trace, _ = small_run
    insights = key_insights(trace)
    start, last = trace.training.start, trace.training.epochs[-1]
    learning = insights[0]
    assert learning.figures["test_accuracy"] == trace.evaluation.test_accuracy
    assert learning.figures["first_loss"] == start.loss and learning.figures["last_loss"] == last.loss
    assert percent(trace.evaluation.test_accuracy) in learning.text and number(last.loss) in learning.text
    assert number(start.loss) in learning.text and "untrained start" in learning.text
    params = next(i for i in insights if "parameters" in i.text)
    assert f"{trace.network.total_params:,}" in params.text
    hardest = next(i for i in insights if "hardest" in i.text)
    c = hardest.figures["hardest"]
    assert hardest.figures["hardest_accuracy"] == min(trace.evaluation.per_class_accuracy)
    assert re.search(rf"'{c}' was the hardest", hardest.text)


def test_generalization_insight_follows_the_gap_against_its_noise(small_run):
    trace, _ = small_run
    n_test, n_train = trace.dataset["test_count"], trace.training.train_measured_on
    overfit = copy.deepcopy(trace)
    overfit.training.epochs[-1].accuracy = 0.999
    overfit.training.epochs[-1].test_accuracy = 0.90
    text = next(i.text for i in key_insights(overfit) if "gap" in i.text)
    assert "9.9 points" in text and "more than the measuring noise" in text
    if not any("test loss was lowest" in i.text for i in key_insights(overfit)):  # no rise beyond noise: a gap
        assert "not clearly over-fitting yet" in text and "stopping earlier" not in text
    risen = copy.deepcopy(overfit)  # the test loss far above its lowest, beyond any noise, training loss falling
    best = min(risen.training.epochs[:-1], key=lambda e: e.test_loss)
    risen.training.epochs[-1].test_loss = 3 * best.test_loss
    risen.training.epochs[-1].loss = min(e.loss for e in risen.training.epochs) / 2
    text = next(i.text for i in key_insights(risen) if "gap" in i.text)
    assert "risen beyond its noise: over-fitting" in text and "validation split" in text
    turned = next(i.text for i in key_insights(risen) if "test loss was lowest" in i.text)
    assert f"after epoch {best.epoch}" in turned and "never on the test set" in turned
    # a gap inside the noise of n test images (2 standard errors) is not called memorizing
    close = copy.deepcopy(trace)
    noise = 2 * gap_noise(0.9, n_train, 0.9, n_test)
    close.training.epochs[-1].accuracy, close.training.epochs[-1].test_accuracy = 0.9 + noise / 2, 0.9
    insight = next(i for i in key_insights(close) if "gap" in i.text)
    assert insight.figures["gap_points"] < insight.figures["noise_points"]
    assert "within the measuring noise" in insight.text and "over-fitting" not in insight.text
    # a running mean (older traces, TraceCallback) is never set against test accuracy
    running = copy.deepcopy(overfit)
    running.training.train_measured_on = 0
    assert not any("gap" in i.text for i in key_insights(running))
    diverged = copy.deepcopy(trace)
    diverged.training.status = "diverged"
    assert key_insights(diverged)[0].text.startswith("Training diverged in epoch 2 of 2")


def test_asking_more_questions_than_a_run_answers_keeps_the_run(tmp_path):
    """`questions: 25` (the most the command line takes) on a run whose numbers answer fewer: the run is kept,
    with every question it answers (the lab once failed such runs after training)."""
    import pipetrace
    from pipetrace.insights import quiz_pool
    from pipetrace.insights.quiz import MAX_QUESTIONS

    trace = pipetrace.run(limit=600, epochs=1, questions=MAX_QUESTIONS, out=tmp_path / "run", verbose=0)
    assert (tmp_path / "run" / "trace.json").is_file()
    assert len(trace.quiz) == min(MAX_QUESTIONS, len(quiz_pool(trace)))
