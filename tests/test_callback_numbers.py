"""`TraceCallback` inside `model.fit`: every number it records checked against Keras itself.

In the spirit of Keras' own callback tests: fit options (validation, initial_epoch, steps_per_epoch,
class and sample weights, batch sizes that do not divide the data, steps_per_execution), callbacks
alongside (EarlyStopping, LearningRateScheduler, ReduceLROnPlateau) and tf.data input. Each batch's
loss is computed independently, with the weights from before its step, by a callback that runs first;
each epoch's numbers are compared with Keras' `History`. And pipetrace's own training loop under
mixed precision against `model.fit` on the same data.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from pipetrace.training.callback import TraceCallback  # noqa: E402

N, FEATURES, CLASSES = 100, 6, 3  # 100 = 3 x 32 + 4: the last batch of 32 holds 4 examples


def data(n: int = N, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    return x, y


def model(learning_rate=0.05, optimizer=None, steps_per_execution: int = 1):
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(8, activation="relu"),
                            keras.layers.Dense(CLASSES, activation="softmax")])
    net.compile(optimizer=optimizer or keras.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"], steps_per_execution=steps_per_execution)
    return net


class BatchLosses(keras.callbacks.Callback):
    """Each batch's loss as Keras defines it (sum of weighted example losses / examples), computed before its
    step from the rows `fit(shuffle=False)` puts in it; `sample_weight` per example (class weights resolved)."""

    def __init__(self, x, y, batch_size, sample_weight=None):
        super().__init__()
        self.x, self.y, self.batch_size, self.weight = x, y, batch_size, sample_weight
        self.losses: list[list[float]] = []
        self.sizes: list[list[int]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.losses.append([])
        self.sizes.append([])

    def on_train_batch_begin(self, batch, logs=None):
        rows = slice(batch * self.batch_size, (batch + 1) * self.batch_size)
        x, y = self.x[rows], self.y[rows]
        weight = None if self.weight is None else self.weight[rows]
        loss = keras.losses.SparseCategoricalCrossentropy()(y, self.model(x, training=True), sample_weight=weight)
        self.losses[-1].append(float(loss))
        self.sizes[-1].append(len(x))


def fit(net, x, y, recorder, *callbacks, **options):
    options.setdefault("verbose", 0)
    return net.fit(x, y, callbacks=[*callbacks, recorder], **options)


def assert_epochs_match_history(training, history, first_epoch: int = 1):
    logs = history.history
    assert [e.epoch for e in training.epochs] == list(range(first_epoch, first_epoch + len(logs["loss"])))
    assert [e.loss for e in training.epochs] == pytest.approx(logs["loss"], rel=1e-6)
    assert [e.accuracy for e in training.epochs] == pytest.approx(logs["accuracy"], rel=1e-6)
    if "val_loss" in logs:
        assert [e.test_loss for e in training.epochs] == pytest.approx(logs["val_loss"], rel=1e-6)
        assert [e.test_accuracy for e in training.epochs] == pytest.approx(logs["val_accuracy"], rel=1e-6)


@pytest.mark.parametrize("weighting", ["none", "class_weight", "sample_weight"])
def test_each_batch_loss_is_that_batch_as_keras_computes_it(weighting):
    """100 examples in batches of 32: the last batch (4 examples) has its own loss, not the others' share."""
    x, y = data()
    options, weight = {}, None
    if weighting == "class_weight":
        options["class_weight"] = {0: 1.0, 1: 3.0, 2: 0.5}
        weight = np.array([options["class_weight"][label] for label in y], dtype="float32")
    elif weighting == "sample_weight":
        weight = np.random.default_rng(1).uniform(0.2, 2.0, size=N).astype("float32")
        options["sample_weight"] = weight
    net, recorder = model(), TraceCallback()
    truth = BatchLosses(x, y, 32, weight)
    history = fit(net, x, y, recorder, truth, epochs=2, batch_size=32, shuffle=False, **options)
    training = recorder.training
    for epoch, expected in zip(training.epochs, truth.losses):
        assert epoch.batch_losses == pytest.approx(expected, rel=2e-4)
    # and Keras' epoch loss is the example-weighted mean of those batches
    for expected, sizes, logged in zip(truth.losses, truth.sizes, history.history["loss"]):
        assert np.average(expected, weights=sizes) == pytest.approx(logged, rel=1e-5)
    assert_epochs_match_history(training, history)
    assert training.batch_size == 32 and training.steps_per_epoch == 4 and training.status == "completed"


