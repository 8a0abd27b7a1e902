"""Progress while `pipetrace.run` trains, the way `model.fit(verbose=...)` shows it.

`verbose`, as in Keras: "auto" (the same as 1), 0 silent, 1 the run's header, one line per stage as it
finishes, a bar while each epoch trains and one line per finished epoch; 2 the same lines without the bar
(one line per epoch, for logs). Where it shows:

- in a terminal, the bar is TerminalObserver's rich progress bar and the lines print above it;
- in Jupyter or Colab, every line is a display output sent while the cell runs, and each epoch's bar is
  one output updated in place (an IPython display handle) until that epoch's line replaces it;
- anywhere else (a script's output piped to a file), plain lines, nothing animated.

>>> trace = pipetrace.run(limit=600, epochs=2)              # doctest: +SKIP
>>> trace = pipetrace.run(limit=600, epochs=2, verbose=0)   # doctest: +SKIP
"""

from __future__ import annotations

import time

from rich.console import Console, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from pipetrace.errors import SettingsError
from pipetrace.pipeline import Observer
from pipetrace.stages.measure import shape_text
from pipetrace.views.live import TerminalObserver
from pipetrace.views.terminal import epoch_cells, render_header, section

VERBOSE_CHOICES = '"auto", 0 (silent), 1 (a progress bar) or 2 (one line per epoch)'
STAGE_NAME_WIDTH = 18  # "Train/Test split" and a little room: the stages' shapes line up
BAR_UPDATES_EVERY = 0.25  # seconds between two updates of a notebook's bar (each one is a message to the browser)


