"""Any Keras model, traced truly (issue 16): every head and model kind checked against Keras itself, or refused in one line.

In the spirit of Keras' own callback tests: tiny models on a few hundred samples, one epoch, and
each number pipetrace shows compared with what Keras computes (`model.predict`, `model.evaluate`,
a layer's output through a sub-model).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import pipetrace  # noqa: E402
from pipetrace.probe import evaluate  # noqa: E402
from pipetrace.trace import Trace  # noqa: E402
from pipetrace.training.output_kind import output_kind  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.random((240, 6), dtype="float32")
CLASSES = np.minimum((X[:, 0] * 3).astype(int), 2)
TARGETS = {
    "class": CLASSES,
    "binary": (CLASSES > 0).astype("float32"),
    "labels": np.stack([CLASSES == 0, CLASSES == 1, X[:, 1] > 0.5], axis=1).astype("float32"),
    "value": X[:, :1] * 2 - 1,
}


def _dense(*layers):
    return keras.Sequential([keras.Input((6,)), *layers])


def _ops_softmax():
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.ops.softmax(keras.layers.Dense(3)(inputs)))


HEADS = {  # name: (model, loss, target, the output kind pipetrace must read)
    "keras.activations.softmax": (lambda: _dense(keras.layers.Dense(3, activation=keras.activations.softmax)), "sparse_categorical_crossentropy", "class", "softmax"),
    "Activation('softmax')": (lambda: _dense(keras.layers.Dense(3), keras.layers.Activation("softmax")), "sparse_categorical_crossentropy", "class", "softmax"),
    "keras.ops.softmax": (_ops_softmax, "sparse_categorical_crossentropy", "class", "softmax"),
    "softmax Dense": (lambda: _dense(keras.layers.Dense(3, activation="softmax")), "sparse_categorical_crossentropy", "class", "softmax"),
    "Softmax layer": (lambda: _dense(keras.layers.Dense(3), keras.layers.Softmax()), "sparse_categorical_crossentropy", "class", "softmax"),
    "tf.nn.softmax": (lambda: _dense(keras.layers.Dense(3, activation=tf.nn.softmax)), "sparse_categorical_crossentropy", "class", "softmax"),
    "logits": (lambda: _dense(keras.layers.Dense(3)), keras.losses.SparseCategoricalCrossentropy(from_logits=True), "class", "logits"),
    "sigmoid binary": (lambda: _dense(keras.layers.Dense(1, activation="sigmoid")), "binary_crossentropy", "binary", "sigmoid"),
    "sigmoid multi-label": (lambda: _dense(keras.layers.Dense(3, activation="sigmoid")), "binary_crossentropy", "labels", "sigmoid"),
    "binary logits": (lambda: _dense(keras.layers.Dense(1)), keras.losses.BinaryCrossentropy(from_logits=True), "binary", "sigmoid logits"),
    "linear regression": (lambda: _dense(keras.layers.Dense(1)), "mse", "value", "value"),
}


def _fit(model, loss, y, x=X, metrics=None):
    """One epoch of `model.fit` with a TraceCallback (validation on the same data), as a user writes it."""
    keras.utils.set_random_seed(0)
    model.compile(optimizer="adam", loss=loss, metrics=metrics or [])
    recorder = pipetrace.TraceCallback()
    model.fit(x, y, epochs=1, batch_size=32, validation_data=(x, y), callbacks=[recorder], verbose=0)
    return recorder


@pytest.fixture(scope="module")
def heads():
    trained = {}
    for name, (build, loss, target, _) in HEADS.items():
        keras.utils.set_random_seed(0)
        model = build()
        trained[name] = (model, _fit(model, loss, TARGETS[target]))
    return trained


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("name", list(HEADS))
def test_each_head_is_read_as_what_it_is_and_shown_with_keras_own_numbers(heads, name):
    model, _ = heads[name]
    expected_kind = HEADS[name][3]
    assert output_kind(model).kind == expected_kind
    predicted = model.predict(X[:1], verbose=0)[0].astype(np.float64)
    shown = {"softmax": predicted, "logits": _softmax(predicted), "sigmoid": predicted,
             "sigmoid logits": _sigmoid(predicted), "value": predicted}[expected_kind]
    p = pipetrace.trace_prediction(model, X[0])
    assert p.output == expected_kind
    np.testing.assert_allclose(p.output_layer.values, shown, rtol=1e-5, atol=1e-6)
    words = p.layers[-1].summary
    if expected_kind in ("softmax", "logits"):
        assert p.predicted == int(np.argmax(predicted)) and f"Predicted '{p.predicted}'" in words
        assert math.isclose(sum(p.output_layer.values), 1, abs_tol=1e-5)
    elif expected_kind.startswith("sigmoid") and len(shown) == 1:
        assert "probability of class 1" in words and p.predicted == int(shown[0] >= 0.5)
        assert math.isclose(p.confidence, max(shown[0], 1 - shown[0]), rel_tol=1e-6)
    elif expected_kind == "sigmoid":
        assert "its own probability" in words and p.layers[-1].details["labels_on"] == [i for i, v in enumerate(shown) if v >= 0.5]
    else:
        assert words.startswith("Predicted value") and math.isclose(p.layers[-1].details["value"][0], shown[0], rel_tol=1e-5)


@pytest.mark.parametrize("name", ["softmax Dense", "Softmax layer", "tf.nn.softmax", "keras.ops.softmax", "logits"])
def test_test_loss_is_what_keras_evaluate_computes(heads, name):
    model, _ = heads[name]
    keras_loss = model.evaluate(X, CLASSES, verbose=0, batch_size=240)
    keras_loss = keras_loss[0] if isinstance(keras_loss, list) else keras_loss
    ours = evaluate(model, X, CLASSES, classes=3)
    assert ours.test_loss == pytest.approx(keras_loss, rel=1e-5)
    assert ours.test_accuracy == pytest.approx(float((model.predict(X, verbose=0).argmax(1) == CLASSES).mean()))


@pytest.mark.parametrize("name", list(HEADS))
def test_the_callback_speaks_of_ln_classes_and_chance_only_for_a_softmax_classifier(heads, name):
    _, recorder = heads[name]
    text = recorder.training.epochs[0].observation
    if HEADS[name][3] in ("softmax", "logits"):
        assert "ln(3)" in text and "chance: 33.3%" in text
    else:
        assert "ln(" not in text and "chance" not in text and "uniform guess" not in text
        assert "far above" not in text and "too high" not in text


def test_a_regression_prediction_says_its_error_against_the_true_value(heads):
    model, _ = heads["linear regression"]
    value = float(model.predict(X[:1], verbose=0)[0, 0])
    p = pipetrace.trace_prediction(model, X[0], label=0.25)
    assert p.layers[-1].details["error"][0] == pytest.approx(value - 0.25, rel=1e-5)
    assert "the true value is 0.25" in p.layers[-1].summary


def test_a_label_out_of_range_is_one_clear_line(heads):
    model, _ = heads["softmax Dense"]
    for label in (3, -1, 2.5):
        with pytest.raises(pipetrace.PipetraceError, match=r"is not one of the model's 3 classes"):
            pipetrace.trace_prediction(model, X[0], label=label)
    with pytest.raises(pipetrace.PipetraceError, match="multi-label"):
        pipetrace.trace_prediction(heads["sigmoid multi-label"][0], X[0], label=1)


def test_a_branched_functional_model_is_followed_along_its_real_inputs():
    for _ in range(7):  # Keras' global name counter moves on: the layers get names like dense_12
        keras.layers.Dense(1)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    left = keras.layers.Dense(6, activation="relu")(inputs)
    right = keras.layers.Dense(4, activation="tanh")(inputs)  # reads the input, not `left`
    joined = keras.layers.Concatenate()([left, right])
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(joined))
    _fit(model, "sparse_categorical_crossentropy", CLASSES)
    p = pipetrace.trace_prediction(model, X[0])
    traced = {layer.layer: layer for layer in p.layers}
    for layer in model.layers[1:]:  # every layer's values are exactly its output in Keras
        expected = keras.Model(inputs, layer.output)(X[:1]).numpy()[0]
        np.testing.assert_allclose(traced[layer.name].values, expected, rtol=1e-5, atol=1e-6)
    dense_right = right._keras_history[0]
    kernel, bias = dense_right.get_weights()
    sums = X[0] @ kernel + bias  # its weighted sums, from its own input
    assert traced[dense_right.name].details["pre_activation_min"] == pytest.approx(sums.min(), rel=1e-5)
    assert traced[dense_right.name].details["pre_activation_max"] == pytest.approx(sums.max(), rel=1e-5)
    hidden = [layer.name.split(":")[0] for layer in p.layers if layer.name.startswith("Hidden")]
    assert hidden == ["Hidden 1", "Hidden 2"]  # numbered by position, not by Keras' name counter
    np.testing.assert_allclose(p.output_layer.values, model.predict(X[:1], verbose=0)[0], rtol=1e-5)


def test_a_recurrent_model_is_traced_without_a_traceback():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3, 2))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.GRU(4)(keras.layers.LSTM(5, return_sequences=True)(inputs))))
    xs = X.reshape(240, 3, 2)
    _fit(model, "sparse_categorical_crossentropy", CLASSES, x=xs)
    p = pipetrace.trace_prediction(model, xs[0])
    assert [layer.kind for layer in p.layers] == ["Input", "LSTM", "GRU", "Dense", "Prediction"]
    gru = model.layers[2]
    np.testing.assert_allclose(p.layers[2].values, keras.Model(inputs, gru.output)(xs[:1]).numpy()[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.output_layer.values, model.predict(xs[:1], verbose=0)[0], rtol=1e-5)


class TenClasses(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def test_a_subclassed_model_is_refused_in_one_line_and_not_judged_against_two_classes():
    model = TenClasses()
    recorder = _fit(model, "sparse_categorical_crossentropy", CLASSES)
    text = recorder.training.epochs[0].observation
    assert "ln(2)" not in text and "50.0%" not in text
    with pytest.raises(pipetrace.PipetraceError, match="subclassed model") as refused:
        pipetrace.trace_prediction(model, X[0])
    assert "\n" not in str(refused.value)
    with pytest.raises(pipetrace.SettingsError, match="subclassed model"):
        pipetrace.run(model=TenClasses(), limit=600, epochs=1, verbose=0)


def test_two_inputs_or_two_outputs_are_refused_in_one_line():
    a, b = keras.Input((6,)), keras.Input((6,))
    two_in = keras.Model([a, b], keras.layers.Dense(3, activation="softmax")(keras.layers.Concatenate()([a, b])))
    with pytest.raises(pipetrace.PipetraceError, match="one input and one output"):
        pipetrace.trace_prediction(two_in, [X[0], X[0]])
    inputs = keras.Input((6,))
    two_out = keras.Model(inputs, [keras.layers.Dense(3, activation="softmax")(inputs), keras.layers.Dense(1)(inputs)])
    with pytest.raises(pipetrace.PipetraceError, match="one input and one output"):
        pipetrace.trace_prediction(two_out, X[0])
    recorder = _fit(two_out, ["sparse_categorical_crossentropy", "mse"], (CLASSES, TARGETS["value"]))
    assert "ln(" not in recorder.training.epochs[0].observation  # which output would it be judged on?


def _mnist_test(count: int):
    from pipetrace.data import load_dataset

    data = load_dataset("mnist")
    return data.x_test[:count].astype("float32") / 255, data.y_test[:count]


def _keras_test_loss(trace, count: int) -> float:
    x, y = _mnist_test(count)
    x = x.reshape((count, *trace.model.inputs[0].shape[1:]))
    return trace.model.evaluate(x, y, verbose=0, batch_size=count)[0], trace.model.predict(x[:1], verbose=0)[0]


def test_run_takes_the_tensorflow_quickstart_model_from_a_keras_file(tmp_path):
    keras.utils.set_random_seed(0)
    quickstart = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                                   keras.layers.Dropout(0.2), keras.layers.Dense(10)])
    quickstart.save(tmp_path / "quickstart.keras")
    trace = pipetrace.run(model=str(tmp_path / "quickstart.keras"), limit=600, epochs=1, verbose=0, out=tmp_path / "run")
    assert trace.network.output == "logits" and "from logits" in trace.network.loss
    loss, predicted = _keras_test_loss(trace, trace.dataset["test_count"])
    assert trace.evaluation.test_loss == pytest.approx(loss, rel=1e-5)
    first = _mnist_test(1)[0].reshape(1, 28, 28)
    np.testing.assert_allclose(trace.prediction.output_layer.values, _softmax(trace.model.predict(first, verbose=0)[0].astype(np.float64)), rtol=1e-5)
    loaded = Trace.load(tmp_path / "run" / "trace.json")
    assert loaded.network.output == "logits" and loaded.prediction.output == "logits"
    assert trace.stages[2].outputs[0].shape[1:] == [28, 28]  # as the model reads them: no channel axis
    from pipetrace.insights.teaching import shaping_key
    from pipetrace.modes.code import recipe

    assert shaping_key(loaded.stages[2]) == "Reshape (kept)" and recipe(loaded).channel_axis is False


def test_run_never_softmaxes_a_softmax_layer_twice():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(10), keras.layers.Softmax()])
    trace = pipetrace.run(model=model, limit=600, epochs=1, verbose=0)
    assert trace.network.output == "softmax" and "from logits" not in trace.network.loss
    loss, _ = _keras_test_loss(trace, trace.dataset["test_count"])
    assert trace.evaluation.test_loss == pytest.approx(loss, rel=1e-5)
    assert trace.training.epochs[-1].test_loss == pytest.approx(loss, rel=1e-5)
    first = _mnist_test(1)[0].reshape(1, 784)
    np.testing.assert_allclose(trace.prediction.output_layer.values, trace.model.predict(first, verbose=0)[0], rtol=1e-5)
    assert [layer.name for layer in trace.prediction.layers][2:4] == ["Scores: Dense", "Output: Softmax"]


def test_run_traces_a_recurrent_model_and_saves_it(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.LSTM(8), keras.layers.Dense(10, activation="softmax")])
    trace = pipetrace.run(model=model, limit=600, epochs=1, verbose=0, out=tmp_path)
    assert (tmp_path / "trace.json").exists() and [layer.kind for layer in trace.prediction.layers][1] == "LSTM"


@pytest.mark.parametrize("activation", ["sigmoid", "log_softmax"])
def test_run_refuses_a_head_it_cannot_train_before_training(activation):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation=activation)])
    with pytest.raises(pipetrace.SettingsError, match="not supported") as refused:
        pipetrace.run(model=model, limit=600, epochs=1, verbose=0)
    assert "\n" not in str(refused.value)
    assert getattr(model, "optimizer", None) is None  # never compiled, never trained


def test_a_trace_written_before_output_kinds_loads_as_softmax(small_run):
    data = small_run[0].to_dict()
    assert data["network"]["output"] == "softmax" and data["prediction"]["output"] == "softmax"
    del data["network"]["output"], data["prediction"]["output"]
    for sample in data["samples"]:
        del sample["output"]
    old = Trace.from_dict(data)
    assert old.network.output == "softmax" and old.prediction.output == "softmax"
