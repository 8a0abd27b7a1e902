"""Which trace a mode reads: the one named on the command line, or the latest run.

A learner types `pipetrace learn quiz` right after `pipetrace run`, so the default is the
newest trace.json under runs/ (or $PIPETRACE_RUNS, where `run` saves). A run folder works as
well as the trace.json inside it.

>>> latest_trace("/nonexistent")        # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
TraceFileError: ...
"""

from __future__ import annotations

import os
from pathlib import Path

from pipetrace.errors import TraceFileError
from pipetrace.trace import Trace


def runs_folder() -> Path:
    """Where `pipetrace run` saves runs by default."""
    return Path(os.environ.get("PIPETRACE_RUNS", "runs"))


def latest_trace(base: str | Path | None = None) -> Path:
    """The most recently written runs/*/trace.json.

    >>> latest_trace("runs")            # doctest: +SKIP
    PosixPath('runs/20250101-120000/trace.json')
    """
    base = Path(base) if base is not None else runs_folder()
    found = sorted(base.glob("*/trace.json"), key=lambda p: (p.stat().st_mtime, str(p))) if base.is_dir() else []
    if not found:
        raise TraceFileError(
            f"no saved run under {base}/: run `pipetrace run` first, or name a trace: pipetrace learn MODE path/to/trace.json"
        )
    return found[-1]


def trace_path(given: str | Path | None) -> Path:
    """`given` (a trace.json or a run folder), or the latest run when None."""
    if given is None:
        return latest_trace()
    path = Path(given)
    return path / "trace.json" if path.is_dir() else path


def load_trace(given: str | Path | None) -> tuple[Trace, Path]:
    """(the Trace, its path): validated by `Trace.load`, which explains a bad file.

    >>> trace, path = load_trace("runs/example")      # doctest: +SKIP
    """
    path = trace_path(given)
    return Trace.load(path), path


def refuse_recorded_fit(trace: Trace, mode: str) -> None:
    """One clear line for a mode made from the data stages, given a fit TraceCallback recorded (it has none)."""
    if not trace.stages:
        from pipetrace.errors import SettingsError

        raise SettingsError(f"learn {mode} is made from a pipetrace run's data stages and settings; this trace is a "
                            "model.fit recorded by TraceCallback, which saw neither (learn trace, math and compare read it)")
