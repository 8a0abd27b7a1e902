"""The Python API as a Keras user reaches for it: batches of one, the caller's state untouched, the model back."""

from __future__ import annotations

import os
import pickle
import random

import numpy as np
import pytest

import pipetrace
from pipetrace.data import load_dataset
from pipetrace.errors import PipetraceError


@pytest.fixture(scope="module")
def digits_model():
    import keras

    digits = load_dataset("digits")
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")],
                             name="tiny")
    return model, digits.x_test / 16.0, digits.y_test


def test_a_batch_of_one_is_traced_like_the_single_input(digits_model):
    model, x_test, _ = digits_model
    single = pipetrace.trace_prediction(model, x_test[0])
    batch = pipetrace.trace_prediction(model, x_test[:1])
    assert batch.predicted == single.predicted and batch.confidence == single.confidence
    assert [layer.values for layer in batch.layers] == [layer.values for layer in single.layers]
    assert np.allclose(batch.output_layer.values, model.predict(x_test[:1], verbose=0)[0], atol=1e-6)


@pytest.mark.parametrize("shape, extra", [
    ((1, 1, 8, 8), ""),
    ((3, 8, 8), " (a batch of 3: pass one of them, such as x[0] or x[:1])"),
    ((64,), ""),
])
def test_any_other_shape_names_the_shape_expected(digits_model, shape, extra):
    model, _, _ = digits_model
    got = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
    with pytest.raises(PipetraceError) as error:
        pipetrace.trace_prediction(model, np.zeros(shape, dtype="float32"))
    assert str(error.value) == (f"trace_prediction: tiny takes one input of shape (8, 8) or a batch of one, "
                                f"(1, 8, 8); got shape {got}{extra}")


def test_run_leaves_the_callers_random_generators_and_environment_as_they_were():
    import tensorflow as tf

    def seed_everything():
        random.seed(123)
        np.random.seed(123)
        tf.random.set_seed(123)

    def draws():
        return random.random(), float(np.random.rand()), float(tf.random.uniform([1])[0])

    seed_everything()
    expected = draws()
    seed_everything()
    environment = dict(os.environ)
    trace = pipetrace.run(limit=600, epochs=1, seed=5, verbose=0)
    assert trace.training.epochs, "the run trained"
    assert dict(os.environ) == environment
    assert draws() == expected


def test_run_gives_the_trained_keras_model_back(tmp_path):
    import keras

    data = load_dataset("digits")
    trace = pipetrace.run(data=data, hidden=[16], epochs=1, verbose=0, out=tmp_path / "run")
    assert isinstance(trace.model, keras.Model) and trace.model.count_params() == trace.network.total_params
    x = (data.x_test[trace.prediction.sample] / 16.0).reshape(1, -1)
    assert np.allclose(trace.model.predict(x, verbose=0)[0], trace.prediction.output_layer.values, atol=1e-5)
    assert pipetrace.Trace.load(tmp_path / "run" / "trace.json").model is None  # not part of trace.json
    assert pickle.loads(pickle.dumps(trace)).model is None  # nor of a pickled trace


def test_trace_callback_records_the_batch_size_fit_used(digits_model):
    import keras

    model, x_test, y_test = digits_model
    model = keras.models.clone_model(model)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for fit_arguments, batch_size, steps in (({"batch_size": 16}, 16, 23), ({}, 32, 12)):
        recorder = pipetrace.TraceCallback()
        model.fit(x_test, y_test, epochs=1, callbacks=[recorder], verbose=0, **fit_arguments)
        assert (recorder.training.batch_size, recorder.training.steps_per_epoch) == (batch_size, steps)
    measured = pipetrace.TraceCallback(batch_size=100)  # what fit did wins over what it was told
    model.fit(x_test, y_test, epochs=1, batch_size=16, callbacks=[measured], verbose=0)
    assert measured.training.batch_size == 16
    import tensorflow as tf

    unknown = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(8)  # its batch dimension is None
    told = pipetrace.TraceCallback(batch_size=8)
    model.fit(unknown, epochs=1, callbacks=[told], verbose=0)
    assert told.training.batch_size == 8 and told.training.steps_per_epoch == 45


def test_data_given_for_a_dataset_named_in_the_settings_keeps_the_settings_name():
    """The lab passes its warm copy of MNIST with settings that say "mnist": the trace says "mnist", as the CLI's."""
    import pipetrace
    from pipetrace.data import load_dataset

    data = load_dataset("mnist")
    assert data.name != "mnist"  # the display name ("MNIST"): the case this is about
    trace = pipetrace.run(pipetrace.Settings(dataset="mnist", limit=600, epochs=1), data=data, verbose=0)
    assert trace.settings.dataset == "mnist"
    other = pipetrace.run(limit=600, epochs=1, data=data, verbose=0, dataset="digits")
    assert other.settings.dataset == data.name  # data that is not the dataset named: its own name is recorded
