"""TensorFlow 2 quickstart for beginners, as published, with only its loader swapped.

The published program calls `tf.keras.datasets.mnist.load_data()`, which downloads; here the
same arrays come from the MNIST files bundled with pipetrace (read with numpy and gzip, no
pipetrace code on the timed path beyond the file location). Everything else is the tutorial:
Flatten -> Dense(128, relu) -> Dropout(0.2) -> Dense(10), Adam,
SparseCategoricalCrossentropy(from_logits=True), batch 32 (Keras' default), 5 epochs, evaluate.

It prints one JSON line the benchmark reads: fit seconds and test accuracy.
"""

import gzip
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
MNIST = Path(__file__).resolve().parents[1] / "src" / "pipetrace" / "data" / "mnist"


def read(name, offset):
    return np.frombuffer(gzip.decompress((MNIST / name).read_bytes()), np.uint8, offset=offset)


def load_data():
    """What tf.keras.datasets.mnist.load_data() returns, from the bundled files."""
    x_train = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    y_train = read("train-labels-idx1-ubyte.gz", 8)
    x_test = read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    y_test = read("t10k-labels-idx1-ubyte.gz", 8)
    return (x_train, y_train), (x_test, y_test)


started = time.perf_counter()
import tensorflow as tf  # noqa: E402

import_seconds = time.perf_counter() - started

(x_train, y_train), (x_test, y_test) = load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation="relu"),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10),
])
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])

fit_started = time.perf_counter()
model.fit(x_train, y_train, epochs=5, verbose=0)
fit_seconds = time.perf_counter() - fit_started
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(json.dumps({"import_seconds": import_seconds, "fit_seconds": fit_seconds, "test_accuracy": accuracy}))
