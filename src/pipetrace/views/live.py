"""Following a run live in the terminal: stages as they finish, a progress bar while training."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipetrace.pipeline import Observer
from pipetrace.numbers import number, percent
from pipetrace.views.terminal import render_header, render_stage_explained, section


class TerminalObserver(Observer):
    """Prints each stage as it finishes and shows a transient progress bar during training."""

    def __init__(self, console: Console):
        self.console = console
        self._progress: Progress | None = None
        self._task = None
        self._steps = 0
        self.explained: set[str] = set()  # glossary terms already explained, so the results that follow skip them

    def on_start(self, settings, dataset: dict) -> None:
        self.console.print(render_header(settings, dataset["name"]))
        self.console.print(section("Data Flow", "5 Stages"))

    def on_stage(self, stage) -> None:
        for part in render_stage_explained(stage, self.explained):
            self.console.print(part)

    def on_training_start(self, epochs: int, steps_per_epoch: int) -> None:
        self._steps = steps_per_epoch
        if not self.console.is_terminal:
            return  # a live bar only makes sense on a screen; piped output stays the plain trace
        self._progress = Progress(
            TextColumn("[bold]training[/] epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"),
            console=self.console,
            transient=True,
        )
        self._task = self._progress.add_task("train", total=epochs * steps_per_epoch, epoch=1, epochs=epochs, last="")
        self._epochs_done = 0
        self._progress.start()

    def on_batch(self, step: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self._epochs_done * self._steps + step)

    def on_epoch(self, epoch) -> None:
        if self._progress is not None:
            self._epochs_done = epoch.epoch
            loss = "NaN" if epoch.loss is None else number(epoch.loss, 4)
            self._progress.update(
                self._task,
                completed=epoch.epoch * self._steps,
                epoch=min(epoch.epoch + 1, self._progress.tasks[0].fields["epochs"]),
                last=f"epoch {epoch.epoch}: loss {loss}, test accuracy {percent(epoch.test_accuracy)}",
            )

    def on_training_end(self, training) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
