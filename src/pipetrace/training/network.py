"""The network that gets trained: built from the options, or a Keras model you bring.

The default is the first neural network of the seed page, Dense(128, ReLU) -> Dense(10,
softmax) on the 784-value rows made by the Flatten stage. Options change it: several hidden
layers, another activation, dropout, another optimizer (SGD with or without momentum), or a
small convolutional network that reads whole images. Only Keras APIs are used here (no
TensorFlow calls), so other Keras backends can run it.

>>> from pipetrace.trace import Settings
>>> model = build_network(Settings(), input_shape=(784,), classes=10)   # doctest: +SKIP
>>> model.count_params()                                              # doctest: +SKIP
101770
"""

from __future__ import annotations

import random
from pathlib import Path

from pipetrace.errors import SettingsError
from pipetrace.trace import LayerInfo, Network, Settings
from pipetrace.training.output_kind import activation_name

LOSS = "sparse_categorical_crossentropy"
SCHEDULES = ("cosine", "constant")
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adamw": "AdamW", "adagrad": "Adagrad", "nadam": "Nadam"}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "elu", "selu", "silu", "leaky_relu", "linear")


def wants_images(settings: Settings) -> bool:
    """A convolutional network reads images (height x width x channels), not flat rows."""
    return settings.conv


def build_network(settings: Settings, input_shape: tuple[int, ...], classes: int):
    """An uncompiled Keras model for these settings and this data.

    Every random part (each kernel's initializer, each Dropout) is given its seed, drawn from a
    generator of the network's own seeded with `settings.seed`: the same seeds, in the same order,
    that Keras draws from Python's shared `random` right after `keras.utils.set_random_seed(seed)`
    (so a script doing just that builds the same network), but out of reach of any other thread
    drawing from the shared one meanwhile (a Dask worker's comm does, while a run starts).
    """
    import keras
    from keras import layers

    draws = random.Random(settings.seed)

    def seed() -> int:
        return draws.randint(1, int(1e9))  # as keras.random.make_default_seed() draws it

    def kernel():
        return keras.initializers.GlorotUniform(seed=seed())

    stack: list = [keras.Input(shape=input_shape, name="pixels" if len(input_shape) == 1 else "image")]
    if settings.conv:
        stack += [layers.Conv2D(16, 3, padding="same", activation=settings.activation, kernel_initializer=kernel(), name="conv_1")]
        stack += [layers.MaxPooling2D(2, name="pool_1")]
        stack += [layers.Conv2D(32, 3, padding="same", activation=settings.activation, kernel_initializer=kernel(), name="conv_2")]
        stack += [layers.MaxPooling2D(2, name="pool_2"), layers.Flatten(name="flatten")]
    many = len(settings.hidden) > 1
    for i, units in enumerate(settings.hidden, start=1):
        stack.append(layers.Dense(units, activation=settings.activation, kernel_initializer=kernel(),
                                  name=f"hidden_{i}" if many else "hidden"))
        if settings.dropout:
            stack.append(layers.Dropout(settings.dropout, seed=seed(), name=f"dropout_{i}" if many else "dropout"))
    stack.append(layers.Dense(classes, activation="softmax", kernel_initializer=kernel(), name="output"))
    name = "small_cnn" if settings.conv else "first_network"
    return keras.Sequential(stack, name=name)


def load_network(path: str | Path):
    """A Keras model from a .keras file (checked against the data later, by `check_fits`)."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"--model {path}: no such file")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds; the user needs to know it was not loadable
        raise SettingsError(f"--model {path}: not a Keras model file Keras can load ({type(error).__name__}: {error})") from error


def takes_images(model) -> bool:
    """Does the model read images (height x width [x channels]) rather than flat rows?"""
    return len(model.inputs[0].shape) > 2


def takes_channel_axis(model) -> bool:
    """Does an image model read height x width x channels (a Conv2D does), not height x width (a Flatten first)?"""
    return len(model.inputs[0].shape) != 3


def check_fits(model, input_shape: tuple[int, ...], classes: int, what: str) -> None:
    """The model must be one pipetrace can follow, take this data's inputs and give one output per class."""
    check_traceable(model, what)
    expected = tuple(model.inputs[0].shape[1:])
    if any(e is not None and e != g for e, g in zip(expected, input_shape)) or len(expected) != len(input_shape):
        raise SettingsError(
            f"{what}: the model takes inputs of shape {_shape(expected)}, but the data gives {_shape(input_shape)}"
        )
    outputs = model.outputs[0].shape[-1]
    if outputs != classes:
        raise SettingsError(f"{what}: the model has {outputs} outputs, but the data has {classes} classes")


def outputs_probabilities(model) -> bool:
    """True when the model's output is softmax probabilities (see `output_kind`; else logits)."""
    from pipetrace.training.output_kind import SOFTMAX, output_kind

    return output_kind(model).kind == SOFTMAX


def check_traceable(model, what: str) -> None:
    """One line, before any work, for a model pipetrace cannot follow or train as a classifier."""
    from pipetrace.training.output_kind import ONE_OF_MANY, output_kind

    problem = follow_problem(model)
    if problem:
        raise SettingsError(f"{what}: {problem}")
    kind = output_kind(model)
    if kind.kind not in ONE_OF_MANY:
        why = kind.why or f"its output is {kind.kind} ({kind.units} units)"
        raise SettingsError(f"{what}: not supported: {why}; pipetrace run trains classifiers whose last layer gives "
                            "softmax probabilities or logits (no activation)")


