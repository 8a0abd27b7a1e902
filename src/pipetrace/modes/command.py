"""`pipetrace learn [MODE] [TRACE]`: the command line of the learning modes.

`pipetrace learn` alone lists the modes; `pipetrace learn MODE --help` explains one. The
parser is built here, next to the modes, so cli.py only has to hand over the `learn` word.
Nothing in this file imports TensorFlow; a mode imports what it needs when it runs. This is the
command's floor (like cli.py): the modes build content, pipetrace.views.learn draws it, and only
this file joins the two.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="pipetrace")
>>> add_learn_command(parser.add_subparsers(dest="command"))
>>> parser.parse_args(["learn", "quiz", "--questions", "5"]).questions
5
"""

from __future__ import annotations

import argparse

from pipetrace.modes import MODES, mode_named

TRACE_HELP = "a trace.json or a run folder (default: the latest run under runs/ or $PIPETRACE_RUNS)"


def add_learn_command(commands) -> None:
    learn = commands.add_parser(
        "learn", help="learn from a run your way: trace, walk, quiz, code, math, explain, experiment, compare, cheatsheet, lesson",
        description="Ten learning modes, each made from a saved run's trace (lesson: from runs it trains). "
                    "`pipetrace learn` lists them.",
    )
    learn.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    learn.set_defaults(handler=_list, mode=None)
    modes = learn.add_subparsers(dest="mode", metavar="MODE")
    for mode in MODES:
        parser = modes.add_parser(mode.name, help=mode.summary, description=mode.summary[0].upper() + mode.summary[1:] + ".")
        if mode.name == "compare":
            parser.add_argument("a", metavar="A", help="the first trace.json or run folder")
            parser.add_argument("b", metavar="B", help="the second trace.json or run folder")
        elif mode.name == "lesson":
            parser.add_argument("name", metavar="NAME", nargs="?", help="the lesson (without it: the list of lessons)")
        else:
            parser.add_argument("trace", metavar="TRACE", nargs="?", help=TRACE_HELP if mode.name != "experiment" else
                                "the run whose settings the variants start from (default: the latest run; "
                                "pipetrace's defaults if there is none)")
        OPTIONS.get(mode.name, lambda p: None)(parser)
        parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
        parser.set_defaults(handler=_run_mode)


def _trace_options(parser) -> None:
    parser.add_argument("--no-answers", action="store_true", help="print the quiz without its answers")


def _quiz_options(parser) -> None:
    parser.add_argument("--questions", type=int, default=10, metavar="N", help="how many questions (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="another seed draws other questions in another order (default %(default)s)")


def _code_options(parser) -> None:
    parser.add_argument("--output", "-o", metavar="FILE",
                        help="where to write the script (default: reproduce.py, or reproduce_exact.py with --exact, "
                             "beside the trace; '-' prints it)")
    parser.add_argument("--exact", action="store_true",
                        help="the exact reproduction with pipetrace's own training loop (default: model.fit and model.evaluate)")


def _math_options(parser) -> None:
    parser.add_argument("--sample", type=int, metavar="N",
                        help="a test image the run traced (default: the one it followed; the trace lists the others)")


def _experiment_options(parser) -> None:
    parser.add_argument("--vary", required=True, metavar="SETTING=V1,V2,...",
                        help="hidden=32,128,512 (or 256-128 for two layers), learning-rate=0.001,0.01, epochs=1,3, batch-size=32,256, "
                        "momentum=0,0.9 (SGD runs)")
    parser.add_argument("--limit", type=int, metavar="N", help="train on the first N images only (quick experiments)")
    parser.add_argument("--out", metavar="DIR", help="where to save the variants' runs (default: runs/experiment-<time>/)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="train the variants in parallel on N local Dask worker processes (default: one after another, here)")
    parser.add_argument("--cluster", metavar="ADDRESS", help="train the variants on the Dask scheduler at ADDRESS (tcp://host:8786)")


def _lesson_options(parser) -> None:
    parser.add_argument("--limit", type=int, metavar="N", help="train on the first N images only (a quicker lesson)")
    parser.add_argument("--out", metavar="DIR", help="where to save the lesson's runs (default: runs/lesson-<name>-<time>/)")


def _cheatsheet_options(parser) -> None:
    parser.add_argument("--markdown", metavar="FILE", help="also write the cheatsheet as Markdown to FILE")


OPTIONS = {"trace": _trace_options, "quiz": _quiz_options, "code": _code_options, "math": _math_options,
           "experiment": _experiment_options, "cheatsheet": _cheatsheet_options, "lesson": _lesson_options}


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _list(args) -> int:
    """`pipetrace learn`: the modes, one line each."""
    width = max(len(mode.name) for mode in MODES)
    print(f"Choose your learning style: {len(MODES)} modes, each made from a run's trace\n")
    for number, mode in enumerate(MODES, start=1):
        note = " (trains)" if mode.trains else ""
        print(f"  {number}. {mode.name:<{width}}  {mode.summary}{note}")
    print("\nUsage: pipetrace learn MODE [TRACE]   (TRACE: a trace.json or run folder; default: the latest run)")
    print("Example: pipetrace learn walk   ·   pipetrace learn MODE --help for a mode's options")
    return 0


def _run_mode(args) -> int:
    """The modes pipetrace.views.learn draws in the terminal run there; code, experiment and lesson write or train."""
    from pipetrace.views.learn import MAINS

    if args.mode in MAINS:
        return MAINS[args.mode](args, _console())
    return mode_named(args.mode).module().main(args, _console())