def test_validation_split_trains_on_the_first_rows_and_reports_keras_validation_numbers():
    x, y = data(120)
    net, recorder = model(), TraceCallback()
    train_rows = 96  # Keras holds out the last 20%
    truth = BatchLosses(x[:train_rows], y[:train_rows], 40)
    history = fit(net, x, y, recorder, truth, epochs=2, batch_size=40, validation_split=0.2, shuffle=False)
    assert_epochs_match_history(recorder.training, history)
    for epoch, expected in zip(recorder.training.epochs, truth.losses):
        assert epoch.batch_losses == pytest.approx(expected, rel=2e-4)
    evaluated = net.evaluate(x[train_rows:], y[train_rows:], verbose=0, return_dict=True)
    assert recorder.training.epochs[-1].test_loss == pytest.approx(evaluated["loss"], rel=1e-5)


def test_validation_data_and_shuffled_batches_match_history():
    x, y = data()
    net, recorder = model(), TraceCallback()
    history = fit(net, x, y, recorder, epochs=3, batch_size=24, validation_data=data(50, seed=3))
    assert_epochs_match_history(recorder.training, history)
    assert all(len(e.batch_losses) == 5 for e in recorder.training.epochs)


def test_steps_per_execution_records_each_execution_as_the_example_weighted_mean_of_its_steps():
    """Keras calls back once per 2 steps: 7 batches of 16 (the last holds 4) make 4 records."""
    x, y = data()
    net, recorder = model(steps_per_execution=2), TraceCallback()
    truth = BatchLosses(x, y, 16)
    # Keras runs 2 steps per call and calls back once: compute each step's loss from one reference model
    # trained step by step instead (same seed, same batches, same optimizer)
    reference = model()
    fit(reference, x, y, TraceCallback(), truth, epochs=1, batch_size=16, shuffle=False)
    history = fit(net, x, y, recorder, epochs=1, batch_size=16, shuffle=False)
    losses, sizes = np.array(truth.losses[0]), np.array(truth.sizes[0])
    expected = [np.average(losses[i:i + 2], weights=sizes[i:i + 2]) for i in range(0, 7, 2)]
    training = recorder.training
    assert training.epochs[0].batch_losses == pytest.approx(expected, rel=1e-4)
    assert training.steps_per_record == 2 and training.steps_per_epoch == 7 and training.batch_size == 16
    assert_epochs_match_history(training, history)


def test_initial_epoch_counts_as_planned_and_keeps_keras_epoch_numbers():
    """fit(epochs=4, initial_epoch=2) trains epochs 3 and 4, all it was asked to: completed, not stopped early."""
    x, y = data()
    net, recorder = model(), TraceCallback()
    history = fit(net, x, y, recorder, epochs=4, initial_epoch=2, batch_size=32)
    training = recorder.training
    assert training.status == "completed"
    assert training.epochs_planned == 2
    assert_epochs_match_history(training, history, first_epoch=3)
    assert training.epochs[0].observation.startswith("Loss ") and " after epoch 3 " in training.epochs[0].observation


def test_early_stopping_is_stopped_early_with_history_numbers():
    x, y = data()
    net, recorder = model(learning_rate=1e-6), TraceCallback()
    stopper = keras.callbacks.EarlyStopping(monitor="loss", min_delta=1.0, patience=0)
    history = fit(net, x, y, recorder, stopper, epochs=5, batch_size=32)
    assert len(history.history["loss"]) == 2  # no epoch improves by 1.0: Keras stops after the second
    assert recorder.training.status == "stopped early"
    assert_epochs_match_history(recorder.training, history)


def test_learning_rate_scheduler_each_epoch_records_and_is_judged_at_its_own_rate():
    from pipetrace.numbers import rate

    x, y = data()
    rates = [0.01, 0.02, 80.0, 0.0001]
    net, recorder = model(), TraceCallback()
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: rates[epoch])
    history = fit(net, x, y, scheduler, recorder, epochs=4, batch_size=32)  # the scheduler before the recorder
    epochs = recorder.training.epochs
    assert [e.learning_rate for e in epochs] == pytest.approx(history.history["learning_rate"][:len(epochs)], rel=1e-6)
    assert [e.learning_rate for e in epochs] == pytest.approx(rates[:len(epochs)], rel=1e-6)
    blown = epochs[2]  # rate 80 overshoots (or overflows): the text blames 80, not the last rate of the fit
    assert f"learning rate {rate(80.0)} is" in blown.observation
    assert rate(0.0001) not in blown.observation


def test_reduce_lr_on_plateau_records_the_rate_each_epoch_trained_at():
    x, y = data()
    net, recorder = model(), TraceCallback()
    reducer = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0)
    history = fit(net, x, y, recorder, reducer, epochs=3, batch_size=32)  # the reducer after the recorder
    assert [e.learning_rate for e in recorder.training.epochs] == pytest.approx(history.history["learning_rate"], rel=1e-6)
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.025])  # reduced after epochs 2 and 3


