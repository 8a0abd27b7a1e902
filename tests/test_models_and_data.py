"""Other networks and datasets, from the command line and from Python, checked against an
independent recomputation from the saved model and the raw data."""

import json

import keras
import numpy as np
import pytest
from conftest import pipetrace_cli

import pipetrace
from pipetrace import Trace
from pipetrace.data import load_dataset, load_mnist


def mnist_slice(limit):
    data = load_mnist()
    n_test = limit // 6
    return data.x_test[:n_test].astype(np.float32) / np.float32(255), data.y_test[:n_test]


def check_against_saved_model(folder, x_test, y_test):
    """Accuracy, confusion, parameter counts and the followed sample's probabilities, recomputed."""
    trace = Trace.load(folder / "trace.json")
    model = keras.models.load_model(folder / "model.keras")
    probabilities = model.predict(x_test, verbose=0)
    if not trace.prediction.output_layer.kind or "logits" in trace.prediction.output_layer.summary:
        probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(probabilities))
    predicted = probabilities.argmax(1)
    assert trace.evaluation.test_accuracy == pytest.approx(float((predicted == y_test).mean()), abs=1e-9)
    assert trace.network.total_params == model.count_params()
    p = trace.prediction
    assert np.abs(np.array(p.output_layer.values) - probabilities[p.sample]).max() < 1e-5
    assert p.predicted == int(predicted[p.sample])
    return trace, model


def test_two_hidden_layers_tanh_dropout_sgd(tmp_path):
    out = tmp_path / "deep"
    done = pipetrace_cli("run", "--limit", "1200", "--epochs", "2", "--hidden", "64,32", "--activation", "tanh",
                         "--dropout", "0.2", "--optimizer", "sgd", "--learning-rate", "0.05", "--out", str(out))
    assert done.returncode == 0, done.stderr
    x_test, y_test = mnist_slice(1200)
    trace, model = check_against_saved_model(out, x_test.reshape(len(x_test), -1), y_test)
    assert [l.label for l in trace.network.layers] == [
        "Dense(64, tanh)", "Dropout(0.2)", "Dense(32, tanh)", "Dropout(0.2)", "Dense(10, softmax)"]
    assert trace.network.optimizer == "SGD"
    assert [l.params for l in trace.network.layers] == [784 * 64 + 64, 0, 64 * 32 + 32, 0, 32 * 10 + 10]
    names = [layer.name for layer in trace.prediction.layers]
    assert names == ["Input", "Hidden 1: Dense + Tanh", "Dropout(0.2)", "Hidden 2: Dense + Tanh", "Dropout(0.2)",
                     "Output: Dense + Softmax", "Prediction"]
    dropout = trace.prediction.layers[2]
    assert dropout.details["inactive"] and dropout.values == trace.prediction.layers[1].values
    assert "Dense(64, tanh) -> Dropout(0.2) -> Dense(32, tanh)" in done.stdout


