"""`pipetrace learn lesson`: prepared experiments, each reading checked against its own runs (and Keras), not wording."""

from __future__ import annotations

import io
import types

import keras
import numpy as np
import pytest
from rich.console import Console

from conftest import pipetrace_cli
from pipetrace.modes import lesson as lessons
from pipetrace.numbers import number, percent
from pipetrace.trace import Trace


def run_lesson(name: str, out, limit: int = 600) -> tuple[str, dict[str, Trace]]:
    """The lesson run in this process (as `pipetrace learn lesson NAME --limit N --out OUT`): its text (one line a
    sentence group, as printed 200 columns wide) and traces."""
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    assert lessons.main(types.SimpleNamespace(name=name, limit=limit, out=str(out)), console) == 0
    chosen = lessons.lesson_named(name)
    from pipetrace.modes.experiment import label

    traces = {label(chosen.setting, v): Trace.load(out / label(chosen.setting, v) / "trace.json") for v in chosen.values}
    return console.file.getvalue(), traces


def line_of(text: str, start: str) -> str:
    return next(line.strip() for line in text.splitlines() if line.strip().startswith(start))


def test_the_list_of_lessons_and_an_unknown_one():
    listed = pipetrace_cli("learn", "lesson")
    assert listed.returncode == 0, listed.stderr
    for lesson in lessons.LESSONS:
        assert lesson.name in listed.stdout and lesson.question in listed.stdout
    unknown = pipetrace_cli("learn", "lesson", "nope")
    assert unknown.returncode == 2 and unknown.stderr.strip().splitlines() == [
        "pipetrace learn: error: no lesson called 'nope': the lessons are rate-too-high, dead-relus, memorizing, capacity"]


def test_rate_too_high_reads_its_own_losses(tmp_path):
    text, traces = run_lesson("rate-too-high", tmp_path / "rate")
    assert "Lesson: What does a learning rate that is too high do to training?" in text and "Look for:" in text
    (slow_name, slow), (fast_name, fast) = traces.items()
    assert slow.settings.learning_rate == 0.001 and fast.settings.learning_rate == 1.0
    for name, t in traces.items():
        losses = [t.training.start.loss] + [e.loss for e in t.training.epochs]
        assert f"{name}: training loss {' -> '.join(number(v, 3) for v in losses)}" in text
        assert f"test accuracy {percent(t.evaluation.test_accuracy)}" in text
        rose = [i for i in range(1, len(losses)) if losses[i] > losses[i - 1]]
        assert ("it fell in every epoch" in line_of(text, f"{name}: training loss")) == (not rose)
    worse = fast.training.epochs[-1].loss > slow.training.epochs[-1].loss
    assert ("The larger rate ended with the larger training loss" in text) == worse
    assert ("did not end worse" in text) == (not worse)


def test_dead_relus_counts_what_keras_gives_on_the_traced_images(tmp_path):
    text, traces = run_lesson("dead-relus", tmp_path / "dead")
    counts = []
    for name, t in traces.items():
        model = keras.models.load_model(tmp_path / "dead" / name / "model.keras")
        dense = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
        images = np.array([np.asarray(p.image, np.float32).reshape(-1) / 255 for p in [t.prediction, *t.samples]])
        hidden = keras.Model(model.inputs, dense.output).predict(images, verbose=0)
        silent = int((hidden <= 0).all(axis=0).sum())
        counts.append(silent)
        assert f"{name}: {silent} of {hidden.shape[1]} hidden units gave 0 for every one of the {len(images)} test images" in text
    assert ("More units fell silent at the larger rate" in text) == (counts[-1] > counts[0])


def test_memorizing_reads_the_gap_and_the_test_loss(tmp_path):
    text, traces = run_lesson("memorizing", tmp_path / "memo")
    for name, t in traces.items():
        last = t.training.epochs[-1]
        assert (f"{name}: training accuracy {percent(last.accuracy)}, test accuracy {percent(last.test_accuracy)}"
                in text)
        best = min(t.training.epochs, key=lambda e: e.test_loss)
        if best.epoch < last.epoch:
            assert f"Its test loss was lowest after epoch {best.epoch} ({number(best.test_loss, 3)})" in text
            beyond = last.test_loss - best.test_loss > 2 * last.test_loss_noise
            lines = [line.strip() for line in text.splitlines()]
            after = lines[lines.index(line_of(text, f"{name}: training accuracy")) + 1]
            assert after.startswith("Its test loss was lowest") and ("a rise beyond its noise" in after) == beyond


@pytest.mark.parametrize("lesson", lessons.LESSONS, ids=lambda lesson: lesson.name)
def test_every_lessons_settings_pass_the_command_lines_checks(lesson):
    from pipetrace.modes.experiment import variant_settings
    from pipetrace.options import check_settings

    for value in lesson.values:
        check_settings(variant_settings(lessons.lesson_settings(lesson, 600), lesson.setting, value))


def test_a_diverged_variant_is_not_said_to_have_fallen(small_run):
    """A loss that became NaN is said to be no number, never 'it fell in every epoch'."""
    import copy

    trace = small_run[0]
    diverged = copy.deepcopy(trace)
    diverged.training.epochs[-1].loss = None
    lines = lessons.read_rates([("learning-rate=0.001", 0.001, trace), ("learning-rate=1", 1.0, diverged)])
    last = len(diverged.training.epochs)
    assert f"it was no longer a number from epoch {last} on (the run diverged)" in lines[1]
    assert "fell" not in lines[1]
