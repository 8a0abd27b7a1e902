"""The first neural network: Dense(hidden, ReLU) -> Dense(classes, softmax), trained with Adam.

Only Keras APIs are used here (no TensorFlow calls), so other Keras backends can run it.
The flattening of the seed page's `Flatten` layer is done by the data flow's stage 3, so
the network's input is already the 784-value row.

>>> model = build_network(inputs=784, hidden=128, classes=10, learning_rate=0.005,
...                       schedule="cosine", total_steps=2345)     # doctest: +SKIP
>>> model.count_params()                                           # doctest: +SKIP
101770
"""

from __future__ import annotations

from pipetrace.trace import LayerInfo, Network

LOSS = "sparse_categorical_crossentropy"
SCHEDULES = ("cosine", "constant")


def build_network(
    inputs: int,
    hidden: int,
    classes: int,
    learning_rate: float,
    schedule: str,
    total_steps: int,
    steps_per_execution: int = 1,
):
    """A compiled Keras model: `inputs` values -> `hidden` ReLU units -> `classes` softmax outputs.

    With schedule "cosine" the learning rate starts at `learning_rate` and glides to 0 over
    `total_steps` along a half cosine: big steps early, careful ones at the end.
    """
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(inputs,), name="pixels"),
            keras.layers.Dense(hidden, activation="relu", name="hidden"),
            keras.layers.Dense(classes, activation="softmax", name="output"),
        ],
        name="first_network",
    )
    rate = learning_rate
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(total_steps, 1))
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss=LOSS,
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


def describe_network(model, learning_rate: float, schedule: str) -> Network:
    """Read layer sizes and parameter counts off the built model (nothing assumed)."""
    layers = []
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        layers.append(
            LayerInfo(
                name=layer.name,
                kind=type(layer).__name__,
                units=int(kernel.shape[1]),
                activation=layer.activation.__name__,
                input_size=int(kernel.shape[0]),
                weights=int(kernel.size),
                biases=int(bias.size),
            )
        )
    optimizer = type(model.optimizer).__name__
    return Network(layers=layers, optimizer=optimizer, learning_rate=learning_rate, schedule=schedule, loss=LOSS)