def verbose_level(verbose) -> int:
    """0, 1 or 2 from Keras' `verbose` values ("auto" is 1); anything else is a SettingsError."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, int) and verbose in (0, 1, 2):  # True and False count as 1 and 0, as in Keras
        return int(verbose)
    raise SettingsError(f"verbose must be {VERBOSE_CHOICES}, not {verbose!r}")


def progress_observer(verbose="auto", console: Console | None = None) -> Observer:
    """The observer `run(verbose=...)` uses: silent for 0, RunProgress otherwise."""
    level = verbose_level(verbose)
    if level == 0:
        return Observer()
    return RunProgress(console or Console(highlight=False), bar=level == 1)


class RunProgress(TerminalObserver):
    """One short line per stage and per epoch, and a bar during each epoch (terminal or notebook).

    The terminal's bar is TerminalObserver's, the header the CLI's; the stages are one line each
    instead of the CLI's panels, because a Python caller gets the whole trace back to look at.
    """

    def __init__(self, console: Console, bar: bool = True):
        super().__init__(console)
        self.bar = bar
        self._epochs_planned = 0
        self._finished = 0  # epochs finished so far
        self._steps_per_epoch = 0
        self._epoch_started = 0.0
        self._shown: object | None = None  # the notebook display handle of the epoch being trained
        self._shown_at = 0.0

    def on_start(self, settings, dataset: dict) -> None:
        self._print(render_header(settings, dataset["name"]))
        self._print(section("Data Flow", ""))  # stages 1-4 here; the fifth, training, follows

    def on_stage(self, stage) -> None:
        self._print(stage_line(stage))

    def on_training_start(self, epochs: int, steps_per_epoch: int) -> None:
        self._epochs_planned, self._steps_per_epoch = epochs, steps_per_epoch
        self._epoch_started = time.perf_counter()
        self._print(section("Training", f"{epochs} epoch{'s' if epochs != 1 else ''} of {steps_per_epoch} batches"))
        if self.bar and not self.console.is_jupyter:
            super().on_training_start(epochs, steps_per_epoch)  # rich's live bar, on a terminal only

    def on_batch(self, step: int) -> None:
        if not self.bar:
            return
        if not self.console.is_jupyter:
            super().on_batch(step)
            return
        now = time.perf_counter()
        if self._shown is not None and now - self._shown_at < BAR_UPDATES_EVERY and step < self._steps_per_epoch:
            return
        self._show_in_notebook(epoch_bar(self._finished + 1, self._epochs_planned, step, self._steps_per_epoch,
                                         now - self._epoch_started))
        self._shown_at = now

    def on_epoch(self, epoch) -> None:
        super().on_epoch(epoch)  # moves the terminal's bar on (nothing when there is none)
        line = epoch_line(epoch, self._epochs_planned)
        if self._shown is not None:
            self._show_in_notebook(line)  # the epoch's bar becomes its line
            self._shown = None
        else:
            self._print(line)
        self._finished = epoch.epoch
        self._epoch_started = time.perf_counter()

    def on_training_end(self, training) -> None:
        super().on_training_end(training)
        self._shown = None
        if training.status != "completed":
            self._print(Text(f"Training {training.status} after {len(training.epochs)} of {training.epochs_planned} "
                             "epochs", style="bold red"))

    # ---- where the lines go ----------------------------------------------------------------
    def _print(self, renderable: RenderableType) -> None:
        if self.console.is_jupyter:
            self._show_in_notebook(renderable, new=True)
        else:
            self.console.print(renderable, soft_wrap=isinstance(renderable, Text))  # a line stays one line in a log

    def _show_in_notebook(self, renderable: RenderableType, new: bool = False) -> None:
        """Display `renderable` as an output of its own, or update the epoch's output in place.

        Not rich's own Jupyter printing: its text/plain keeps the terminal's escape codes, which a
        saved notebook would store and a plain-text view would show.
        """
        from IPython.display import display

        from pipetrace.views.rich_html import NOTEBOOK_COLUMNS, mimebundle

        bundle = mimebundle(renderable, width=min(self.console.width, NOTEBOOK_COLUMNS))
        if new:
            display(bundle, raw=True)
        elif self._shown is None:
            self._shown = display(bundle, raw=True, display_id=True)
        else:
            self._shown.update(bundle, raw=True)


def stage_line(stage) -> RenderableType:
    """`1 Load              images 70000 x 28 x 28 uint8, labels 70000 int64  0.54 s`."""
    outputs = ", ".join(f"{a.name} {shape_text(a.shape)} {a.dtype}" for a in stage.outputs)
    return Text.assemble((f"{stage.number} {stage.name:<{STAGE_NAME_WIDTH}}", "bold"), outputs, "  ",
                         (f"{stage.seconds:.2f} s", "dim"))


def epoch_line(epoch, planned: int) -> RenderableType:
    """`Epoch 1/5  loss 0.3012  accuracy 0.9121  test loss 0.1503  test accuracy 0.9560  0.8 s`, as the table writes them."""
    number, loss, accuracy, test_loss, test_accuracy, seconds, _ = epoch_cells(epoch)
    parts: list = [(f"Epoch {number}/{planned}", "bold")]
    for name, value in (("loss", loss), ("accuracy", accuracy), ("test loss", test_loss), ("test accuracy", test_accuracy)):
        if value != "-":  # not measured: say nothing rather than a dash
            parts += ["  ", (name, "dim"), f" {value}"]
    parts += ["  ", (seconds, "dim")]
    return Text.assemble(*parts)


def epoch_bar(number: int, planned: int, step: int, steps: int, seconds: float) -> RenderableType:
    """`Epoch 2/5  ━━━━━━━━━━╸━━━━━━━━━  120/235 batches  1.2 s`: the epoch being trained."""
    row = Table.grid(padding=(0, 2))
    row.add_row(Text(f"Epoch {number}/{planned}", style="bold"), ProgressBar(total=steps, completed=step, width=40),
                Text(f"{step}/{steps} batches"), Text(f"{seconds:.1f} s", style="dim"))
    return row


def run_observer(observer: Observer | None, verbose="auto") -> Observer:
    """What watches a run: `observer` (yours, or the CLI's), the progress `verbose` asks for, or both.

    "auto" shows progress unless an observer of yours is given: then yours alone watches the run
    (the CLI passes its own). An explicit 1 or 2 adds the progress to yours.
    """
    level = verbose_level(verbose)
    if observer is not None and (level == 0 or (isinstance(verbose, str) and verbose == "auto")):
        return observer
    progress = progress_observer(level)
    return progress if observer is None else Observers(observer, progress)


class Observers(Observer):
    """Several observers following one run, each told everything in the order given."""

    def __init__(self, *observers: Observer):
        self.observers = observers

    def on_start(self, settings, dataset: dict) -> None:
        for observer in self.observers:
            observer.on_start(settings, dataset)

    def on_stage(self, stage) -> None:
        for observer in self.observers:
            observer.on_stage(stage)

    def on_training_start(self, epochs: int, steps_per_epoch: int) -> None:
        for observer in self.observers:
            observer.on_training_start(epochs, steps_per_epoch)

    def on_model(self, model) -> None:
        for observer in self.observers:
            if hasattr(observer, "on_model"):  # observers written before the hook lack it
                observer.on_model(model)

    def on_batch_losses(self, losses: list[float]) -> None:
        for observer in self.observers:
            if hasattr(observer, "on_batch_losses"):  # observers written before the hook lack it
                observer.on_batch_losses(losses)

    def on_batch(self, step: int) -> None:
        for observer in self.observers:
            observer.on_batch(step)

    def batches_next(self) -> int | None:
        """The fewest batches any of them asks for (None: none asks)."""
        asked = [n for n in (getattr(o, "batches_next", lambda: None)() for o in self.observers) if n]
        return min(asked) if asked else None

    def on_epoch(self, epoch) -> None:
        for observer in self.observers:
            observer.on_epoch(epoch)

    def on_training_end(self, training) -> None:
        for observer in self.observers:
            observer.on_training_end(training)
