"""The `pipetrace` command: `run` a pipeline and trace it, `show` a saved trace.

Heavy libraries load only where needed: `show` and `--help` never import TensorFlow.
Errors pipetrace expects (bad data, bad options, no TensorFlow) print one clear line and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path

from pipetrace import __version__
from pipetrace.closed_output import GuardedOutput
from pipetrace.errors import PipetraceError
from pipetrace.trace import Settings

DEFAULTS = Settings()


def console_main() -> None:
    """The `pipetrace` command (and `python -m pipetrace`): `main`, then leave at once.

    The process is ours, so it sets what a library call must not: Keras on TensorFlow and
    TensorFlow's C++ log level 2 (unless the user set them), Keras imported without its unused
    extras, and a private temporary folder, removed at the end, for the files TensorFlow's
    autograph writes there. After a run, TensorFlow's teardown at exit takes about a second and
    has nothing left to do: every file is written, closed and renamed into place. So a process
    that imported it flushes its output and exits without the teardown.
    """
    from pipetrace.training import backend

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    backend.LEAN_IMPORT = True  # skip Keras' unused extras (see backend.LEAN_IMPORT)
    sys.stdout = GuardedOutput(sys.stdout)  # `pipetrace run | head`: the run goes on and is saved
    _use_private_temp_folder()
    try:
        status = main()
    finally:
        remove_private_temp_folder()
    if "tensorflow" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):  # like git: what there is to do, and a status that says nothing was
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except PipetraceError as error:
        if args.debug:
            raise
        from pipetrace.views.safe_text import visible  # error lines carry paths and names from others' files

        print(f"pipetrace {args.command}: error: {visible(error)}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("pipetrace: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, not bad input: still one line, the traceback on request
        if args.debug:
            raise
        from pipetrace.views.safe_text import visible

        print(
            f"pipetrace {args.command}: unexpected error: {type(error).__name__}: {visible(error)} "
            "(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library's warning as one line, its control characters made visible (it may quote a dataset's names)."""
    from pipetrace.views.safe_text import visible

    print(f"pipetrace: warning: {visible(f'{category.__name__}: {message}')}", file=file or sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipetrace",
        description="Watch a first neural network learn: every stage, epoch and layer, measured in your run.",
        epilog="Start with `pipetrace run`; then `pipetrace show runs/<run>/trace.json` to see it again.",
    )
    parser.add_argument("--version", action="version", version=f"pipetrace {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="load MNIST, train the network, and trace every step",
        description="Load MNIST, normalize, flatten and split it, train Dense(128, ReLU) -> Dense(10, softmax), "
        "and show the data flow, the training trace, one prediction through every layer, a quiz and key insights.",
    )
    group = run.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="passes over the training set (default %(default)s)")
    group.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help="images per weight update (default %(default)s)")
    group.add_argument("--hidden", type=_sizes, default=DEFAULTS.hidden, metavar="N[,N...]",
                       help="neurons in each hidden layer: 128, or 256,128 for two (default 128)")
    group.add_argument("--activation", default=DEFAULTS.activation, metavar="NAME",
                       help="activation of the hidden layers: relu, tanh, sigmoid, gelu, ... (default %(default)s)")
    group.add_argument("--dropout", type=float, default=DEFAULTS.dropout, metavar="RATE",
                       help="add Dropout(RATE) after each hidden layer, e.g. 0.2 (default: none)")
    group.add_argument("--optimizer", default=DEFAULTS.optimizer, metavar="NAME",
                       help="adam, sgd, rmsprop, adamw, adagrad or nadam (default %(default)s)")
    group.add_argument("--momentum", type=float, default=DEFAULTS.momentum, metavar="M",
                       help="SGD's momentum: the share of the previous step kept in each step (0 = plain SGD; 0.9 is "
                       "typical; --optimizer sgd only; default %(default)s)")
    group.add_argument("--conv", action="store_true",
                       help="a small convolutional network: Conv2D(16) -> pool -> Conv2D(32) -> pool -> Flatten -> Dense")
    group.add_argument("--model", metavar="FILE.keras", help="trace your own saved Keras model instead of the built-in one")
    group.add_argument("--learning-rate", type=float, default=DEFAULTS.learning_rate, metavar="RATE",
                       help="the optimizer's step size at the start (default %(default)s)")
    group.add_argument("--schedule", choices=("cosine", "constant"), default=DEFAULTS.schedule,
                       help="cosine: the rate glides to 0 by the last step; constant: it stays (default %(default)s)")
    group.add_argument("--seed", type=int, default=DEFAULTS.seed, help="same seed, same numbers on the same machine (default %(default)s)")
    data = run.add_argument_group("data")
    data.add_argument("--dataset", default=DEFAULTS.dataset, metavar="NAME|PATH",
                      help="mnist (bundled), digits (1,797 8x8 handwritten digits, bundled), a .npz file with x_train, y_train, "
                      "x_test, y_test, or a folder with one subfolder of images per class (default %(default)s)")
    data.add_argument("--data-dir", metavar="DIR", help="read the four MNIST-format IDX files from DIR (e.g. Fashion-MNIST) instead of the bundled copy")
    data.add_argument("--image-size", type=_image_size, default=DEFAULTS.image_size, metavar="HxW",
                      help="size images from a folder are resized to (default 28x28)")
    data.add_argument("--limit", type=int, metavar="N", help="use only the first N training and N/6 test images (quick runs)")
    data.add_argument("--sample", type=int, default=DEFAULTS.sample, metavar="N", help="the test image to follow through the network (default %(default)s)")
    output = run.add_argument_group("output")
    output.add_argument("--questions", type=int, default=DEFAULTS.questions, metavar="N", help="quiz questions (default %(default)s)")
    output.add_argument("--no-answers", action="store_true", help="print the quiz without its answers")
    output.add_argument("--out", metavar="DIR", help="where to save trace.json, model.keras and report.html "
                        "(default: a new folder under $PIPETRACE_RUNS, or under runs/ when it is not set)")
    output.add_argument("--force", action="store_true", help="allow --out to replace an earlier run")
    output.add_argument("--quiet", action="store_true", help="print only the result and where it was saved")
    output.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard event files to DIR (tensorboard --logdir DIR)")
    output.add_argument("--no-record", action="store_true",
                        help="train with plain Keras, no per-batch recording (to measure what tracing costs)")
    run.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(handler=_run)

    show = commands.add_parser("show", help="print a saved trace again (no training, no TensorFlow)",
                               description="Print the Model Pipeline Trace saved in a trace.json, without training.")
    show.add_argument("trace", metavar="TRACE", help="a trace.json written by `pipetrace run`")
    show.add_argument("--no-answers", action="store_true", help="print the quiz without its answers")
    show.add_argument("--html", metavar="FILE", help="write the trace as a self-contained, offline HTML report to FILE instead")
    show.add_argument("--open", action="store_true",
                      help="open the HTML report in the default browser (written to a temporary file without --html)")
    show.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    show.set_defaults(handler=_show)

    from pipetrace.modes.command import add_learn_command

    add_learn_command(commands)

    lab = commands.add_parser(
        "lab", help="a local web app: set up the network, press Train and watch it learn, live",
        description="Start the lab: a web page on this machine where you change the settings, train on Dask workers "
        "that stay warm, and watch the stages, the loss and the epochs arrive; every run is saved under --runs.")
    lab.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s: this machine only)")
    lab.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    lab.add_argument("--workers", type=int, default=1, metavar="N", help="local Dask worker processes (default %(default)s)")
    lab.add_argument("--cluster", metavar="ADDRESS", help="train on an existing Dask scheduler (tls://HOST:8786) instead")
    lab.add_argument("--tls-ca-file", metavar="FILE", help="with --cluster: the CA certificate the scheduler's and workers' certificates are signed by")
    lab.add_argument("--tls-cert", metavar="FILE", help="with --cluster: the lab's own certificate (as `dask scheduler --tls-cert`)")
    lab.add_argument("--tls-key", metavar="FILE", help="with --cluster: the lab's private key")
    lab.add_argument("--insecure-cluster", action="store_true",
                     help="allow a --cluster scheduler without TLS (tcp://): whoever reaches it can run code as you")
    lab.add_argument("--runs", default="runs", metavar="DIR", help="where runs are saved and listed from (default %(default)s)")
    lab.add_argument("--data", action="append", metavar="DIR", help="also offer this folder of class folders as a dataset (repeatable)")
    lab.add_argument("--token-file", metavar="FILE",
                     help="read the access token from this file (default: $PIPETRACE_LAB_TOKEN, else a random one)")
    lab.add_argument("--max-epochs", type=int, default=50, metavar="N", help="most epochs a run may ask for (default %(default)s)")
    lab.add_argument("--max-units", type=int, default=4096, metavar="N", help="most units in a hidden layer (default %(default)s)")
    lab.add_argument("--max-hours", type=float, default=4.0, metavar="H",
                     help="most estimated training time of one run (default %(default)s)")
    lab.add_argument("--no-open", action="store_true", help="do not open a browser")
    lab.add_argument("--no-live-events", action="store_true",
                     help="publish only how runs end, no stages, batches or epochs (to measure what live events cost)")
    lab.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    lab.set_defaults(handler=_lab)

    schema = commands.add_parser("schema", help="print the JSON Schema that every trace.json follows",
                                 description="Print the JSON Schema (draft 2020-12) of trace.json.")
    schema.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    schema.set_defaults(handler=_schema)

    completion = commands.add_parser(
        "completion", help="print a bash or zsh script that completes pipetrace's commands and options",
        description="Print a shell completion script (made by shtab from these very options).",
        epilog="bash: pipetrace completion bash > ~/.local/share/bash-completion/completions/pipetrace; "
               "zsh: pipetrace completion zsh > ~/.zfunc/_pipetrace (with fpath+=~/.zfunc before compinit)")
    completion.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete for")
    completion.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    completion.set_defaults(handler=_completion)
    return parser


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _run(args) -> int:
    from pipetrace.options import check_settings

    settings = check_settings(
        Settings(
            epochs=args.epochs, batch_size=args.batch_size, hidden=args.hidden, learning_rate=args.learning_rate,
            schedule=args.schedule, activation=args.activation, dropout=args.dropout, optimizer=args.optimizer,
            momentum=args.momentum, conv=args.conv, model=args.model, dataset=args.dataset, image_size=args.image_size,
            seed=args.seed, sample=args.sample, limit=args.limit, data_dir=args.data_dir, questions=args.questions,
        )
    )
    out = Path(args.out) if args.out else _new_run_folder()
    console = _console()
    from pipetrace.pipeline import Observer, run
    from pipetrace.views.terminal import render_results, render_stage_explained

    if args.quiet:
        observer = Observer()
    else:
        from pipetrace.views.live import TerminalObserver

        observer = TerminalObserver(console)
    saved = out / "trace.json"
    earlier = _identity(saved)  # an earlier run's (with --force), or None
    try:
        with interrupts_end_training(console):
            trace = run(settings, out=out, observer=observer, force=args.force, record=not args.no_record,
                        tensorboard=args.tensorboard)
    except KeyboardInterrupt:  # one that came while the run was being saved acts once it is saved
        if _identity(saved) not in (None, earlier):  # a new file: this run's, renamed in whole
            print(f"pipetrace: interrupted; the run was saved whole first: {saved}", file=sys.stderr)
            return 130
        raise
    if not args.quiet:
        explained = observer.explained  # the glossary's terms already explained under the stages above
        for part in render_stage_explained(trace.stages[-1], explained):
            console.print(part)
        for part in render_results(trace, answers=not args.no_answers, seen=explained):
            console.print(part)
    from pipetrace.numbers import percent

    last = trace.training.epochs[-1] if trace.training.epochs else None
    accuracy = f"test accuracy {percent(trace.evaluation.test_accuracy)}" if last else "no epoch finished"
    if trace.training.restored_epoch == 0:  # the saved model is the untrained network
        accuracy = f"the untrained starting weights were put back (test accuracy {percent(trace.evaluation.test_accuracy)}: guesses)"
    elif trace.training.restored_epoch is not None:
        accuracy += f" with the weights from the end of epoch {trace.training.restored_epoch}"
    # soft_wrap: a path is never broken across lines (piped output is not wrapped at all); no markup in paths
    lines = [f"Run {trace.status}: {accuracy}. Saved {out / 'trace.json'} and {out / 'model.keras'}",
             f"See it again with: pipetrace show {out / 'trace.json'}",
             f"Open the report in a browser: {(out / 'report.html').resolve().as_uri()}"]
    if not args.quiet:
        console.print()
    for line in lines:
        console.print(line, soft_wrap=True, markup=False)
    if getattr(sys.stdout, "closed_early", False):  # `pipetrace run | head`: say on stderr where the run went
        console.file.flush()
        print(f"pipetrace run: the output was closed early; the run went on and was saved: {out / 'trace.json'}",
              file=sys.stderr)
    return EXIT_STATUS[trace.status]


