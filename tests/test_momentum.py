"""SGD's momentum, end to end: checked like every setting, trained with, recorded, and taught as Keras runs it.

Three real small runs (600 images, 1 epoch): SGD with momentum 0.9, plain SGD and Adam. The momentum
run's optimizer must really have momentum 0.9 (in the trained model, and in model.keras), its trace must
record it, and every text about its optimizer must say so with the velocity formula; the other two must
never mention momentum.
"""

from __future__ import annotations

import math
import re

import pytest
from conftest import pipetrace_cli
from rich.console import Console

from pipetrace.errors import SettingsError
from pipetrace.insights.quiz import quiz_pool
from pipetrace.modes import cheatsheet, explain
from pipetrace.modes import math as math_mode
from pipetrace.options import check_settings
from pipetrace.trace import Settings, Trace
from pipetrace.views import learn

SMALL = dict(limit=600, epochs=1, seed=0, verbose=0)
RUNS = {
    "momentum": dict(optimizer="sgd", momentum=0.9, learning_rate=0.01),
    "plain-sgd": dict(optimizer="sgd", learning_rate=0.05),
    "adam": dict(),
}
VELOCITY = "u <- 0.9 * u - rate * g"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """name -> (trace, run folder), each trained once for this module."""
    import pipetrace

    folder = tmp_path_factory.mktemp("momentum")
    return {name: (pipetrace.run(out=folder / name, **SMALL, **settings), folder / name) for name, settings in RUNS.items()}


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.0), ("sgd", 0), ("sgd", 0.9), ("sgd", 0.99), ("adam", 0.0),
                                                 ("rmsprop", 0)])
def test_momentum_from_0_up_to_1_is_accepted_with_sgd(optimizer, momentum):
    assert check_settings(Settings(optimizer=optimizer, momentum=momentum)).momentum == momentum


@pytest.mark.parametrize("optimizer, momentum, message", [
    ("sgd", 1.0, "--momentum must be a fraction from 0 up to (not including) 1, such as 0.9 (got 1.0)"),
    ("sgd", 1.5, "--momentum must be a fraction from 0 up to (not including) 1"),
    ("sgd", -0.1, "--momentum must be a fraction from 0 up to (not including) 1"),
    ("sgd", math.nan, "--momentum must be a fraction from 0 up to (not including) 1"),
    ("sgd", math.inf, "--momentum must be a fraction from 0 up to (not including) 1"),
    ("sgd", "0.9", "--momentum must be a fraction from 0 up to (not including) 1"),
    ("sgd", True, "--momentum must be a fraction from 0 up to (not including) 1"),
    ("sgd", None, "--momentum must be a fraction from 0 up to (not including) 1"),
    ("adam", 0.9, "--momentum 0.9 applies to --optimizer sgd only (this run uses adam)"),
    ("rmsprop", 0.5, "--momentum 0.5 applies to --optimizer sgd only (this run uses rmsprop)"),
])
def test_a_momentum_that_cannot_work_is_one_line_naming_the_option(optimizer, momentum, message):
    with pytest.raises(SettingsError) as refused:
        check_settings(Settings(optimizer=optimizer, momentum=momentum))
    assert str(refused.value) == message or str(refused.value).startswith(message)


def test_the_run_trains_with_the_momentum_and_records_it(runs):
    import keras

    trace, folder = runs["momentum"]
    assert trace.settings.momentum == 0.9 and trace.network.momentum == 0.9
    assert type(trace.model.optimizer).__name__ == "SGD" and trace.model.optimizer.momentum == 0.9
    assert not trace.model.optimizer.nesterov  # the update the texts teach
    saved = keras.models.load_model(folder / "model.keras")  # saved compiled, with its optimizer
    assert type(saved.optimizer).__name__ == "SGD" and saved.optimizer.momentum == 0.9
    again = Trace.load(folder / "trace.json")
    assert again == trace and again.settings.momentum == again.network.momentum == 0.9
    for name in ("plain-sgd", "adam"):
        other, _ = runs[name]
        assert other.settings.momentum == other.network.momentum == 0.0
        assert getattr(other.model.optimizer, "momentum", 0.0) == 0.0


def _texts(trace) -> dict[str, str]:
    """Every text about the run, by where a learner reads it."""
    console = Console(width=100, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(trace)
    console.print(learn.explain_view(trace))
    return {
        "math": "\n".join(line for s in math_mode.content(trace) for line in (s.title, *s.lines)),
        "cheatsheet": "\n".join(line for lines in cheatsheet.sheet(trace).values() for line in lines),
        "explain": "\n".join(t for c in explain.chapters(trace) for t in (c.title, c.what, c.why, c.model, c.mistakes)),
        "quiz": "\n".join(t for q in quiz_pool(trace) for t in (q.text, *q.options, q.explanation)),
        "trace": "\n".join([trace.stages[-1].did, *(e.observation for e in trace.training.epochs),
                            *(i.text for i in trace.insights)]),
        "terminal": console.export_text(),
    }


def test_every_text_of_a_momentum_run_says_momentum_with_kerass_update(runs):
    trace, _ = runs["momentum"]
    texts = _texts(trace)
    step = next(s for s in math_mode.content(trace) if s.key == "step")
    assert VELOCITY in "\n".join(step.lines) and "w <- w + u" in "\n".join(step.lines)
    assert "plus 0.9 of the step before" in "\n".join(step.lines)
    assert f"update (SGD with momentum 0.9, rate {trace.network.learning_rate:g}" in texts["cheatsheet"]
    assert VELOCITY in texts["cheatsheet"] and "--optimizer sgd --momentum 0.9" in texts["cheatsheet"]
    assert "SGD with momentum 0.9 at learning rate 0.01" in texts["explain"]
    assert "build up to about 10 times plain SGD's" in texts["explain"]
    assert "This run trained with SGD with momentum 0.9 at learning rate 0.01" in texts["quiz"]
    assert VELOCITY in texts["quiz"]
    assert "with SGD with momentum 0.9 (learning rate" in texts["trace"]
    assert "sgd (momentum 0.9)" in texts["terminal"] and "momentum: in SGD, the share" in texts["terminal"]
    assert "w <- w - rate * g" not in texts["cheatsheet"]  # plain SGD's update is not this run's


@pytest.mark.parametrize("name", ["plain-sgd", "adam"])
def test_runs_without_momentum_never_mention_it(runs, name):
    trace, _ = runs[name]
    for where, text in _texts(trace).items():
        assert not re.search(r"momentum|velocity", text, re.IGNORECASE), where


def test_learn_commands_show_the_momentum_and_code_builds_it(runs):
    _, folder = runs["momentum"]
    for mode in ("math", "cheatsheet", "explain"):
        done = pipetrace_cli("learn", mode, str(folder))
        assert done.returncode == 0, done.stderr
        assert "momentum 0.9" in done.stdout, mode
    written = pipetrace_cli("learn", "code", str(folder), "-o", "-")
    assert written.returncode == 0 and "keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)" in written.stdout


def test_the_experiment_varies_momentum_and_checks_every_variant_first(runs, tmp_path):
    from pipetrace.modes.experiment import parse_vary

    assert parse_vary("momentum=0,0.9") == ("momentum", [0.0, 0.9])
    _, adam_folder = runs["adam"]
    done = pipetrace_cli("learn", "experiment", str(adam_folder), "--vary", "momentum=0,0.9", "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "--momentum 0.9 applies to --optimizer sgd only" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x").exists()  # refused before any variant trained
