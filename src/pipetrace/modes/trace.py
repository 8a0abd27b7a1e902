"""Mode `trace`: the Model Pipeline Trace of a saved run, exactly as `pipetrace run` printed it.

For learners who read: the data flow, the training, one prediction, a quiz and the key
insights, in order. It is `pipetrace show`, reached from `pipetrace learn`.

>>> from rich.console import Console
>>> main_trace(Trace.load("runs/x/trace.json"), Console())      # doctest: +SKIP
"""

from __future__ import annotations

from pipetrace.modes.locate import load_trace
from pipetrace.trace import Trace
from pipetrace.views.terminal import render_trace


def main_trace(trace: Trace, console, answers: bool = True) -> int:
    """Print every section of `trace`."""
    for part in render_trace(trace, answers=answers):
        console.print(part)
    return 0


def main(args, console) -> int:
    trace, _ = load_trace(args.trace)
    return main_trace(trace, console, answers=not args.no_answers)