def test_a_schedule_records_the_rate_of_each_epochs_last_step():
    x, y = data()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    net, recorder = model(optimizer=keras.optimizers.SGD(schedule)), TraceCallback()
    fit(net, x, y, recorder, epochs=2, batch_size=32)
    # 4 steps an epoch; epoch 1's last step is step 3 (counted from 0), epoch 2's is step 7
    assert [e.learning_rate for e in recorder.training.epochs] == pytest.approx([0.1 * 0.5 ** 3, 0.1 * 0.5 ** 7], rel=1e-6)


def test_tf_data_without_drop_remainder_reads_the_batch_size_and_weights_the_last_batch():
    tf = pytest.importorskip("tensorflow")
    x, y = data()
    net, recorder = model(), TraceCallback()
    truth = BatchLosses(x, y, 32)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)  # element spec: batch dimension None
    history = net.fit(dataset, epochs=2, callbacks=[truth, recorder], verbose=0)
    training = recorder.training
    assert training.batch_size == 32
    assert training.steps_per_epoch == 4
    for epoch, expected in zip(training.epochs, truth.losses):
        assert epoch.batch_losses == pytest.approx(expected, rel=2e-4)
    assert_epochs_match_history(training, history)


def test_steps_per_epoch_records_that_many_batches():
    tf = pytest.importorskip("tensorflow")
    x, y = data()
    net, recorder = model(), TraceCallback()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(20)
    history = net.fit(dataset, epochs=2, steps_per_epoch=3, callbacks=[recorder], verbose=0)
    training = recorder.training
    assert training.steps_per_epoch == 3 and training.batch_size == 20
    assert all(len(e.batch_losses) == 3 for e in training.epochs)
    assert_epochs_match_history(training, history)
    for epoch in training.epochs:  # equal batches: the epoch's loss is their plain mean
        assert np.mean(epoch.batch_losses) == pytest.approx(epoch.loss, rel=1e-4)


# ---- pipetrace's own training loop under mixed precision ------------------------------------------------

@pytest.fixture
def mixed_precision():
    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)
    assert keras.mixed_precision.global_policy().name == before


def test_own_loop_under_mixed_float16_trains_as_model_fit_does(mixed_precision):
    """Keras scales the loss inside the tape and its LossScaleOptimizer unscales the gradients: the loop must
    do both, or the weights move 2**15 times too little. Same seed, same batches: same weights and losses."""
    from pipetrace.training.loop import TrainingLoop

    rng = np.random.default_rng(0)
    x = rng.random((256, 784), dtype="float32")
    y = rng.integers(0, 10, 256)

    def network():
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"),
                                keras.layers.Dense(10, activation="softmax", dtype="float32")])
        net.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(),
                    metrics=["accuracy"])  # a loss object, as pipetrace's network compiles it
        return net

    ours, theirs = network(), network()
    assert type(ours.optimizer).__name__ == "LossScaleOptimizer"
    start = [w.copy() for w in ours.get_weights()]
    loop = TrainingLoop(ours, batch_size=32, seed=0)
    order = np.random.default_rng(0).permutation(len(x))  # the loop's own order (seeded as it seeds it)
    result = loop.epoch(x, y)
    history = theirs.fit(x[order], y[order], batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert result.loss == pytest.approx(history.history["loss"][0], rel=5e-3)
    for mine, keras_weights, before in zip(ours.get_weights(), theirs.get_weights(), start):
        moved_keras = np.abs(keras_weights - before).max()
        assert moved_keras > 0
        np.testing.assert_allclose(mine - before, keras_weights - before, atol=max(2e-3 * moved_keras, 1e-4), rtol=0.05)
    # and its test loss is the float32 loss Keras' evaluate reports
    loss, accuracy = loop.evaluate(x, y)
    evaluated = ours.evaluate(x, y, verbose=0, return_dict=True)
    assert loss == pytest.approx(evaluated["loss"], rel=2e-3)
    assert accuracy == pytest.approx(evaluated["accuracy"], abs=1e-6)
    assert math.isfinite(loss)


def test_a_train_step_of_your_own_that_reports_each_batch_loss_records_no_made_up_batch_losses():
    """Its `loss` is that batch's, not a running mean: read as a mean it would give invented numbers; unknown instead."""
    tf = pytest.importorskip("tensorflow")

    class OwnStep(keras.Sequential):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = keras.losses.sparse_categorical_crossentropy(y, self(x, training=True))
                loss = tf.reduce_mean(loss)
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            return {"loss": loss}

    x, y = data()
    keras.utils.set_random_seed(0)
    net = OwnStep([keras.Input((FEATURES,)), keras.layers.Dense(CLASSES, activation="softmax")])
    net.compile(optimizer=keras.optimizers.SGD(0.05))
    recorder = TraceCallback()
    history = net.fit(x, y, epochs=1, batch_size=32, callbacks=[recorder], verbose=0)
    epoch = recorder.training.epochs[0]
    assert epoch.batch_losses == [None, None, None, None]
    assert epoch.loss == pytest.approx(history.history["loss"][0], rel=1e-6)  # what Keras reported, as it reported it
