"""Learning modes: ten ways to learn from runs, each made from a run's Trace.

People learn differently: some read (`trace`, `explain`, `cheatsheet`), some step through
(`walk`), some test themselves (`quiz`), some want the math (`math`) or the code (`code`),
some want to try things (`experiment`, `compare`), some are handed a question (`lesson`).
Every mode reads a saved trace and invents no number; only `experiment` and `lesson` train. Each mode is one module of this package that
builds its content as plain data from a Trace (walk steps, explain chapters, math sections,
cheatsheet rows, quiz questions; no rich, no HTML); pipetrace.views.learn draws it in the
terminal and pipetrace.views.html.modes in the report. `code`, `experiment` and `lesson` write or train,
and keep their own `main(args, console)`.

>>> [mode.name for mode in MODES][:3]
['trace', 'walk', 'quiz']
>>> mode_named("math").summary.split(":")[0]
'the arithmetic of one prediction'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    """One learning mode: its name on the command line and the line `pipetrace learn` shows."""

    name: str
    summary: str
    trains: bool = False
    on_page: bool = False  # also a view of the HTML report's mode bar

    def module(self):
        """The mode's module, imported only when the mode is used (so listing modes stays light)."""
        return importlib.import_module(f"pipetrace.modes.{self.name}")


MODES = [
    Mode("trace", "the Model Pipeline Trace, as `pipetrace run` printed it", on_page=True),
    Mode("walk", "step through the pipeline one stage at a time: its numbers, its code, one question", on_page=True),
    Mode("quiz", "an interactive quiz from this run, easy to hard, with explanations and a score", on_page=True),
    Mode("code", "write this run as a Keras script: model.fit and model.evaluate (--exact: the trace's numbers exactly)"),
    Mode("math", "the arithmetic of one prediction: weighted sum, softmax, loss, one gradient step", on_page=True),
    Mode("explain", "a narrative deep dive, every claim shown with this run's numbers", on_page=True),
    Mode("experiment", "what if? train variants (--vary hidden=32,128,512) and compare them side by side", trains=True),
    Mode("compare", "two saved runs side by side: settings, metrics, curves, disagreements"),
    Mode("cheatsheet", "one page: shapes, formulas with this run's values, parameters, commands", on_page=True),
    Mode("lesson", "prepared experiments to hand out: a question, the runs that answer it, what to look for", trains=True),
]


def mode_named(name: str) -> Mode:
    """The mode called `name` (KeyError if there is none)."""
    for mode in MODES:
        if mode.name == name:
            return mode
    raise KeyError(name)


__all__ = ["MODES", "Mode", "mode_named"]
