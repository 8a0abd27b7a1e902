"""Every figure in the trace checks out against the saved model and the data, recomputed here."""

import numpy as np
import pytest

from pipetrace.data import load_mnist


@pytest.fixture(scope="module")
def recomputed(small_run):
    import keras

    trace, folder = small_run
    model = keras.models.load_model(folder / "model.keras")
    data = load_mnist()
    n_test = trace.dataset["test_count"]
    x_test = data.x_test[:n_test].reshape(n_test, -1).astype(np.float32) / np.float32(255)
    return trace, model, x_test, data.y_test[:n_test]


def test_test_accuracy_matches_the_saved_model(recomputed):
    trace, model, x_test, y_test = recomputed
    accuracy = float((model.predict(x_test, verbose=0).argmax(1) == y_test).mean())
    assert trace.evaluation.test_accuracy == pytest.approx(accuracy, abs=1e-9)
    assert trace.training.epochs[-1].test_accuracy == pytest.approx(accuracy, abs=1e-6)


def test_confusion_matrix_and_class_counts(recomputed):
    trace, model, x_test, y_test = recomputed
    predicted = model.predict(x_test, verbose=0).argmax(1)
    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (y_test, predicted), 1)
    assert trace.evaluation.confusion == confusion.tolist()
    split = trace.stages[3].details
    assert split["test_counts"] == np.bincount(y_test, minlength=10).tolist()
    assert sum(split["train_counts"]) == trace.dataset["train_count"] == 3000


def test_parameter_counts_match_the_model(recomputed):
    trace, model, _, _ = recomputed
    assert trace.network.total_params == model.count_params() == 101_770
    assert [(l.weights, l.biases) for l in trace.network.layers] == [(100_352, 128), (1_280, 10)]


def test_prediction_trace_matches_model_predict(recomputed):
    trace, model, x_test, _ = recomputed
    p = trace.prediction
    expected = model.predict(x_test[p.sample : p.sample + 1], verbose=0)[0]
    probabilities = np.array(p.layers[2].values)
    assert np.abs(probabilities - expected).max() < 1e-5
    assert abs(probabilities.sum() - 1) < 1e-5
    assert p.predicted == int(expected.argmax())
    assert np.array_equal(np.array(p.layers[0].values, np.float32), x_test[p.sample])
    hidden = np.maximum(x_test[p.sample] @ model.layers[0].get_weights()[0] + model.layers[0].get_weights()[1], 0)
    assert np.abs(np.array(p.layers[1].values) - hidden).max() < 1e-5
    assert p.layers[1].details["fired"] == int((hidden > 0).sum())


@pytest.mark.parametrize("losses, says, never", [
    ([0.50, 0.40, 0.30], "fell in every epoch", "over-fitting"),
    ([2.0, 2.1, 1.9], "did not fall in every epoch but ended at its lowest (1.9000)", "fell in every epoch"),
    ([0.300, 0.290, 0.292], "above its lowest (0.2900 after epoch 2) by too little", "fell in every epoch"),
    ([0.5], "was measured once", "fell"),
])
def test_explain_tells_the_test_loss_trend_these_epochs_had(losses, says, never):
    """A rise within the test loss's noise is not over-fitting, and 2.0 -> 2.1 -> 1.9 did not fall every epoch."""
    from types import SimpleNamespace

    from pipetrace.modes.explain import _test_loss_trend

    epochs = [SimpleNamespace(epoch=i, test_loss=loss) for i, loss in enumerate(losses, start=1)]
    text = _test_loss_trend(epochs)
    assert says in text and never not in text
