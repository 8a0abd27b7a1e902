"""Mode `code`: write this run as a Python script a learner can read, run and change.

Two scripts, both made from the run's trace:

- by default, the script TensorFlow's beginner quickstart teaches: load the data, scale it,
  `keras.Sequential`, `compile`, `model.fit` (holding out the last part of the training images
  with `validation_split`), then `model.evaluate` once on the test set, with the run's layers,
  optimizer, learning rate, schedule, epochs and batch size, and the test accuracy to expect;
- with `--exact`, the exact reproduction: plain TensorFlow/Keras without pipetrace, the five
  stages one commented block each, and the training loop pipetrace runs (the same seeded
  shuffles, 16 batches per call). On the same machine it prints the trace's numbers.
  `walk` shows its blocks beside each stage.

A trace may come from anyone, so no text of it is ever spliced into code: every value is
checked (whole numbers, finite floats, names from closed sets: optimizers, activations, layer
kinds, schedules) and enters the script only as a Python literal written by `repr`, or as code
text looked up in a fixed table. Comments and docstrings hold our own words and numbers we
formatted, never trace text. Anything else is refused with one clear line.

>>> print(fit_script(Trace.load("runs/x/trace.json")).splitlines()[0])       # doctest: +SKIP
#!/usr/bin/env python3
"""

from __future__ import annotations

import datetime
import math
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from pipetrace.errors import SettingsError
from pipetrace.modes.locate import load_trace
from pipetrace.numbers import percent, rate
from pipetrace.trace import Trace
from pipetrace.training.loop import BATCHES_PER_CALL  # the exact script runs the loop pipetrace runs
from pipetrace.training.network import ACTIVATIONS, OPTIMIZERS, SCHEDULES

DEFAULT_VALIDATION = 0.1  # model.fit's validation_split when the run held out nothing

# ---- closed sets: an allowed name -> the code text written for it ------------------------------
OPTIMIZER_CODE = {name: f"keras.optimizers.{cls}" for name, cls in OPTIMIZERS.items()}
ACTIVATION_CODE = {name: repr(name) for name in (*ACTIVATIONS, "softmax")}
PADDING_CODE = {"valid": "'valid'", "same": "'same'"}
SCHEDULE_NAMES = frozenset(SCHEDULES)
MAX_LAYER_NAME = 128
MAX_PATH = 4096


# ---- checking trace values before they go near code ---------------------------------------------
def _refuse(field: str, expected: str) -> SettingsError:
    """One clear line; the value itself is not repeated (it may be anything)."""
    return SettingsError(f"code mode: the trace's {field} is not {expected}; no script written")


