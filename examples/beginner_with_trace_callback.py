"""TensorFlow's beginner model, with its Dropout, traced by `pipetrace.TraceCallback`.

This is the model of the TensorFlow 2 quickstart for beginners, trained your own way with
`model.fit`; pipetrace only listens: the callback records the training trace (with an
observation per epoch) and `pipetrace.trace_prediction` follows one test image through
every layer, Dropout included (inactive at prediction time).

    .venv/bin/python examples/beginner_with_trace_callback.py            # 5 epochs, all of MNIST
    .venv/bin/python examples/beginner_with_trace_callback.py --limit 6000 --epochs 2
"""

import argparse

import keras
import rich

import pipetrace
from pipetrace.data import load_mnist

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--limit", type=int, default=60000, help="training images to use (test: limit / 6)")
args = parser.parse_args()

mnist = load_mnist()  # the bundled files, checksums verified; no download
x_train, y_train = mnist.x_train[: args.limit] / 255.0, mnist.y_train[: args.limit]
x_test, y_test = mnist.x_test[: args.limit // 6] / 255.0, mnist.y_test[: args.limit // 6]

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    keras.layers.Flatten(),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(10),
])
model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)

recorder = pipetrace.TraceCallback(batch_size=32)
model.fit(x_train, y_train, epochs=args.epochs, validation_data=(x_test, y_test), callbacks=[recorder], verbose=0)

rich.print(recorder.training)  # the epoch table with observations, and the loss chart
prediction = pipetrace.trace_prediction(model, x_test[0], label=int(y_test[0]))
rich.print(prediction)  # Input -> Flatten -> Dense + ReLU -> Dropout -> Dense -> Prediction