def test_small_cnn(tmp_path):
    out = tmp_path / "cnn"
    done = pipetrace_cli("run", "--conv", "--limit", "1200", "--epochs", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    x_test, y_test = mnist_slice(1200)
    trace, model = check_against_saved_model(out, x_test[..., None], y_test)
    assert trace.stages[2].name == "Reshape" and trace.stages[2].outputs[0].shape == [1400, 28, 28, 1]
    conv = next(layer for layer in trace.prediction.layers if layer.kind == "Conv2D")
    maps = np.array(conv.details["feature_maps"])
    assert maps.shape == (16, 28, 28)
    expected = keras.Model(model.inputs[0], model.get_layer("conv_1").output)(x_test[trace.prediction.sample][None, ..., None])
    assert np.abs(maps - np.moveaxis(keras.ops.convert_to_numpy(expected)[0], -1, 0)).max() < 1e-3
    kinds = [layer.kind for layer in trace.prediction.layers]
    assert kinds == ["Input", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense", "Prediction"]
    assert trace.network.layers[0].params == 3 * 3 * 1 * 16 + 16


def hand_built_model(classes=10):
    inputs = keras.Input(shape=(28, 28, 1), name="digit")
    x = keras.layers.Rescaling(2.0, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(4, 5, activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.AveragePooling2D(4)(x)
    x = keras.layers.Reshape((-1,))(x)
    x = keras.layers.Activation("gelu")(x)
    outputs = keras.layers.Dense(classes)(x)  # logits
    return keras.Model(inputs, outputs, name="hand_built")


def test_your_own_functional_model_from_a_file(tmp_path):
    path = tmp_path / "mine.keras"
    hand_built_model().save(path)
    out = tmp_path / "mine"
    done = pipetrace_cli("run", "--model", str(path), "--limit", "1200", "--epochs", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    x_test, y_test = mnist_slice(1200)
    trace, _ = check_against_saved_model(out, x_test[..., None], y_test)
    kinds = [layer.kind for layer in trace.prediction.layers]
    assert kinds == ["Input", "Rescaling", "Conv2D", "BatchNormalization", "AveragePooling2D", "Reshape",
                     "Activation", "Dense", "Prediction"]
    unknown = trace.prediction.layers[6]
    assert "Activation" in unknown.summary and unknown.shape == [144]
    assert "logits" in trace.prediction.output_layer.summary
    assert trace.network.layers[2].other == 4 * 4  # BatchNormalization: gamma, beta, moving mean and variance


@pytest.mark.parametrize(
    "model, message",
    [
        (lambda: keras.Sequential([keras.Input((10,)), keras.layers.Dense(10)]), "takes inputs of shape 10, but the data gives 784"),
        (lambda: keras.Sequential([keras.Input((784,)), keras.layers.Dense(3)]), "has 3 outputs, but the data has 10 classes"),
    ],
)
def test_a_model_that_does_not_fit_the_data(tmp_path, model, message):
    path = tmp_path / "bad.keras"
    model().save(path)
    done = pipetrace_cli("run", "--model", str(path), "--limit", "600", "--epochs", "1", "--out", str(tmp_path / "r"))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_not_a_model_file(tmp_path):
    path = tmp_path / "fake.keras"
    path.write_text("hello")
    done = pipetrace_cli("run", "--model", str(path), "--limit", "600", "--epochs", "1", "--out", str(tmp_path / "r"))
    assert done.returncode == 2 and "not a Keras model file" in done.stderr


def test_digits_from_the_command_line(tmp_path):
    out = tmp_path / "digits"
    done = pipetrace_cli("run", "--dataset", "digits", "--epochs", "3", "--hidden", "32", "--out", str(out))
    assert done.returncode == 0, done.stderr
    trace = json.loads((out / "trace.json").read_text())
    assert trace["stages"][0]["outputs"][0]["shape"] == [1797, 8, 8]
    assert trace["stages"][1]["did"].startswith("Divided every pixel by 16")
    assert trace["stages"][2]["outputs"][0]["shape"] == [1797, 64]
    assert "stratified" in trace["stages"][3]["did"]
    data = load_dataset("digits", seed=0)
    assert trace["stages"][3]["details"]["test_counts"] == np.bincount(data.y_test, minlength=10).tolist()
    model = keras.models.load_model(out / "model.keras")
    x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float32) / np.float32(16)
    accuracy = float((model.predict(x_test, verbose=0).argmax(1) == data.y_test).mean())
    assert trace["evaluation"]["test_accuracy"] == pytest.approx(accuracy, abs=1e-9)


def test_npz_with_class_names_everywhere(tmp_path):
    rng = np.random.default_rng(0)
    names = np.array(["circle", "square", "<b>triangle</b>"])
    x = rng.integers(0, 256, (90, 12, 12), dtype=np.uint8)
    y = np.arange(90) % 3
    x[y == 1, :6] = 255  # something to learn
    np.savez(tmp_path / "shapes.npz", x_train=x[:72], y_train=y[:72], x_test=x[72:], y_test=y[72:], class_names=names)
    out = tmp_path / "shapes"
    done = pipetrace_cli("run", "--dataset", str(tmp_path / "shapes.npz"), "--epochs", "2", "--batch-size", "8",
                         "--questions", "6", "--out", str(out))
    assert done.returncode == 0, done.stderr
    trace = Trace.load(out / "trace.json")
    assert trace.dataset["class_names"] == list(names)
    assert f"'{names[trace.prediction.label]}'" in trace.prediction.layers[-1].summary
    assert "square" in done.stdout and "<b>triangle</b>" in done.stdout
    html = (out / "report.html").read_text()
    assert "&lt;b&gt;triangle&lt;/b&gt;" in html and "<b>triangle</b>" not in html.split("<script")[0]


def test_from_python_with_a_model_and_a_dataset():
    data = load_dataset("digits", seed=3)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")], name="tiny")
    trace = pipetrace.run(model=model, data=data, epochs=2, questions=4)
    assert trace.settings.model.startswith("tiny") and trace.dataset["name"] == data.name
    assert trace.network.total_params == model.count_params() == 64 * 16 + 16 + 16 * 10 + 10
    assert len(trace.quiz) == 4
    x = data.x_test[trace.prediction.sample].reshape(-1).astype(np.float32) / 16
    assert np.abs(np.array(trace.prediction.output_layer.values) - model.predict(x[None], verbose=0)[0]).max() < 1e-5


def test_tensorboard_from_the_command_line(tmp_path):
    logdir = tmp_path / "tb"
    done = pipetrace_cli("run", "--limit", "600", "--epochs", "1", "--quiet", "--out", str(tmp_path / "r"),
                         "--tensorboard", str(logdir))
    assert done.returncode == 0, done.stderr
    assert list((logdir / "train").glob("events.out.tfevents.*")) and list((logdir / "test").glob("events.out.tfevents.*"))
