"""Following a run live in the terminal: stages as they finish, a progress bar while training."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipetrace.pipeline import Observer
from pipetrace.views.terminal import render_header, render_stage, section


class TerminalObserver(Observer):
    """Prints each stage as it finishes and shows a transient progress bar during training."""

    def __init__(self, console: Console):
        self.console = console
        self._progress: Progress | None = None
        self._task = None
        self._steps = 0

    def on_start(self, settings, dataset: dict) -> None:
        self.console.print(render_header(settings, dataset["name"]))
        self.console.print(section("Data Flow", "5 Stages"))

    def on_stage(self, stage) -> None:
        self.console.print(render_stage(stage))

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
            loss = "NaN" if epoch.loss is None else f"{epoch.loss:.4f}"
            self._progress.update(
                self._task,
                completed=epoch.epoch * self._steps,
                epoch=min(epoch.epoch + 1, self._progress.tasks[0].fields["epochs"]),
                last=f"epoch {epoch.epoch}: loss {loss}, test accuracy {epoch.test_accuracy:.2%}",
            )

    def on_training_end(self, training) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
