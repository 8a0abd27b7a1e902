"""`Observers` tells every observer it holds everything, the optional hooks included."""

from __future__ import annotations

import pipetrace
from pipetrace.views.progress import Observers


class Recorder:
    """Follows a run and writes down what it was told (an observer with every hook)."""

    def __init__(self):
        self.models, self.losses, self.steps = [], [], []

    def on_start(self, settings, dataset): ...
    def on_stage(self, stage): ...
    def on_training_start(self, epochs, steps_per_epoch): ...
    def on_model(self, model):
        self.models.append(model)

    def on_batch_losses(self, losses):
        self.losses.append(list(losses))

    def on_batch(self, step):
        self.steps.append(step)

    def on_epoch(self, epoch): ...
    def on_training_end(self, training): ...


class OlderObserver:
    """An observer written before on_model and on_batch_losses existed."""

    def __init__(self):
        self.steps = []

    def on_start(self, settings, dataset): ...
    def on_stage(self, stage): ...
    def on_training_start(self, epochs, steps_per_epoch): ...
    def on_batch(self, step):
        self.steps.append(step)

    def on_epoch(self, epoch): ...
    def on_training_end(self, training): ...


def test_observers_pass_on_the_model_and_the_batch_losses():
    first, second, older = Recorder(), Recorder(), OlderObserver()
    trace = pipetrace.run(limit=600, epochs=1, batch_size=128, observer=Observers(first, older, second))
    steps = trace.training.steps_per_epoch
    for recorder in (first, second):
        assert len(recorder.models) == 1 and recorder.models[0] is trace.model  # the network that trained
        assert recorder.steps == older.steps and recorder.steps[-1] == steps
        # one list of losses before each on_batch (the batches trained since the last one)
        assert len(recorder.losses) == len(recorder.steps) and all(recorder.losses)
    assert first.losses == second.losses  # both told the same losses
    assert sum(len(batch) for batch in first.losses) == steps  # one loss per batch trained
