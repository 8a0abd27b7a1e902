"""Mode `lesson`: prepared experiments a teacher can hand out, each a question, the settings that answer it,
what to look for, and what this run showed.

A lesson is a small `learn experiment` (the same variants, saved the same way, the same table) with a
question in front and a reading after: sentences computed from the variants' own numbers, never the
expected textbook outcome. A lesson whose run did not show what the question is about says so.

>>> [lesson.name for lesson in LESSONS]
['rate-too-high', 'dead-relus', 'memorizing', 'capacity']
>>> lesson_named("memorizing").setting
'epochs'
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.text import Text

from pipetrace.errors import SettingsError
from pipetrace.insights.silent_units import silent_units
from pipetrace.modes import experiment
from pipetrace.modes.locate import runs_folder
from pipetrace.numbers import count, number, percent, points
from pipetrace.trace import Settings, Trace

Runs = list[tuple[str, object, Trace]]  # (variant name, value, trace), in the lesson's order


@dataclass(frozen=True)
class Lesson:
    name: str
    question: str
    setting: str  # a Settings field, varied over `values`
    values: list
    base: dict  # the settings every variant shares (besides pipetrace's defaults)
    look_for: str  # where to look and what to compare: an instruction, never a claimed outcome
    read: Callable[[Runs], list[str]]  # what this run showed, from its numbers


def _losses(trace: Trace) -> list[float | None]:
    """Training loss from the untrained start (epoch 0) through every epoch."""
    start = [trace.training.start.loss] if trace.training.start is not None else []
    return start + [epoch.loss for epoch in trace.training.epochs]


def _loss_path(trace: Trace) -> str:
    shown = _losses(trace)
    if len(shown) > 6:
        shown = shown[:3] + [None] + shown[-2:]
        return " -> ".join("..." if v is None else number(v, 3) for v in shown)
    return " -> ".join(number(v, 3) for v in shown)


def _rose(trace: Trace) -> list[int]:
    """Epochs whose training loss ended above the one before it (not measured: not counted)."""
    losses = _losses(trace)
    first = 0 if trace.training.start is not None else 1
    return [first + i for i in range(1, len(losses))
            if losses[i] is not None and losses[i - 1] is not None and losses[i] > losses[i - 1]]


def read_rates(runs: Runs) -> list[str]:
    lines = []
    for name, _, t in runs:
        losses, rose = _losses(t), _rose(t)
        first = 0 if t.training.start is not None else 1
        lost = [first + i for i, loss in enumerate(losses) if loss is None]
        if lost:  # NaN or inf: the run diverged (and no rise or fall can be read across it)
            said = f"; it was no longer a number from epoch {lost[0]} on (the run diverged)"
        elif rose:
            said = f"; it rose in epoch {', '.join(map(str, rose))}"
        elif all(b < a for a, b in zip(losses, losses[1:])):
            said = "; it fell in every epoch"
        else:
            said = "; it never rose, though not every epoch lowered it"
        lines.append(f"{name}: training loss {_loss_path(t)}{said}; test accuracy {percent(t.evaluation.test_accuracy)}.")
    (_, _, slow), (_, _, fast) = runs[0], runs[-1]
    end_slow, end_fast = _losses(slow)[-1], _losses(fast)[-1]
    if end_slow is None or end_fast is None:
        return lines
    if end_fast > end_slow:
        lines.append(f"The larger rate ended with the larger training loss ({number(end_fast, 3)} against "
                     f"{number(end_slow, 3)}).")
        if _rose(fast) and not _rose(slow):
            lines.append("Only the larger rate's loss rose during training: after an epoch of its steps the loss was "
                         "higher than before them, so those steps went past the lower ground instead of down into it.")
    else:
        lines.append(f"In this run the larger rate did not end worse ({number(end_fast, 3)} against {number(end_slow, 3)}): "
                     "try a larger one still, or more epochs, to see it fail.")
    return lines


def read_silent(runs: Runs) -> list[str]:
    lines = []
    for name, _, t in runs:
        silent = silent_units(t)
        if silent is None:
            lines.append(f"{name}: this trace cannot tell which units are silent.")
            continue
        lines.append(f"{name}: {len(silent.units)} of {silent.of} hidden units gave 0 for every one of the "
                     f"{count(silent.images, 'test image')} the run traced; test accuracy {percent(t.evaluation.test_accuracy)}.")
    measured = [silent_units(t) for _, _, t in runs]
    if all(m is not None for m in measured) and len(measured[-1].units) > len(measured[0].units):
        lines.append(f"More units fell silent at the larger rate ({len(measured[-1].units)} against "
                     f"{len(measured[0].units)}): a large step can push a unit's weighted sum below 0 for every image, "
                     "and from then on it passes back no gradient.")
    elif all(m is not None for m in measured):
        lines.append("In this run the larger rate did not silence more units: the question stays open for this run.")
    return lines


def read_memorizing(runs: Runs) -> list[str]:
    lines = []
    for name, _, t in runs:
        last = t.training.epochs[-1] if t.training.epochs else None
        if last is None or last.accuracy is None or last.test_accuracy is None:
            lines.append(f"{name}: no finished epoch to read.")
            continue
        gap = last.accuracy - last.test_accuracy
        lines.append(f"{name}: training accuracy {percent(last.accuracy)}, test accuracy {percent(last.test_accuracy)} "
                     f"({points(gap)} apart) on {t.dataset['train_count']:,} training images.")
        best = min((e for e in t.training.epochs if e.test_loss is not None), key=lambda e: e.test_loss, default=None)
        if best is not None and last.test_loss is not None and best.epoch < last.epoch:
            noise = last.test_loss_noise or 0.0
            beyond = last.test_loss - best.test_loss > 2 * noise
            lines.append(f"    Its test loss was lowest after epoch {best.epoch} ({number(best.test_loss, 3)}) and ended at "
                         f"{number(last.test_loss, 3)}" + (", a rise beyond its noise: past that epoch it learned the "
                                                         "training images more than digits." if beyond and noise
                                                         else ", within its noise."))
    return lines


def read_capacity(runs: Runs) -> list[str]:
    return experiment.observation("hidden", runs)


LESSONS = [
    Lesson("rate-too-high", "What does a learning rate that is too high do to training?", "learning_rate",
           [0.001, 1.0], {"epochs": 3, "schedule": "constant"},
           "Compare the two training losses epoch by epoch: does each fall steadily, or jump and rise? Then the "
           "test accuracies.", read_rates),
    Lesson("dead-relus", "Why can ReLU units stop learning for good?", "learning_rate", [0.001, 0.5],
           {"epochs": 2, "schedule": "constant"},
           "Count the silent hidden units of each variant (0 for every traced image): in its report, the section "
           "'What each hidden unit looks for' marks them.", read_silent),
    Lesson("memorizing", "What does a network learn from a few hundred images, trained for long?", "epochs", [3, 40],
           {"limit": 360},
           "Compare training and test accuracy of each variant, and where the test loss was lowest.", read_memorizing),
    Lesson("capacity", "How many hidden units does MNIST need?", "hidden", [[4], [32], [256]], {"epochs": 2},
           "Compare validation accuracy across the sizes, with the noise of the validation set in mind.", read_capacity),
]


def lesson_named(name: str) -> Lesson:
    for lesson in LESSONS:
        if lesson.name == name:
            return lesson
    raise SettingsError(f"no lesson called {name!r}: the lessons are {', '.join(lesson.name for lesson in LESSONS)}")


def lesson_settings(lesson: Lesson, limit: int | None) -> Settings:
    """The settings every variant starts from: pipetrace's defaults, the lesson's own, then --limit."""
    base = dataclasses.replace(Settings(), **lesson.base)
    return dataclasses.replace(base, limit=limit) if limit is not None else base


def main(args, console) -> int:
    if args.name is None:
        console.print(Text("Lessons: each a question, the runs that answer it, and what to look for", style="bold"))
        for lesson in LESSONS:
            console.print(f"  {lesson.name:<14} {lesson.question}", markup=False)
        console.print("\nUsage: pipetrace learn lesson NAME [--limit N]", markup=False)
        return 0
    lesson = lesson_named(args.name)
    base = lesson_settings(lesson, args.limit)
    from pipetrace.options import check_settings

    for value in lesson.values:
        check_settings(experiment.variant_settings(base, lesson.setting, value))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else runs_folder() / f"lesson-{lesson.name}-{stamp}"
    console.print(Text(f"Lesson: {lesson.question}", style="bold"))
    console.print(f"Look for: {lesson.look_for}", markup=False)
    runs = experiment.run_experiment(base, lesson.setting, lesson.values, out, console)
    console.print(experiment.render(lesson.setting, runs, out))
    console.print(Group(Text("\nWhat this run showed", style="bold"), Text("\n".join(lesson.read(runs)))))
    console.print(f"\nEach variant's run and report are saved under {out}/", markup=False)
    return 0