def _identity(path: Path) -> tuple[int, int, int] | None:
    """Which file `path` names now (device, inode, modification time), or None if it names none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino, status.st_mtime_ns


EXIT_STATUS = {"completed": 0, "diverged": 1, "interrupted": 130}


@contextlib.contextmanager
def interrupts_end_training(console):
    """The first Ctrl-C (or SIGTERM) ends training and keeps what was done; the second exits at once.

    From the end of training until the run is saved, the pipeline holds interrupts (see
    pipetrace.interrupts), so a second one never leaves a half-saved folder.
    """

    def second(signum, frame):
        remove_private_temp_folder()
        os._exit(130)

    def first(signum, frame):
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, second)
        console.print("\n[bold]Interrupted:[/] keeping the epochs finished so far and saving them "
                      "(press Ctrl-C again to quit at once)")
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, first) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


LAB_NEEDS = ("starlette", "uvicorn", "distributed")  # the [lab] extra, checked before anything starts


def _lab(args) -> int:
    import importlib.util

    missing = [name for name in LAB_NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise PipetraceError(f"the lab needs {', '.join(missing)}, which pipetrace's [lab] extra installs: "
                             'pip install "pipetrace[cpu,lab]" (or "pipetrace[lab]" where TensorFlow is installed)')
    from pipetrace.lab.serve import serve

    return serve(args)


def _completion(args) -> int:
    """The completion script for the whole command line: folders complete where a DIR is asked, files where a file is."""
    import shtab

    parser = build_parser()
    for action in _all_actions(parser):
        metavar = str(action.metavar or "")
        if metavar == "DIR":
            action.complete = shtab.DIRECTORY
        elif metavar in ("FILE", "FILE.keras", "TRACE", "NAME|PATH"):
            action.complete = shtab.FILE
    print(shtab.complete(parser, shell=args.shell))
    return 0


def _all_actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_actions(sub)


def _schema(args) -> int:
    import json

    from pipetrace.trace.schema import trace_schema

    print(json.dumps(trace_schema(), indent=2))
    return 0


def _show(args) -> int:
    from pipetrace.trace import Trace
    from pipetrace.views.terminal import render_trace

    trace = Trace.load(args.trace)
    console = _console()
    if args.html or args.open:
        return _show_html(trace, args.html, args.open, console)
    for part in render_trace(trace, answers=not args.no_answers):
        console.print(part)
    return 0


def _show_html(trace, html: str | None, open_it: bool, console) -> int:
    """Write the report (to `html`, or a temporary file for --open alone) and maybe open it."""
    from pipetrace.views.html import write_report

    path = Path(html) if html else Path(tempfile.mkdtemp(prefix="pipetrace-", dir=_user_temp_folder())) / "report.html"
    if path.is_dir():
        raise PipetraceError(f"--html {path}: is a folder; give a file name such as {path / 'report.html'}")
    try:
        write_report(trace, path)
    except OSError as error:
        raise PipetraceError(f"--html {path}: cannot write there ({error.strerror})") from error
    console.print(f"Wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", markup=False)
    if open_it:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            console.print(f"No browser could be opened; open {path.resolve().as_uri()} yourself", markup=False)
    return 0


def _sizes(text: str) -> list[int]:
    """'256,128' -> [256, 128] (each checked later, with the other settings)."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, such as 256,128 (got {text!r})") from None