def _whole(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _refuse(field, f"a whole number from {low} to {high}")
    return int(value)


def _real(value, field: str, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not ok:
        raise _refuse(field, f"a finite number from {low:g} to {high:g}")
    return float(value)


def _pair(value, field: str) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _refuse(field, "two whole numbers")
    return _whole(value[0], field, 1, 4096), _whole(value[1], field, 1, 4096)


def _looked_up(value, field: str, table: dict[str, str]) -> str:
    if not isinstance(value, str) or value not in table:
        raise _refuse(field, "one of " + ", ".join(sorted(table)))
    return table[value]


def _path_text(value, field: str) -> str:
    """A path as text for a repr literal: a bounded string without NUL (repr escapes everything else)."""
    if not isinstance(value, str) or not value or len(value) > MAX_PATH or "\x00" in value:
        raise _refuse(field, f"a path of at most {MAX_PATH} characters")
    return value


# ---- what the scripts are made of: checked values only -------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One layer: its kind (closed set), a plain description made by us, and the Keras call as code."""

    kind: str
    described: str
    code: str


@dataclass(frozen=True)
class Recipe:
    """Every value of the run that reaches a script, each checked."""

    seed: int
    epochs: int
    batch_size: int
    learning_rate: float
    schedule: str  # "cosine" or "constant"
    optimizer: str  # the optimizer's settings name (a key of OPTIMIZER_CODE)
    momentum: float  # SGD's momentum (0.0: plain SGD; always 0.0 for the other optimizers)
    from_logits: bool
    limit: int | None
    validation: float  # the fraction held out by the run (0: none)
    source: str  # "mnist", "idx", "digits", "npz" or "folder" (a folder of images: the default script only)
    dataset: str  # what load_dataset reads: "mnist", "digits" or a path (for repr only)
    data_dir: str | None  # an IDX folder for "mnist" (for repr only)
    location: str  # what the exact script reads: an IDX folder, a .npz file or the digits table (for repr only)
    image_size: tuple[int, int]
    scale: float  # the raw value of full ink: 255, or 16 for the digits
    images_in: bool  # the network reads images (a Reshape stage) rather than rows (Flatten)
    model_file: str | None  # your own .keras model, resolved (for repr only)
    network_name: str  # first_network or small_cnn (closed set)
    layers: tuple[Layer, ...]
    stage_shapes: tuple[tuple[int, ...], ...]  # the outputs of Load, Preprocessing, Flatten/Reshape, Split (2)
    test_accuracy: float
    created_at: str  # an ISO date and time we formatted, or "unknown"
    # False when the model reads grey images as height x width (no channel axis: the Reshape stage kept them)
    channel_axis: bool = True

    @property
    def architecture(self) -> str:
        """The network in our own words: 'Dense(128, relu) -> Dense(10, softmax)'."""
        if self.model_file:
            return "your own Keras model"
        return " -> ".join(layer.described for layer in self.layers)


def recipe(trace: Trace) -> Recipe:
    """Check every value the scripts use; refuse the trace with one clear line otherwise."""
    s, network = trace.settings, trace.network
    source, dataset, data_dir, location = _data_source(s)
    model_file = None
    if s.model is not None:
        model_path = _path_text(s.model, "settings.model")
        if not _is(Path(model_path), "file"):
            raise SettingsError("code mode: this run trained a model from a file that is not here (settings.model); "
                                "no script written")
        model_file = str(Path(model_path).resolve())
    limit = None if s.limit is None else _whole(s.limit, "settings.limit", 6, 10**9)
    stage_names = [getattr(stage, "name", None) for stage in trace.stages]
    if len(stage_names) < 4 or stage_names[2] not in ("Flatten", "Reshape"):
        raise _refuse("stages", "the five stages of a pipetrace run")
    details = trace.stages[1].details if isinstance(trace.stages[1].details, dict) else {}
    pixel_max = trace.dataset.get("pixel_max", 255.0) if isinstance(trace.dataset, dict) else 255.0
    if not isinstance(s.schedule, str) or s.schedule not in SCHEDULE_NAMES:
        raise _refuse("settings.schedule", "one of " + ", ".join(sorted(SCHEDULE_NAMES)))
    _looked_up(s.optimizer, "settings.optimizer", OPTIMIZER_CODE)
    momentum = _real(s.momentum, "settings.momentum", 0.0, 1.0, high_open=True)
    if momentum and s.optimizer != "sgd":
        raise _refuse("settings.momentum", "0 (momentum is SGD's, and this run's optimizer is another)")
    created = trace.created_at
    try:
        created = datetime.datetime.fromisoformat(created).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        created = "unknown"
    recipe_ = Recipe(
        seed=_whole(s.seed, "settings.seed", 0, 2**32 - 1),
        epochs=_whole(s.epochs, "settings.epochs", 1, 100_000),
        batch_size=_whole(s.batch_size, "settings.batch_size", 1, 10**7),
        learning_rate=_real(s.learning_rate, "settings.learning_rate", 0.0, 1e12, low_open=True),
        schedule=s.schedule,
        optimizer=s.optimizer,
        momentum=momentum,
        from_logits=isinstance(network.loss, str) and "from logits" in network.loss,
        limit=limit,
        validation=_real(getattr(s, "validation", 0.0) or 0.0, "settings.validation", 0.0, 1.0, high_open=True),
        source=source,
        dataset=dataset,
        data_dir=data_dir,
        location=location,
        image_size=_pair(s.image_size, "settings.image_size"),
        scale=_real(details.get("scale", pixel_max), "the preprocessing scale", 0.0, 1e9, low_open=True),
        images_in=stage_names[2] == "Reshape",
        model_file=model_file,
        network_name="small_cnn" if s.conv is True else "first_network",
        layers=() if model_file else tuple(_layer(layer, n) for n, layer in enumerate(network.layers)),
        stage_shapes=tuple(_shape(array.shape, f"stages[{n}] shape") for n, stage in enumerate(trace.stages[:4])
                           for array in stage.outputs[:2 if n == 3 else 1]),
        test_accuracy=_real(trace.evaluation.test_accuracy, "evaluation.test_accuracy", 0.0, 1.0),
        created_at=created,
    )
    kept = recipe_.images_in and len(recipe_.stage_shapes[2]) == 3  # N x H x W: no channel axis was added
    return dataclasses.replace(recipe_, channel_axis=not kept)


def _shape(shape, field: str) -> tuple[int, ...]:
    if not isinstance(shape, (list, tuple)) or len(shape) > 8:
        raise _refuse(field, "a list of whole numbers")
    return tuple(_whole(n, field, 0, 10**9) for n in shape)


def _data_source(s) -> tuple[str, str, str | None, str]:
    """(source kind, what load_dataset reads, data_dir, what the exact script reads), from a closed set of kinds."""
    text = _path_text(s.dataset, "settings.dataset")
    name = text.strip().lower()
    data_dir = None if s.data_dir is None else str(Path(_path_text(s.data_dir, "settings.data_dir")).resolve())
    if name == "digits":
        from pipetrace.data.digits import BUNDLED_DIR as DIGITS_DIR, DIGITS_FILE  # a path only

        return "digits", "digits", None, str((DIGITS_DIR / DIGITS_FILE).resolve())
    if name == "mnist":
        if data_dir:
            return "idx", "mnist", data_dir, data_dir
        from pipetrace.data.mnist import BUNDLED_DIR  # a path only; the exact script reads the files itself

        return "mnist", "mnist", None, str(BUNDLED_DIR.resolve())
    path = Path(text).expanduser()
    if name.endswith(".npz"):
        return "npz", str(path.resolve()), None, str(path.resolve())
    if _is(path, "dir") and _idx_folder(path):
        return "idx", str(path.resolve()), None, str(path.resolve())
    if _is(path, "dir"):
        return "folder", str(path.resolve()), None, ""
    raise SettingsError("code mode writes scripts for runs on MNIST, IDX folders, scikit-learn's digits, .npz files "
                        "and image folders; this run's dataset (settings.dataset) is none of these here")


def _idx_folder(folder: Path) -> bool:
    return any(_is(folder / name, "file") for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"))


def _is(path: Path, kind: str) -> bool:
    """Path.is_file / is_dir that say False for a name the system cannot even look up (too long, ...)."""
    try:
        return path.is_file() if kind == "file" else path.is_dir()
    except (OSError, ValueError):
        return False


def _keras_layer_name(name) -> bool:
    """A name `keras.layers.Layer(name=...)` accepts (Keras refuses '/'), printable so the script reads plainly."""
    return isinstance(name, str) and 0 < len(name) <= MAX_LAYER_NAME and "/" not in name and name.isprintable()


def _layer(layer, n: int) -> Layer:
    """A layer of the trace as the Keras call that builds it: kinds, activations and paddings from closed sets."""
    where = f"network.layers[{n}]"
    config = layer.config if isinstance(layer.config, dict) else {}
    if not _keras_layer_name(layer.name):
        raise _refuse(f"{where}.name", f"a layer name Keras takes (1 to {MAX_LAYER_NAME} printable characters, no '/')")
    name = f"name={layer.name!r}"  # a string literal whatever it holds (repr escapes quotes and backslashes)
    kind = layer.kind

    def activation() -> tuple[str, str]:
        text = _looked_up(layer.activation, f"{where}.activation", ACTIVATION_CODE)
        return f"activation={text}, ", layer.activation

    if kind == "Dense":
        units = _whole(config.get("units", layer.units), f"{where} units", 1, 1_000_000)
        act, shown = activation()
        return Layer(kind, f"Dense({units}, {shown})", f"keras.layers.Dense({units!r}, {act}{name})")
    if kind == "Conv2D":
        filters = _whole(config.get("filters", layer.units), f"{where} filters", 1, 100_000)
        size = _pair(config.get("kernel_size", [3, 3]), f"{where} kernel_size")
        strides = _pair(config.get("strides", [1, 1]), f"{where} strides")
        padding = _looked_up(config.get("padding", "valid"), f"{where} padding", PADDING_CODE)
        act, shown = activation()
        return Layer(kind, f"Conv2D({filters}, {size[0]}x{size[1]}, {shown})",
                     f"keras.layers.Conv2D({filters!r}, {size!r}, strides={strides!r}, padding={padding}, {act}{name})")
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        size = _pair(config.get("pool_size", [2, 2]), f"{where} pool_size")
        strides = _pair(config.get("strides", list(size)), f"{where} strides")
        padding = _looked_up(config.get("padding", "valid"), f"{where} padding", PADDING_CODE)
        call = {"MaxPooling2D": "keras.layers.MaxPooling2D", "AveragePooling2D": "keras.layers.AveragePooling2D"}[kind]
        return Layer(kind, f"{kind}({size[0]}x{size[1]})", f"{call}({size!r}, strides={strides!r}, padding={padding}, {name})")
    if kind == "Dropout":
        dropped = _real(config.get("rate", 0.0), f"{where} rate", 0.0, 1.0, high_open=True)
        return Layer(kind, f"Dropout({dropped:g})", f"keras.layers.Dropout({dropped!r}, {name})")
    if kind == "Flatten":
        return Layer(kind, "Flatten", f"keras.layers.Flatten({name})")
    raise SettingsError("code mode writes Dense, Conv2D, pooling, Dropout and Flatten layers; this network has "
                        "another kind: save your model and trace it with --model")


def optimizer_call(r: Recipe, rate_name: str) -> str:
    """The optimizer as code: a class from the fixed table; SGD also gets its momentum as a literal (0.0: plain SGD)."""
    momentum = f", momentum={r.momentum!r}" if r.optimizer == "sgd" else ""
    return f"{OPTIMIZER_CODE[r.optimizer]}(learning_rate={rate_name}{momentum})"


# ---- the default script: model.fit and model.evaluate, as the quickstart teaches ------------------
def fit_script(trace: Trace) -> str:
    """The script a learner would write: Keras' fit and evaluate with the run's settings."""
    r = recipe(trace)
    validation = r.validation or DEFAULT_VALIDATION
    held = (f"the last {percent(validation)} of the training images, held out by the run as well"
            if r.validation else f"the last {percent(validation)} of the training images (the run trained on all of them)")
    expected = percent(r.test_accuracy)
    reads_itself = r.source != "folder"  # with NumPy alone, as the exact script does: only Keras needs installing
    out = [
        "#!/usr/bin/env python3",
        '"""A pipetrace run, written the way TensorFlow\'s beginner quickstart teaches: model.fit, then model.evaluate.',
        "",
        "The settings below are the run's. pipetrace trained this network with its own training loop",
        "(its own seeded shuffles, 16 batches per call into TensorFlow) and without holding out a",
        "validation part unless it was asked to; model.fit shuffles and batches its own way. So the",
        "numbers this script prints will be close to the trace's, not equal. For a script that gives",
        "the trace's numbers exactly, run: pipetrace learn code --exact",
        "",
        'Usage: python reproduce.py     (written by `pipetrace learn code`)"""',
        "",
        "import os",
        *(["import gzip  # noqa: F401  (IDX files are gzip-compressed)", "import sys"] if reads_itself else []),
        "",
        'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow\'s start-up messages quiet',
        "",
        "import keras  # noqa: E402  (Keras 3 on TensorFlow: what tf.keras is)",
        *(["import numpy as np  # noqa: E402"] if reads_itself else
          ["from pipetrace.data import load_dataset  # noqa: E402  (reads a folder of images offline)"]),
        "",
        "# The run's settings, from its trace",
        f"DATASET = {r.dataset!r}",
        f"DATA_DIR = {r.data_dir!r}",
        f"IMAGE_SIZE = {r.image_size!r}  # used only for a folder of images",
        f"SEED = {r.seed!r}",
        f"LIMIT = {r.limit!r}  # --limit: the first LIMIT training and LIMIT // 6 test images; None: all",
        f"EPOCHS = {r.epochs!r}",
        f"BATCH_SIZE = {r.batch_size!r}",
        f"LEARNING_RATE = {r.learning_rate!r}",
        f"VALIDATION_SPLIT = {validation!r}  # {held}",
        f"RUN_CREATED_AT = {r.created_at!r}",
        f"TRACE_TEST_ACCURACY = {r.test_accuracy!r}",
        "",
        "keras.utils.set_random_seed(SEED)  # the same starting weights and shuffles each time this file runs",
        "",
        *_fit_reading(r, reads_itself),
        "if LIMIT is not None:",
        "    x_train, y_train = x_train[:LIMIT], y_train[:LIMIT]",
        "    x_test, y_test = x_test[:max(1, LIMIT // 6)], y_test[:max(1, LIMIT // 6)]",
        f"x_train = x_train.astype(\"float32\") / {r.scale!r}  # pixels from 0..{r.scale:g} to 0.0..1.0",
        f"x_test = x_test.astype(\"float32\") / {r.scale!r}",
    ]
    out += _fit_model_lines(r)
    schedule = "LEARNING_RATE"
    if r.schedule == "cosine":
        out += [
            "",
            "fit_images = int(len(x_train) * (1 - VALIDATION_SPLIT))  # what model.fit trains on",
            "steps = EPOCHS * -(-fit_images // BATCH_SIZE)  # optimizer steps in all (batches per epoch, rounded up)",
            "schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)  # the rate glides to 0",
        ]
        schedule = "schedule"
    out += [
        f"model.compile(optimizer={optimizer_call(r, schedule)},",
        f"              loss=keras.losses.SparseCategoricalCrossentropy(from_logits={r.from_logits!r}),",
        '              metrics=["accuracy"])',
        "",
        "# Train: EPOCHS passes over the training images, BATCH_SIZE at a time. The last part of them",
        "# (VALIDATION_SPLIT) is never trained on: watch val_accuracy to see how well the network",
        "# does on images it has not learned from, and to choose between settings.",
        "model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, validation_split=VALIDATION_SPLIT)",
        "",
        "# Test once, at the end, on images kept apart from all of the above.",
        f"# Expect a test accuracy near {expected}, the run's: close, not equal (see the top of this file).",
        "test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=2)",
        'print(f"Test accuracy: {test_accuracy:.4f} (the trace says {TRACE_TEST_ACCURACY:.4f}: '
        '{100 * (test_accuracy - TRACE_TEST_ACCURACY):+.2f} points; close, not equal)")',
        "",
    ]
    return "\n".join(out)


def _fit_reading(r: Recipe, reads_itself: bool) -> list[str]:
    """Read the data: the files themselves with NumPy (the exact script's reader), or pipetrace's folder reader."""
    if not reads_itself:
        return ["data = load_dataset(DATASET, data_dir=DATA_DIR, image_size=IMAGE_SIZE, seed=SEED)",
                "x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test"]
    helper = ["", *HELPERS.split("\n\n\ndef show")[0].splitlines(), "", ""] if r.source in ("mnist", "idx") else []
    where = "pipetrace's bundled copy of MNIST (no download)" if r.source == "mnist" else "the run's data"
    return [*helper, f"DATA = sys.argv[1] if len(sys.argv) > 1 else {r.location!r}  # {where}", *read_lines(r)]


def _fit_model_lines(r: Recipe) -> list[str]:
    """Shape the data for the network and build it: your model, or the run's layers."""
    if r.images_in and r.channel_axis:
        lines = ["if x_train.ndim == 3:  # grey images get a channel axis: height x width x 1, what Conv2D reads",
                 "    x_train, x_test = x_train[..., None], x_test[..., None]"]
    elif r.images_in:
        lines = ["# the model reads each image as height x width (no channel axis): the images stay as they are"]
    elif r.model_file:
        lines = ["x_train = x_train.reshape(len(x_train), -1)  # each image as one row of pixels",
                 "x_test = x_test.reshape(len(x_test), -1)"]
    else:
        lines = []
    lines.append("")
    if r.model_file:
        return lines + [f"model = keras.models.load_model({r.model_file!r}, compile=False)  # your model, as the run loaded it"]
    lines += ["model = keras.Sequential([", "    keras.Input(shape=x_train.shape[1:]),"]
    if not r.images_in:
        lines.append("    keras.layers.Flatten(),  # each image as one row of pixels")
    lines += [f"    {layer.code}," for layer in r.layers]
    lines.append(f"], name={r.network_name!r})")
    return lines


# ---- the exact script: the run, stage by stage, with pipetrace's own loop ------------------------
@dataclass
class Block:
    """One commented block of the exact script: the stage it does and its lines."""

    stage: str
    comment: str
    lines: list[str]


def data_block(r: Recipe) -> Block:
    """Stage 1: read the run's data, the same files, the same split, the same --limit."""
    lines = read_lines(r)
    lines += [
        "if LIMIT is not None and LIMIT <= len(x_train):  # --limit: the first N training and N // 6 test images",
        "    x_train, y_train = x_train[:LIMIT], y_train[:LIMIT]",
        "    x_test, y_test = x_test[:max(1, LIMIT // 6)], y_test[:max(1, LIMIT // 6)]",
    ]
    if r.validation:
        lines += [
            "keep = int(math.floor(len(x_train) * (1.0 - VALIDATION)))  # the last part is held out: never trained on",
            "x_train, y_train = x_train[:keep], y_train[:keep]",
        ]
    lines += [
        "train_count = len(x_train)",
        "images = np.concatenate([x_train, x_test])  # training images first, then the test images",
        "labels = np.concatenate([y_train, y_test])",
        'show("Stage 1, Load", images)',
    ]
    return Block("Load", "Read the images and labels, as whole numbers (uint8)", lines)


def read_lines(r: Recipe) -> list[str]:
    """Lines that read the run's files (from DATA) into x_train, y_train, x_test, y_test with NumPy alone."""
    if r.source == "digits":
        lines = [
            "with gzip.open(DATA, \"rt\") as handle:  # 1,797 8 x 8 digits: 64 pixels (0..16) and the label a line",
            '    table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)',
            'every_image, every_label = table[:, :64].reshape(-1, 8, 8), table[:, 64].astype("int64")',
            "# no official split: 20% of each class for testing, shuffled with the seed (a stratified split)",
            "rng = np.random.default_rng(SEED)",
            "train_parts, test_parts = [], []",
            "for label in np.unique(every_label):",
            "    members = np.flatnonzero(every_label == label)",
            "    n_test = min(max(int(round(len(members) * 0.2)), 1), len(members) - 1)",
            "    shuffled = rng.permutation(members)",
            "    test_parts.append(shuffled[:n_test])",
            "    train_parts.append(shuffled[n_test:])",
            "train_order = rng.permutation(np.concatenate(train_parts))",
            "test_order = rng.permutation(np.concatenate(test_parts))",
            "x_train, y_train = every_image[train_order], every_label[train_order]",
            "x_test, y_test = every_image[test_order], every_label[test_order]",
        ]
    elif r.source == "npz":
        lines = [
            "with np.load(DATA) as arrays:  # the layout of Keras' dataset loaders (no pickle)",
            '    x_train, y_train = arrays["x_train"], arrays["y_train"].reshape(-1).astype("int64")',
            '    x_test, y_test = arrays["x_test"], arrays["y_test"].reshape(-1).astype("int64")',
            "if x_train.ndim == 4 and x_train.shape[-1] == 1:  # one channel: plain grey images",
            "    x_train, x_test = x_train[..., 0], x_test[..., 0]",
        ]
    elif r.source in ("mnist", "idx"):
        lines = [
            'x_train = read_idx(DATA, "train-images-idx3-ubyte")  # 60000 x 28 x 28 for MNIST',
            'y_train = read_idx(DATA, "train-labels-idx1-ubyte").astype("int64")',
            'x_test = read_idx(DATA, "t10k-images-idx3-ubyte")  # written by other people than the training set',
            'y_test = read_idx(DATA, "t10k-labels-idx1-ubyte").astype("int64")',
        ]
    else:
        raise SettingsError("code mode --exact rewrites runs on MNIST or IDX files, scikit-learn's digits and .npz "
                            "files; a folder of images it cannot rewrite yet (`pipetrace learn code` without --exact can)")
    return lines


def blocks(trace: Trace) -> list[Block]:
    """The exact script's body: one block per stage of the run, then the evaluation."""
    return _blocks(recipe(trace))


def _blocks(r: Recipe) -> list[Block]:
    shaping = Block(
        "Reshape", "Give each image a channel axis: height x width x channels, what Conv2D reads",
        ["if images.ndim == 3:", "    images = images[..., np.newaxis]", "vectors = images", 'show("Stage 3, Reshape", vectors)'],
    ) if r.images_in and r.channel_axis else Block(
        "Reshape", "Keep each image as height x width: the model reads it so, with no channel axis",
        ["vectors = images", 'show("Stage 3, Reshape", vectors)'],
    ) if r.images_in else Block(
        "Flatten", "Lay each image out as one row: pixel (r, c) lands at index width * r + c",
        ["vectors = images.reshape(len(images), -1)  # a view: no value is copied or changed", 'show("Stage 3, Flatten", vectors)'],
    )
    return [
        data_block(r),
        Block("Preprocessing", f"Scale the pixels from 0..{r.scale:g} to 0.0..1.0 (float32, what Keras computes in)",
              [f"images = images.astype(\"float32\") / np.float32({r.scale!r})", 'show("Stage 2, Preprocessing", images)']),
        shaping,
        Block("Train/Test split", "Cut where the training images end: the rest only ever tests the network",
              ["x_train, x_test = vectors[:train_count], vectors[train_count:]",
               "y_train, y_test = labels[:train_count], labels[train_count:]",
               'show("Stage 4, Train/Test split (training)", x_train)', 'show("Stage 4, Train/Test split (test)", x_test)']),
        model_block(r),
        Block("Evaluation", "Predict every test image once and count the right answers",
              ["probabilities = model.predict(x_test, batch_size=1024, verbose=0)",
               "accuracy = float((probabilities.argmax(axis=1) == y_test).mean())",
               'print(f"Test accuracy: {accuracy:.4f} (the trace says {TRACE_TEST_ACCURACY:.4f}: '
               '{100 * (accuracy - TRACE_TEST_ACCURACY):+.2f} points)")']),
    ]


def model_block(r: Recipe) -> Block:
    """Stage 5: the same layers, optimizer, schedule and loss, seeded as pipetrace seeds."""
    lines = ["keras.utils.set_random_seed(SEED)  # the same starting weights and the same shuffles"]
    if r.model_file:
        lines.append(f"model = keras.models.load_model({r.model_file!r}, compile=False)  # your model, as the run loaded it")
    else:
        lines.append("model = keras.Sequential([")
        lines.append(f"    keras.Input(shape=x_train.shape[1:], name={'image' if r.images_in else 'pixels'!r}),")
        lines += [f"    {layer.code}," for layer in r.layers]
        lines.append(f"], name={r.network_name!r})")
    rate_name = "LEARNING_RATE"
    lines.append("steps_per_epoch = -(-len(x_train) // BATCH_SIZE)  # batches per epoch, rounded up")
    if r.schedule == "cosine":
        lines.append("rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps_per_epoch * EPOCHS)  # glides to 0")
        rate_name = "rate"
    lines += [
        f"optimizer = {optimizer_call(r, rate_name)}",
        f"loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits={r.from_logits!r})",
        'model.compile(optimizer=optimizer, loss=loss_fn, metrics=["accuracy"])',
        "optimizer.build(model.trainable_variables)",
        'print(f"Stage 5, Model training: {model.count_params():,} parameters")',
        "",
        f"# The training loop, as pipetrace runs it: {BATCHES_PER_CALL} batches per call into TensorFlow, each one",
        "# forward -> loss -> gradients -> one optimizer step. (model.fit does the same, with more machinery.)",
        "import tensorflow as tf  # noqa: E402",
        "",
        "",
        "@tf.function(input_signature=[tf.TensorSpec((None, None, *x_train.shape[1:]), tf.float32),",
        "                              tf.TensorSpec((None, None), tf.int64)])",
        "def train_batches(x, y):",
        "    losses = tf.TensorArray(tf.float32, size=tf.shape(x)[0])",
        "    right = tf.TensorArray(tf.float32, size=tf.shape(x)[0])",
        "    for i in tf.range(tf.shape(x)[0]):",
        "        with tf.GradientTape() as tape:",
        "            outputs = model(x[i], training=True)",
        "            loss = loss_fn(y[i], outputs)",
        "        gradients = tape.gradient(loss, model.trainable_variables)",
        "        optimizer.apply(gradients, model.trainable_variables)",
        "        losses = losses.write(i, loss)",
        "        right = right.write(i, tf.reduce_sum(tf.cast(tf.argmax(outputs, axis=-1) == y[i], tf.float32)))",
        "    return losses.stack(), right.stack()",
        "",
        "",
        "order_rng = np.random.default_rng(SEED)  # a new shuffled order every epoch",
        "full = len(x_train) // BATCH_SIZE * BATCH_SIZE",
        f"calls = [(s, min(s + BATCH_SIZE * {BATCHES_PER_CALL!r}, full)) for s in range(0, full, BATCH_SIZE * {BATCHES_PER_CALL!r})]",
        "calls += [(full, len(x_train))] if full < len(x_train) else []  # the last, smaller batch",
        "for epoch in range(1, EPOCHS + 1):",
        "    order = order_rng.permutation(len(x_train))",
        "    total_loss = total_right = 0.0",
        "    for start, stop in calls:",
        "        rows = order[start:stop]",
        "        per_batch = min(BATCH_SIZE, stop - start)",
        "        batch_losses, right = train_batches(x_train[rows].reshape(-1, per_batch, *x_train.shape[1:]),",
        "                                            y_train[rows].astype(\"int64\").reshape(-1, per_batch))",
        "        total_loss += float((batch_losses.numpy() * per_batch).sum())",
        "        total_right += float(right.numpy().sum())",
        '    print(f"epoch {epoch}: loss {total_loss / len(x_train):.4f}, accuracy {total_right / len(x_train):.4f}")',
    ]
    return Block("Model training", f"Build {r.architecture}, then train it", lines)


HELPERS = '''def read_idx(folder, name):
    """An IDX file (gzip-compressed or plain) as a uint8 array: magic number, sizes, then the values."""
    path = os.path.join(folder, name + ".gz")
    if os.path.isfile(path):
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    else:
        with open(os.path.join(folder, name), "rb") as handle:
            raw = handle.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def show(stage, array):
    """Print an array the way the trace describes it: shape, dtype, range."""
    shape = " x ".join(str(n) for n in array.shape)
    print(f"{stage}: {shape} {array.dtype} [{float(array.min()):.4g}, {float(array.max()):.4g}]")
'''


def exact_script(trace: Trace) -> str:
    """The exact-reproduction script as text: plain TensorFlow/Keras, pipetrace's loop, the trace's numbers."""
    r = recipe(trace)
    body = _blocks(r)
    shapes = ", ".join(f"{name} {' x '.join(map(str, shape))}" for name, shape in
                       zip(("Load", "Preprocessing", "Reshape" if r.images_in else "Flatten", "training", "test"), r.stage_shapes))
    validation = f", the last {percent(r.validation)} of the training images held out" if r.validation else ""
    out = [
        "#!/usr/bin/env python3",
        '"""Reproduce a pipetrace run exactly, with plain TensorFlow/Keras: no pipetrace needed to run this file.',
        "",
        "It does the five stages with NumPy and Keras and trains with the loop pipetrace runs (the same",
        "seeded shuffles, 16 batches per call), so on the same machine it prints the trace's numbers;",
        "elsewhere they agree within a point. Most code you will meet calls model.fit instead, which",
        "shuffles and batches its own way (numbers close, not equal): `pipetrace learn code` writes that.",
        "",
        "Usage: python reproduce_exact.py [DATA]   (DATA: another folder of IDX files, .npz or digits file)",
        'Written by `pipetrace learn code --exact`."""',
        "",
        f"# The run: {r.architecture},",
        f"#   {r.epochs} epoch(s), batch {r.batch_size}, {r.optimizer}"
        + (f" with momentum {r.momentum:g}" if r.momentum else "") + f" at {rate(r.learning_rate)} ({r.schedule}), "
        f"seed {r.seed}{validation}.",
        f"# Its trace's shapes: {shapes};",
        f"#   its test accuracy {r.test_accuracy:.4f}.",
        "",
        "import gzip  # noqa: F401  (IDX files are gzip-compressed)",
        "import math  # noqa: F401",
        "import os",
        "import sys",
        "",
        'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow\'s start-up messages quiet',
        "import numpy as np  # noqa: E402",
        "import keras  # noqa: E402  (Keras 3 on the TensorFlow backend)",
        "",
        "# The run's settings",
        f"SEED = {r.seed!r}",
        f"EPOCHS = {r.epochs!r}",
        f"BATCH_SIZE = {r.batch_size!r}",
        f"LEARNING_RATE = {r.learning_rate!r}",
        f"LIMIT = {r.limit!r}  # None: all the images",
        f"VALIDATION = {r.validation!r}  # the last part of the training images held out (0: none)",
        f"DATA = sys.argv[1] if len(sys.argv) > 1 else {r.location!r}",
        f"RUN_CREATED_AT = {r.created_at!r}",
        f"TRACE_TEST_ACCURACY = {r.test_accuracy!r}",
        "",
        "",
        HELPERS,
        "",
    ]
    for number, block in enumerate(body, start=1):
        title = f"Stage {number}, {block.stage}" if number <= 5 else block.stage
        out += [f"# ---- {title}: {block.comment}", *block.lines, ""]
    return "\n".join(out)



def main(args, console) -> int:
    from pipetrace.files import write_atomic

    trace, path = load_trace(args.trace)
    exact = bool(getattr(args, "exact", False))
    text = exact_script(trace) if exact else fit_script(trace)
    if args.output == "-":
        print(text)
        return 0
    target = Path(args.output) if args.output else path.parent / ("reproduce_exact.py" if exact else "reproduce.py")
    try:
        write_atomic(target, text.encode("utf-8"))  # a new file renamed into place: never written through a link
    except OSError as error:
        raise SettingsError(f"--output {target}: cannot write there ({error.strerror or error})") from error
    expected = percent(trace.evaluation.test_accuracy)
    if exact:
        console.print(f"Wrote {target}: {len(text.splitlines())} lines of plain TensorFlow/Keras, one block per stage, "
                      "with pipetrace's own training loop.", markup=False)
        console.print(f"Run it with: python {target}   (on this machine it prints the trace's test accuracy, {expected})",
                      markup=False)
    else:
        console.print(f"Wrote {target}: the run as Keras' model.fit and model.evaluate, with its settings.", markup=False)
        console.print(f"Run it with: python {target}   (expect a test accuracy near {expected}: close to the trace's, "
                      "not equal; `--exact` writes the script that gives it exactly)", markup=False)
    return 0
