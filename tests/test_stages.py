"""Each data stage on a tiny hand-made dataset: shapes, dtypes, ranges and the measured examples."""

import numpy as np
import pytest

from pipetrace.data import Dataset, load_mnist
from pipetrace.stages import flatten, load, preprocess, split


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    x_test[1, 0, 0], x_test[1, 5, 7], x_test[1, 9, 9] = 0, 255, 130
    y_train = np.arange(12) % 10
    y_test = np.array([3, 7, 7])
    return Dataset("tiny", "made up", x_train, y_train, x_test, y_test, [str(d) for d in range(10)])


def test_the_five_stages_chain(tiny):
    images, labels, s1 = load(tiny, sample=1, read_seconds=0.5)
    assert images.shape == (15, 28, 28) and images.dtype == np.uint8
    assert s1.outputs[0].shape == [15, 28, 28] and s1.seconds >= 0.5
    assert s1.details["sample_position"] == 13 and s1.details["sample_label"] == 7
    assert np.array_equal(np.array(s1.details["sample_image"]), tiny.x_test[1])

    scaled, s2 = preprocess(images, 13)
    assert scaled.dtype == np.float32 and scaled.min() >= 0.0 and scaled.max() <= 1.0
    assert np.allclose(scaled * 255, images)
    before_after = {(e["before"], e["after"]) for e in s2.details["examples"]}
    assert (0, 0.0) in before_after and (255, 1.0) in before_after
    middle = s2.details["examples"][2]
    assert 0 < middle["before"] < 255 and middle["after"] == pytest.approx(middle["before"] / 255)
    assert s2.outputs[0].dtype == "float32" and s2.outputs[0].max == 1.0

    vectors, s3 = flatten(scaled, 13, (9, 9))
    assert vectors.shape == (15, 784) and s3.details["shares_memory"]
    assert s3.details["index"] == 28 * 9 + 9
    assert vectors[13, 28 * 9 + 9] == scaled[13, 9, 9]

    (x_train, y_train, x_test, y_test), s4 = split(vectors, labels, 12, 1, tiny.class_names)
    assert x_train.shape == (12, 784) and x_test.shape == (3, 784)
    assert s4.details["train_counts"] == np.bincount(tiny.y_train, minlength=10).tolist()
    assert s4.details["test_counts"][7] == 2
    assert np.shares_memory(x_test, vectors)


def test_real_mnist_shapes_after_each_stage():
    data = load_mnist()
    images, labels, s1 = load(data, sample=0, read_seconds=0.0)
    assert s1.outputs[0].shape == [70000, 28, 28] and (s1.outputs[0].min, s1.outputs[0].max) == (0, 255)
    scaled, _ = preprocess(images, 60000)
    vectors, s3 = flatten(scaled, 60000, (10, 10))
    assert s3.outputs[0].shape == [70000, 784]
    parts, s4 = split(vectors, labels, 60000, 0, data.class_names)
    assert [o.shape for o in s4.outputs] == [[60000, 784], [10000, 784]]
    assert s4.details["train_counts"][0] == 5923 and s4.details["test_counts"][1] == 1135