def _image_size(text: str) -> list[int]:
    """'28x28' -> [28, 28]."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH, such as 28x28 (got {text!r})") from None
    return [height, width]


def _new_run_folder() -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(os.environ.get("PIPETRACE_RUNS", "runs"))
    folder, n = base / stamp, 1
    while folder.exists():
        n += 1
        folder = base / f"{stamp}-{n}"
    return folder


_private_temp: dict[str, str] = {}


def _use_private_temp_folder() -> None:
    """Temporary files of this process go to a folder of its own, which `remove_private_temp_folder` deletes.

    TensorFlow's autograph writes two `__autograph_generated_file*.py` per run to the
    temporary folder and removes them at exit, in the teardown the command skips.
    """
    _private_temp["user"] = tempfile.gettempdir()
    _private_temp["ours"] = tempfile.mkdtemp(prefix="pipetrace-")
    tempfile.tempdir = _private_temp["ours"]


def remove_private_temp_folder() -> None:
    if "ours" in _private_temp:
        tempfile.tempdir = _private_temp["user"]
        shutil.rmtree(_private_temp.pop("ours"), ignore_errors=True)


def _user_temp_folder() -> str:
    """The temporary folder the user's system names (for files meant to outlive the command)."""
    return _private_temp.get("user") or tempfile.gettempdir()
