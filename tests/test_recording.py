"""Recording can be turned off (to measure what tracing costs), and then it really is off."""

import pipetrace
from pipetrace.pipeline import Observer


class CountingObserver(Observer):
    def __init__(self):
        self.batches = 0
        self.epochs = 0

    def on_batch(self, step):
        self.batches += 1

    def on_epoch(self, epoch):
        self.epochs += 1


def test_recording_on_keeps_every_batch_loss():
    observer = CountingObserver()
    trace = pipetrace.run(limit=1200, epochs=2, batch_size=64, observer=observer)
    steps = trace.training.steps_per_epoch
    assert steps == 19 and trace.training.steps_per_record == 1
    assert [len(e.batch_losses) for e in trace.training.epochs] == [steps, steps]
    assert observer.batches == 2 * 3 and observer.epochs == 2  # calls of 16 and 2 batches, then the last, smaller one
    mean = sum(trace.training.epochs[0].batch_losses[:-1]) * 64 + trace.training.epochs[0].batch_losses[-1] * (1200 - 18 * 64)
    assert abs(mean / 1200 - trace.training.epochs[0].running_loss) < 1e-3  # the running loss is the mean over its examples


def test_recording_off_records_no_batches_and_calls_no_one_during_an_epoch():
    observer = CountingObserver()
    trace = pipetrace.run(limit=1200, epochs=2, batch_size=64, observer=observer, record=False)
    assert [e.batch_losses for e in trace.training.epochs] == [[], []]
    assert observer.batches == 0 and observer.epochs == 2
    assert all(e.loss is not None and e.test_accuracy is not None for e in trace.training.epochs)