def follow_problem(model) -> str:
    """Why pipetrace cannot follow an input through `model` layer by layer ('' when it can)."""
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        if type(model).__name__ == "Sequential":
            return ("the Sequential model has not been built yet (it does not know its input shape): start it with "
                    "keras.Input(shape), or call it on data first")
        return (f"a subclassed model ({type(model).__name__}) does not record its layers' inputs, so pipetrace cannot "
                "follow it; build it with keras.Sequential or the functional API")
    if len(inputs) != 1 or len(outputs) != 1:
        return (f"pipetrace follows models with one input and one output (this one has {len(inputs)} "
                f"input{'s' if len(inputs) != 1 else ''} and {len(outputs)} output{'s' if len(outputs) != 1 else ''})")
    return ""


def compile_network(model, settings: Settings, total_steps: int, steps_per_execution: int = 1) -> None:
    """Compile with the chosen optimizer, learning-rate schedule and cross-entropy loss.

    With schedule "cosine" the learning rate starts at `learning_rate` and glides to 0 over
    `total_steps` along a half cosine: big steps early, careful ones at the end. SGD gets
    `settings.momentum` (0: plain SGD).
    """
    import keras

    rate = settings.learning_rate
    if settings.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(settings.learning_rate, decay_steps=max(total_steps, 1))
    options = {"momentum": float(settings.momentum)} if settings.optimizer == "sgd" else {}  # Keras wants a float
    optimizer = getattr(keras.optimizers, OPTIMIZERS[settings.optimizer])(learning_rate=rate, **options)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not outputs_probabilities(model))
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], steps_per_execution=steps_per_execution)


def describe_network(model, settings: Settings) -> Network:
    """Read every layer's shape, configuration and parameter count off the model (nothing assumed)."""
    from pipetrace.training.output_kind import output_kind

    layers = [describe_layer(layer) for layer in model.layers if type(layer).__name__ != "InputLayer"]
    return Network(
        layers=layers,
        optimizer=OPTIMIZERS.get(settings.optimizer, settings.optimizer),
        learning_rate=settings.learning_rate,
        schedule=settings.schedule,
        loss="sparse_categorical_crossentropy" + ("" if outputs_probabilities(model) else " (from logits)"),
        momentum=optimizer_momentum(model),
        output=output_kind(model).kind,
    )


def optimizer_momentum(model) -> float:
    """The momentum of the SGD that trains `model`, from its config (what Keras will use), else 0.0.

    Only SGD's: RMSprop has a `momentum` too, in another update the texts do not teach.
    """
    optimizer = getattr(model, "optimizer", None)
    if type(optimizer).__name__ != "SGD":
        return 0.0
    return float(optimizer.get_config().get("momentum") or 0.0)


def describe_layer(layer) -> LayerInfo:
    """One layer as the trace records it: what it is, its shapes, and the numbers it learns."""
    kind = type(layer).__name__
    sizes = {"kernel": 0, "bias": 0, "other": 0}
    for weight in layer.weights:
        role = weight.path.rsplit("/", 1)[-1].split(":")[0]
        sizes[role if role in ("kernel", "bias") else "other"] += int(_count(weight.shape))
    activation = activation_name(layer.activation) if hasattr(layer, "activation") else ""
    input_shape = _dims(layer.input.shape) if _has_input(layer) else []
    output_shape = _dims(layer.output.shape)
    config = {k: v for k, v in _config(layer).items() if k in ("units", "filters", "kernel_size", "strides", "padding", "pool_size", "rate", "target_shape", "scale", "offset", "epsilon", "momentum")}
    return LayerInfo(
        name=layer.name,
        kind=kind,
        units=int(output_shape[-1]) if output_shape else 0,
        activation=activation,
        input_size=int(_count(input_shape)) if input_shape else 0,
        weights=sizes["kernel"],
        biases=sizes["bias"],
        other=sizes["other"],
        label=layer_label(kind, config, activation),
        input_shape=input_shape,
        output_shape=output_shape,
        config=config,
    )


def layer_label(kind: str, config: dict, activation: str) -> str:
    """Dense(128, relu), Conv2D(16, 3x3, relu), MaxPooling2D(2x2), Dropout(0.2), Flatten."""
    act = "" if activation in ("", "linear") else f", {activation}"
    if "units" in config:
        return f"{kind}({config['units']}{act})"
    if "filters" in config:
        return f"{kind}({config['filters']}, {'x'.join(map(str, config['kernel_size']))}{act})"
    if "pool_size" in config:
        return f"{kind}({'x'.join(map(str, config['pool_size']))})"
    if "rate" in config:
        return f"{kind}({config['rate']:g})"
    return kind


def _config(layer) -> dict:
    try:
        config = layer.get_config()
    except Exception:  # a custom layer without get_config is still traced by shape
        return {}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if isinstance(v, (int, float, str, tuple, list))}


def _has_input(layer) -> bool:
    try:
        return not isinstance(layer.input, (list, tuple))
    except (AttributeError, ValueError):
        return False


def _dims(shape) -> list[int]:
    return [int(d) if d is not None else -1 for d in shape[1:]]


def _count(shape) -> int:
    total = 1
    for d in shape:
        total *= int(d) if d is not None and d >= 0 else 1
    return total


def _shape(shape) -> str:
    return " x ".join("?" if d is None else str(d) for d in shape) or "a scalar"
