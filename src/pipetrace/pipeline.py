"""The pipeline, top to bottom: data in, five stages, training, probe, insights -> one Trace.

>>> import pipetrace
>>> trace = pipetrace.run(epochs=1, limit=600)        # doctest: +SKIP
>>> trace.stages[2].outputs[0].shape                  # doctest: +SKIP
[700, 784]
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import os
import platform
import threading
import time
from pathlib import Path

from pipetrace import __version__
from pipetrace.data import Dataset
from pipetrace.errors import PipetraceError, SettingsError
from pipetrace.files import check_writable, claimed_folder, private_folder, remove_leftovers
from pipetrace.insights import build_quiz, key_insights, quiz_pool
from pipetrace.interrupts import InterruptHold, pause_point
from pipetrace.budgets import check_cost, estimate
from pipetrace.options import check_against_data, check_settings, limited_test_count
from pipetrace.probe import choose_samples, evaluation_from_probabilities, model_outputs, trace_predictions
from pipetrace.stages import load, preprocess, shape_for_model, split, training_stage
from pipetrace.trace import LayerWeights, PackedArray, Settings, Trace
from pipetrace.training import backend
from pipetrace.training import fit as training
from pipetrace.training import network as network_lib
from pipetrace.training.output_kind import activation_name, output_kind


class Observer:
    """What a live view may follow while a run happens; every method is optional (no-op here)."""

    def on_start(self, settings: Settings, dataset: dict) -> None: ...
    def on_stage(self, stage) -> None: ...
    def on_training_start(self, epochs: int, steps_per_epoch: int) -> None: ...
    def on_model(self, model) -> None: ...  # the compiled network, just before it trains (a live view may probe it)
    def on_batch(self, step: int) -> None: ...
    def on_batch_losses(self, losses: list[float]) -> None: ...  # the batches just trained, before on_batch
    def batches_next(self) -> int | None: ...  # at most this many batches before the next on_batch (None: as many as fast)
    def on_epoch(self, epoch) -> None: ...
    def on_training_end(self, training) -> None: ...


def run(settings: Settings | None = None, *, model=None, data: Dataset | None = None,
        out: str | Path | None = None, observer: Observer | None = None, force: bool = False,
        record: bool = True, tensorboard: str | Path | None = None, verbose="auto", **overrides) -> Trace:
    """Run the whole pipeline and return its Trace; with `out`, also save trace.json, model.keras, report.html.

    Settings can be given as a `Settings` or as keyword arguments (epochs=3, hidden=[256, 128],
    conv=True, dataset="digits", ...). `model` may be a Keras model (Sequential or functional,
    built or loaded in Python) or the path of a .keras file; `data` a `pipetrace.data.Dataset`.
    `verbose` as in `model.fit`: "auto" or 1 shows progress as it trains (stages, a bar and a line
    per epoch, in a terminal or a notebook), 2 one line per epoch, 0 nothing; "auto" is silent
    when you pass an `observer` of your own (see pipetrace.views.progress).
    """
    given_model = None
    if model is not None and not isinstance(model, (str, Path)):
        given_model, overrides["model"] = model, f"{model.name} (a Keras model given in Python)"
    elif model is not None:
        overrides["model"] = str(model)
    asked = str(overrides.get("dataset", settings.dataset if settings is not None else "")).strip().lower()
    if data is not None and asked != data.name.strip().lower():  # a dataset asked for by name keeps that name
        overrides["dataset"] = data.name
    settings = check_settings(dataclasses.replace(settings or Settings(), **overrides))
    backend.require_installed()  # before the data is read: a missing TensorFlow is said first
    if given_model is None and settings.model and not Path(settings.model).is_file():  # so is a missing --model file
        raise SettingsError(f"--model {settings.model}: no such file")
    from pipetrace.views.progress import run_observer

    observer = run_observer(observer, verbose)  # checked here, before anything is loaded
    hold = InterruptHold()  # from the end of training until saved, Ctrl-C and SIGTERM wait (see interrupts.py)
    with contextlib.ExitStack() as claimed:
        out_dir = claimed.enter_context(_claimed_out(Path(out), force)) if out is not None else None
        try:
            return _run(settings, given_model, data, out_dir, observer, record, tensorboard, hold)
        finally:
            hold.release()


def _run(settings: Settings, given_model, data: Dataset | None, out_dir: Path | None, observer: Observer,
         record: bool, tensorboard, hold: InterruptHold) -> Trace:
    timings: dict[str, float] = {}
    started = time.perf_counter()

    keras_import = training.import_keras_in_background()  # ~3 s of imports overlap the data stages
    read_started = time.perf_counter()
    dataset = _limited(data or _load_data(settings), settings.limit)
    check_against_data(settings, len(dataset.x_train), len(dataset.x_test))
    if given_model is None and not settings.model:  # the network's cost, before a batch is trained (budgets.py)
        check_cost(estimate(settings.hidden, inputs=math.prod(dataset.x_train.shape[1:]), classes=len(dataset.class_names),
                            train_images=len(dataset.x_train), epochs=settings.epochs, batch_size=settings.batch_size,
                            conv=settings.conv, shape=tuple(dataset.x_train.shape[1:])))
    dataset, held_out = _held_out(dataset, settings.validation)  # validation images: never trained on
    read_seconds = time.perf_counter() - read_started

    described, train_count = _describe(dataset), len(dataset.x_train)
    observer.on_start(settings, described)
    images, labels, stage1 = load(dataset, settings.sample, read_seconds)
    observer.on_stage(stage1)
    # `images` now holds every image; keep only the raw test images (for pictures), free the rest
    dataset = dataclasses.replace(dataset, x_train=dataset.x_train[:0], y_train=dataset.y_train[:0])
    position = stage1.details["sample_position"]
    scaled, stage2 = preprocess(images, position, dataset.pixel_max)
    del images
    observer.on_stage(stage2)

    loaded = given_model
    if settings.model and loaded is None:  # a model of yours decides the shape of stage 3, so Keras must load it now
        keras_import.result()
        loaded = network_lib.load_network(settings.model)
    if loaded is not None:  # before any work: a model pipetrace cannot follow is refused in one line
        network_lib.check_traceable(loaded, f"model {settings.model}")
    images_in = network_lib.takes_images(loaded) if loaded is not None else network_lib.wants_images(settings)
    channels = network_lib.takes_channel_axis(loaded) if loaded is not None else True
    mid = stage2.details["examples"][-1]
    vectors, stage3 = shape_for_model(scaled, position, (mid["row"], mid["col"]), images_in, channels)
    observer.on_stage(stage3)
    data, stage4 = split(vectors, labels, train_count, settings.sample, dataset.class_names, dataset.split)
    observer.on_stage(stage4)
    x_train, y_train, x_test, y_test = data
    for stage in (stage1, stage2, stage3, stage4):
        timings[stage.name] = stage.seconds
    t = time.perf_counter()
    keras = keras_import.result()
    timings["waiting for Keras to import"] = time.perf_counter() - t
    if out_dir is not None:  # the report's charts need matplotlib: import it while the network trains
        threading.Thread(target=_import_report_libraries, daemon=True).start()

    training.seed_everything(settings.seed)
    steps = -(-len(x_train) // settings.batch_size)
    model = loaded or network_lib.build_network(settings, x_train.shape[1:], dataset.num_classes)
    network_lib.check_fits(model, x_train.shape[1:], dataset.num_classes, f"model {settings.model}" if loaded else "the network")
    network_lib.compile_network(model, settings, steps * settings.epochs)
    network = network_lib.describe_network(model, settings)
    _check_probe(model, x_test, y_test, dataset.class_names)  # what runs after training is tried before it
    if hasattr(observer, "on_model"):  # observers written before it lack it
        observer.on_model(model)
    observer.on_training_start(settings.epochs, steps)
    trained = training.fit(model, data, settings, dataset.num_classes, observer.on_batch, observer.on_epoch, record,
                           on_losses=getattr(observer, "on_batch_losses", None),  # observers written before it lack it
                           batches_next=getattr(observer, "batches_next", None),
                           class_names=dataset.class_names)
    observer.on_training_end(trained)
    if out_dir is not None:
        hold.start()  # what was trained is saved whole before an interrupt acts
    stage5 = training_stage(x_train, model, network, trained)
    timings["Model training"] = trained.seconds

    t = time.perf_counter()
    outputs, kind = model_outputs(model, x_test), output_kind(model)
    probabilities = kind.probabilities(outputs)
    evaluation = evaluation_from_probabilities(probabilities, y_test, dataset.num_classes, dataset.x_test,
                                               losses=kind.class_losses(outputs, y_test))  # as Keras computes it
    evaluation.test_loss = _measured_test_loss(trained, evaluation.test_loss)  # one test loss: the epoch table's
    if held_out is not None:
        _validate(evaluation, model, held_out, dataset.pixel_max, x_train.shape[1:])
    timings["evaluation"] = time.perf_counter() - t
    t = time.perf_counter()
    chosen = choose_samples(probabilities, y_test, settings.sample)  # the followed image first
    samples = trace_predictions(model, x_test[chosen], [int(y_test[i]) for i in chosen], chosen,
                                dataset.x_test[chosen], dataset.class_names)
    prediction = samples[0]
    timings["prediction"] = time.perf_counter() - t

    trace = Trace(
        settings=settings,
        dataset=described,
        stages=[stage1, stage2, stage3, stage4, stage5],
        network=network,
        training=trained,
        evaluation=evaluation,
        prediction=prediction,
        quiz=[],
        insights=[],
        environment=_environment(keras),
        timings=timings,
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        status=trained.status,
        weights=_weights(model),
        samples=samples,
    )
    # --questions asks for up to that many: a run yields as many as its numbers answer (known only now, after
    # training), and a run is never lost for asking more (the lab's `questions: 25` once failed here)
    trace.quiz = build_quiz(trace, min(settings.questions, len(quiz_pool(trace))), settings.seed)
    trace.insights = key_insights(trace)
    trace.model = model  # the trained Keras model, as keras' History.model: not part of trace.json
    timings["total"] = time.perf_counter() - started
    if out_dir is not None:
        save_run(trace, model, out_dir)
        hold.release()
    if tensorboard is not None:
        from pipetrace.views.tensorboard import write_tensorboard

        write_tensorboard(trace, model, tensorboard)
    return trace


def _check_probe(model, x_test, y_test, class_names) -> None:
    """Follow one test image through the untrained model, so a model the probe cannot follow fails before training."""
    try:
        trace_predictions(model, x_test[:1], [int(y_test[0])], [0], None, class_names)
    except PipetraceError:
        raise
    except Exception as error:  # any model Keras builds: the learner needs one line, not a lost run
        raise SettingsError(f"model {model.name}: pipetrace cannot follow an input through it "
                            f"({type(error).__name__}: {error})") from error


def save_run(trace: Trace, model, out_dir: Path) -> None:
    """model.keras, report.html and trace.json: written in a private folder inside `out_dir`, then renamed into place.

    An earlier trace.json is removed before anything is replaced and the new one is renamed in
    last, so whenever the folder holds a trace.json, the model and report beside it are that
    trace's. Nothing is ever written through a name planted in `out_dir` (see pipetrace.files).
    """
    from pipetrace.views.html import write_report

    try:
        with private_folder(out_dir) as staging:
            model.save(staging / "model.keras")
            write_report(trace, staging / "report.html")
            trace.save(staging / "trace.json")
            pause_point("saving: files written")
            (out_dir / "trace.json").unlink(missing_ok=True)
            os.replace(staging / "model.keras", out_dir / "model.keras")
            pause_point("saving: model in place")
            os.replace(staging / "report.html", out_dir / "report.html")
            os.replace(staging / "trace.json", out_dir / "trace.json")
    except OSError as error:
        raise PipetraceError(f"could not save the run in {out_dir}: {error.strerror or error}") from error


def _weights(model) -> list[LayerWeights]:
    """Every Dense layer's kernel and bias, packed, so the HTML report can run the network in JavaScript.

    Dropout is skipped (it does nothing at prediction time). A network with any other kind of
    layer gets no weights: the page's forward pass knows Dense layers only, and says so.
    """
    packed = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dropout":
            continue
        parts = layer.get_weights()
        if kind != "Dense" or len(parts) != 2:
            return []
        kernel, bias = parts
        packed.append(LayerWeights(layer.name, activation_name(layer.activation), PackedArray.pack(kernel), PackedArray.pack(bias)))
    return packed


@contextlib.contextmanager
def _claimed_out(out_dir: Path, force: bool):
    """`out_dir`, made if need be and locked for this run (pipetrace.files.claimed_folder) while the block runs.

    A second run into the same folder meanwhile is refused before it trains. A folder this run
    made and left with nothing saved in it is removed again.
    """
    what = f"--out {out_dir}"
    if out_dir.exists() and not out_dir.is_dir():
        raise PipetraceError(f"{what}: exists and is not a folder")
    _refuse_earlier_run(out_dir, force)
    made = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        check_writable(out_dir)
    except OSError as error:
        raise PipetraceError(f"{what}: cannot write there ({error.strerror or error})") from error
    try:
        with claimed_folder(out_dir, what):
            _refuse_earlier_run(out_dir, force)  # a run that finished there just before this one claimed it
            remove_leftovers(out_dir)
            yield out_dir
    finally:
        if made:
            with contextlib.suppress(OSError):  # not empty (saved, or another run's lock): it stays
                out_dir.rmdir()  # a run that stopped before saving leaves no folder behind


def _refuse_earlier_run(out_dir: Path, force: bool) -> None:
    if not force and (out_dir / "trace.json").exists():
        raise PipetraceError(f"--out {out_dir}: already holds a run; choose another folder or add --force")


def _import_report_libraries() -> None:
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401


def _load_data(settings: Settings) -> Dataset:
    from pipetrace.data import load_dataset

    return load_dataset(settings.dataset, data_dir=settings.data_dir, image_size=tuple(settings.image_size), seed=settings.seed)


def _limited(dataset: Dataset, limit: int | None) -> Dataset:
    """The first `limit` training and `limit // 6` test images (for quick runs and tests)."""
    test = limited_test_count(limit, len(dataset.x_train), len(dataset.x_test))
    if limit is None or limit > len(dataset.x_train):
        return dataset  # a limit too large is reported by check_against_data with the real count
    return dataclasses.replace(
        dataset,
        x_train=dataset.x_train[:limit], y_train=dataset.y_train[:limit],
        x_test=dataset.x_test[:test], y_test=dataset.y_test[:test],
        source=f"{dataset.source}, first {limit} training and {test} test images (--limit)",
    )


def _held_out(dataset: Dataset, fraction: float) -> tuple[Dataset, tuple | None]:
    """Hold out the last `fraction` of the training images (where Keras' validation_split cuts) to choose between runs."""
    if not fraction:
        return dataset, None
    count = len(dataset.x_train)
    keep = int(math.floor(count * (1.0 - fraction)))  # the cut model.fit(validation_split=fraction) makes
    if not 0 < fraction < 1 or not 0 < keep < count:
        raise PipetraceError(f"validation {fraction!r}: must hold out at least one of the {count} training images and keep one")
    part = (dataset.x_train[keep:], dataset.y_train[keep:])
    return dataclasses.replace(
        dataset, x_train=dataset.x_train[:keep], y_train=dataset.y_train[:keep],
        split=f"{dataset.split}; the last {count - keep} training images held out for validation (never trained on)",
    ), part


def _measured_test_loss(trained, fallback: float | None) -> float | None:
    """The test loss the training loop measured for the weights the model now holds (what model.evaluate computes:
    Keras' loss from the scores before softmax, unclipped), so the epoch table and the evaluation agree."""
    if trained.restored_epoch == 0:
        kept = trained.start
    elif trained.restored_epoch is not None:
        kept = next((e for e in trained.epochs if e.epoch == trained.restored_epoch), None)
    else:
        kept = trained.epochs[-1] if trained.epochs else trained.start
    if kept is None:
        return fallback
    return kept.test_loss


def _validate(evaluation, model, held_out: tuple, pixel_max: float, input_shape: tuple) -> None:
    """Loss and accuracy on the held-out images, prepared as the stages prepare the training images."""
    import numpy as np

    images, labels = held_out
    x = (images.astype("float32") / np.float32(pixel_max)).reshape((len(images), *input_shape))
    outputs, kind = model_outputs(model, x), output_kind(model)
    probabilities = kind.probabilities(outputs)
    loss = float(kind.class_losses(outputs, labels).mean())
    evaluation.validation_loss = loss if math.isfinite(loss) else None  # None: not a number (a diverged run)
    evaluation.validation_accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    evaluation.validation_count = len(labels)


def _describe(dataset: Dataset) -> dict:
    return {
        "name": dataset.name,
        "source": dataset.source,
        "class_names": dataset.class_names,
        "train_count": len(dataset.x_train),
        "test_count": len(dataset.x_test),
        "image_shape": list(dataset.image_shape),
        "pixel_max": float(dataset.pixel_max),
        "split": dataset.split,
    }


def _environment(keras) -> dict[str, str]:
    import numpy

    backend = keras.backend.backend()
    env = {
        "pipetrace": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "numpy": numpy.__version__,
        "keras": keras.__version__,
        "backend": backend,
    }
    if backend == "tensorflow":
        import tensorflow as tf

        env["tensorflow"] = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        env["device"] = f"GPU ({len(gpus)})" if gpus else "CPU"
    return env
