"""Mode `code`: write this run as a standalone script, plain TensorFlow/Keras, no pipetrace.

For learners who learn by reading and running code. The script loads the same data (the
bundled MNIST IDX files, an IDX folder, scikit-learn's digits or a .npz file), honours the
run's --limit, does the five stages with NumPy and Keras, one commented block each, builds
the same layers, compiles with the same optimizer, schedule and loss, seeds the same way and
trains with the same loop pipetrace runs (the same seeded shuffles, 16 batches per call). It
prints the shape after every stage and its test accuracy next to the trace's: on the same
machine they are the same number; elsewhere they agree within a point.
`walk` shows the same blocks beside each stage.

>>> print(script(Trace.load("runs/x/trace.json"))[:60])       # doctest: +SKIP
#!/usr/bin/env python3
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipetrace.errors import SettingsError
from pipetrace.modes.locate import load_trace
from pipetrace.trace import Trace
from pipetrace.training.loop import BATCHES_PER_CALL  # the script runs the loop pipetrace runs



@dataclass
class Block:
    """One commented block of the script: the stage it does and its lines."""

    stage: str
    comment: str
    lines: list[str]


def data_block(trace: Trace) -> Block:
    """Stage 1: read the run's data, the same files, the same split, the same --limit."""
    s, dataset = trace.settings, trace.dataset.get("name", "")
    if s.dataset.strip().lower() == "digits":
        lines = [
            "from sklearn.datasets import load_digits  # 1,797 8 x 8 digits shipped with scikit-learn",
            "",
            "bunch = load_digits()",
            'every_image, every_label = bunch.images.astype("uint8"), bunch.target.astype("int64")',
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
    elif s.dataset.lower().endswith(".npz"):
        lines = [
            "with np.load(DATA) as arrays:  # the layout of Keras' dataset loaders",
            '    x_train, y_train = arrays["x_train"], arrays["y_train"].reshape(-1).astype("int64")',
            '    x_test, y_test = arrays["x_test"], arrays["y_test"].reshape(-1).astype("int64")',
            "if x_train.ndim == 4 and x_train.shape[-1] == 1:  # one channel: plain grey images",
            "    x_train, x_test = x_train[..., 0], x_test[..., 0]",
        ]
    elif s.dataset.strip().lower() == "mnist" or (Path(s.dataset).is_dir() and _idx_folder(Path(s.dataset))):
        lines = [
            "x_train = read_idx(DATA, \"train-images-idx3-ubyte\")  # 60000 x 28 x 28 for MNIST",
            "y_train = read_idx(DATA, \"train-labels-idx1-ubyte\").astype(\"int64\")",
            "x_test = read_idx(DATA, \"t10k-images-idx3-ubyte\")  # written by other people than the training set",
            "y_test = read_idx(DATA, \"t10k-labels-idx1-ubyte\").astype(\"int64\")",
        ]
    else:
        raise SettingsError(
            f"code mode reproduces runs on MNIST or IDX files, scikit-learn's digits and .npz files; "
            f"this run read {dataset or s.dataset} ({s.dataset}), which it cannot rewrite yet"
        )
    lines += [
        "if LIMIT is not None and LIMIT <= len(x_train):  # --limit: the first N training and N // 6 test images",
        "    x_train, y_train = x_train[:LIMIT], y_train[:LIMIT]",
        "    x_test, y_test = x_test[:max(1, LIMIT // 6)], y_test[:max(1, LIMIT // 6)]",
        "train_count = len(x_train)",
        "images = np.concatenate([x_train, x_test])  # training images first, then the test images",
        "labels = np.concatenate([y_train, y_test])",
        'show("Stage 1, Load", images)',
    ]
    return Block("Load", "Read the images and labels, as whole numbers (uint8)", lines)


def _idx_folder(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"))


def blocks(trace: Trace) -> list[Block]:
    """The script's body: one block per stage of the run, then the evaluation."""
    scale = trace.stages[1].details.get("scale", trace.dataset.get("pixel_max", 255.0))
    images_in = trace.stages[2].name == "Reshape"
    shaping = Block(
        "Reshape", "Give each image a channel axis: height x width x channels, what Conv2D reads",
        ["if images.ndim == 3:", "    images = images[..., np.newaxis]", "vectors = images", 'show("Stage 3, Reshape", vectors)'],
    ) if images_in else Block(
        "Flatten", "Lay each image out as one row: pixel (r, c) lands at index width * r + c",
        ["vectors = images.reshape(len(images), -1)  # a view: no value is copied or changed", 'show("Stage 3, Flatten", vectors)'],
    )
    return [
        data_block(trace),
        Block("Preprocessing", f"Scale the pixels from 0..{scale:g} to 0.0..1.0 (float32, what Keras computes in)",
              [f"images = images.astype(\"float32\") / np.float32({scale!r})", 'show("Stage 2, Preprocessing", images)']),
        shaping,
        Block("Train/Test split", "Cut where the training images end: the rest only ever tests the network",
              ["x_train, x_test = vectors[:train_count], vectors[train_count:]",
               "y_train, y_test = labels[:train_count], labels[train_count:]",
               'show("Stage 4, Train/Test split (training)", x_train)', 'show("Stage 4, Train/Test split (test)", x_test)']),
        model_block(trace),
        Block("Evaluation", "Predict every test image once and count the right answers",
              ["probabilities = model.predict(x_test, batch_size=1024, verbose=0)",
               "accuracy = float((probabilities.argmax(axis=1) == y_test).mean())",
               'print(f"Test accuracy: {accuracy:.4f} (the trace says {TRACE_TEST_ACCURACY:.4f}: '
               '{100 * (accuracy - TRACE_TEST_ACCURACY):+.2f} points)")']),
    ]


def model_block(trace: Trace) -> Block:
    """Stage 5: the same layers, optimizer, schedule and loss, seeded as pipetrace seeds."""
    s, network = trace.settings, trace.network
    lines = ["keras.utils.set_random_seed(SEED)  # the same starting weights and the same shuffles"]
    if s.model:
        if not Path(s.model).is_file():
            raise SettingsError(f"code mode: this run trained the model in {s.model}, which is not a file here")
        lines.append(f"model = keras.models.load_model({str(Path(s.model).resolve())!r}, compile=False)  # your model, as the run loaded it")
    else:
        lines.append("model = keras.Sequential([")
        input_name = "image" if trace.stages[2].name == "Reshape" else "pixels"
        lines.append(f"    keras.Input(shape=x_train.shape[1:], name={input_name!r}),")
        lines += [f"    {_layer(layer)}," for layer in network.layers]
        lines.append(f"], name={('small_cnn' if s.conv else 'first_network')!r})")
    logits = "from logits" in network.loss
    rate = "LEARNING_RATE"
    lines += [
        "steps_per_epoch = -(-len(x_train) // BATCH_SIZE)  # batches per epoch, rounded up",
    ]
    if network.schedule == "cosine":
        lines.append("rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps_per_epoch * EPOCHS)  # glides to 0")
        rate = "rate"
    lines += [
        f"optimizer = keras.optimizers.{network.optimizer}(learning_rate={rate})",
        f"loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits={logits})",
        'model.compile(optimizer=optimizer, loss=loss_fn, metrics=["accuracy"])',
        "optimizer.build(model.trainable_variables)",
        'print(f"Stage 5, Model training: {model.count_params():,} parameters")',
        "",
        "# The training loop, as pipetrace runs it: 16 batches per call into TensorFlow, each one",
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
        f"calls = [(s, min(s + BATCH_SIZE * {BATCHES_PER_CALL}, full)) for s in range(0, full, BATCH_SIZE * {BATCHES_PER_CALL})]",
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
    return Block("Model training", f"Build {network.architecture}, then train it", lines)


def _layer(layer) -> str:
    """A layer of the trace as the Keras call that builds it."""
    c, name = layer.config, f"name={layer.name!r}"
    act = f"activation={layer.activation!r}, " if layer.activation else ""
    if layer.kind == "Dense":
        return f"keras.layers.Dense({c.get('units', layer.units)}, {act}{name})"
    if layer.kind == "Conv2D":
        size = c.get("kernel_size", [3, 3])
        return f"keras.layers.Conv2D({c.get('filters', layer.units)}, {tuple(size)!r}, padding={c.get('padding', 'valid')!r}, {act}{name})"
    if layer.kind in ("MaxPooling2D", "AveragePooling2D"):
        return f"keras.layers.{layer.kind}({tuple(c.get('pool_size', [2, 2]))!r}, {name})"
    if layer.kind == "Dropout":
        return f"keras.layers.Dropout({c.get('rate', 0.0)!r}, {name})"
    if layer.kind == "Flatten":
        return f"keras.layers.Flatten({name})"
    raise SettingsError(f"code mode: cannot write a {layer.kind} layer; save your model and trace it with --model")


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


def data_location(trace: Trace) -> str:
    """What DATA points at: the IDX folder (pipetrace's bundled copy by default) or the .npz file."""
    s = trace.settings
    if s.dataset.strip().lower() == "digits":
        return ""
    if s.data_dir:
        return str(Path(s.data_dir).resolve())
    if s.dataset.strip().lower() == "mnist":
        from pipetrace.data.mnist import BUNDLED_DIR  # a path only; the script reads the files itself

        return str(BUNDLED_DIR.resolve())
    return str(Path(s.dataset).resolve())


def script(trace: Trace) -> str:
    """The whole script as text."""
    s = trace.settings
    body = blocks(trace)
    shapes = "; ".join(f"{stage.name} -> {' / '.join(' x '.join(map(str, a.shape)) for a in stage.outputs[:2])}"
                       for stage in trace.stages[:4])
    accuracy = trace.evaluation.test_accuracy
    location = data_location(trace)
    out = [
        "#!/usr/bin/env python3",
        '"""Reproduce a pipetrace run with plain TensorFlow/Keras: no pipetrace needed to run this file.',
        "",
        f"The run of {trace.created_at}: {trace.network.architecture} on {trace.dataset['name']},",
        f"{s.epochs} epochs, batch {s.batch_size}, {trace.network.optimizer} at {s.learning_rate:g} ({s.schedule}), seed {s.seed}.",
        f"Its trace says: {shapes}; test accuracy {accuracy:.4f}.",
        "",
        "Usage: python reproduce.py [DATA]" + ("   (DATA: the folder of the IDX files, or the .npz file)" if location else ""),
        'Written by `pipetrace learn code`."""',
        "",
        "import gzip  # noqa: F401  (IDX files are gzip-compressed)",
        "import os",
        "import sys",
        "",
        'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow\'s start-up messages quiet',
        "import numpy as np  # noqa: E402",
        "import keras  # noqa: E402  (Keras 3 on the TensorFlow backend)",
        "",
        "# The run's settings",
        f"SEED = {s.seed}",
        f"EPOCHS = {s.epochs}",
        f"BATCH_SIZE = {s.batch_size}",
        f"LEARNING_RATE = {s.learning_rate!r}",
        f"LIMIT = {s.limit!r}  # None: all the images",
        f"DATA = sys.argv[1] if len(sys.argv) > 1 else {location!r}",
        f"TRACE_TEST_ACCURACY = {accuracy!r}",
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
    trace, path = load_trace(args.trace)
    text = script(trace)
    if args.output == "-":
        print(text)
        return 0
    target = Path(args.output) if args.output else path.parent / "reproduce.py"
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"--output {target}: cannot write there ({error.strerror})") from error
    console.print(f"Wrote {target}: {len(text.splitlines())} lines of plain TensorFlow/Keras, one block per stage.")
    console.print(f"Run it with: python {target}   (expect test accuracy near {trace.evaluation.test_accuracy:.2%}, the trace's)")
    return 0
