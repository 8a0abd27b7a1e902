"""The Model Pipeline Trace in the terminal, section by section, drawn with rich.

Each function takes part of a Trace and returns rich renderables; `pipetrace run` prints
them as the run goes, `pipetrace show` prints `render_trace` of a saved trace.

>>> from rich.console import Console
>>> Console().print(*render_trace(trace))        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.bar import Bar
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from pipetrace.numbers import count, number, percent
from pipetrace.stages.measure import shape_text
from pipetrace.trace import Epoch, LayerTrace, Prediction, Question, Settings, Stage, Trace, Training
from pipetrace.views.chart import loss_chart
from pipetrace.views.digit import Digit, grey
from pipetrace.views.safe_text import literal, visible

LETTERS = "ABCDEFGHIJ"
SHADES = " ░▒▓█"


def render_trace(trace: Trace, answers: bool = True) -> Iterator[RenderableType]:
    """Every section, in the order a run prints them."""
    if not trace.stages:  # TraceCallback.to_trace: a fit of yours, its data stages never seen
        yield from render_recorded_fit_header(trace)
    else:
        yield render_header(trace.settings, trace.dataset["name"])
        yield section("Data Flow", f"{len(trace.stages)} Stages")
    seen: set[str] = set()
    for stage in trace.stages:
        yield from render_stage_explained(stage, seen)
    yield from render_results(trace, answers, seen)


def render_recorded_fit_header(trace: Trace) -> Iterator[RenderableType]:
    """A fit TraceCallback recorded: what it knows (no seed, no data stages), said as such."""
    from pipetrace.views.recorded_fit import STAGES_NOT_SEEN

    training, network = trace.training, trace.network
    batch = f"batch {training.batch_size}" if training.batch_size else "batch size unknown"
    yield Panel(Text.assemble(
        ("Model Pipeline Trace", "bold"), visible(f" - your model.fit on {trace.dataset['name']}"), "\n",
        visible(f"{network.architecture}, {network.optimizer_label} with learning rate {network.learning_rate:g} "
                f"({network.schedule}), {count(len(training.epochs), 'epoch')}, {batch}"),
    ), expand=False)
    yield section("Data Flow", "Not Recorded")
    yield Text(STAGES_NOT_SEEN)


def render_stage_explained(stage: Stage, seen: set[str]) -> Iterator[RenderableType]:
    """One stage, then the glossary's terms it uses first (a live run prints stages one by one, the same way)."""
    yield render_stage(stage)
    yield from _glossary([stage.did, stage.example], seen)


def render_results(trace: Trace, answers: bool = True, seen: set[str] | None = None) -> Iterator[RenderableType]:
    """What follows the data flow: training, prediction, quiz, insights, the run's facts.

    Each term of the glossary is explained under the section that first uses it (`seen`: those already explained).
    """
    seen = set() if seen is None else seen
    yield section("Training Trace", "Epoch by Epoch")
    yield render_training(trace.training)
    yield from _glossary(["Epoch Loss", f"batch of {trace.training.batch_size}",
                          *(e.observation for e in trace.training.epochs)], seen)
    yield section("Prediction Trace", f"{len(trace.prediction.layers)} Layers")
    yield render_prediction(trace.prediction, trace.dataset["class_names"], trace.dataset.get("pixel_max", 255.0))
    yield from _glossary([text for layer in trace.prediction.layers for text in (layer.name, layer.summary)], seen)
    if trace.stages or trace.quiz:  # a recorded fit has no quiz: its questions are about the data stages
        yield section("Model Quiz", f"{len(trace.quiz)} Questions")
        yield render_quiz(trace.quiz, answers)
        yield from _glossary([t for q in trace.quiz for t in [q.text, *q.options] + ([q.explanation] if answers else [])], seen)
    yield section("Key Insights", "")
    yield render_insights(trace)
    yield from _glossary([insight.text for insight in trace.insights], seen)
    yield render_run_facts(trace)


def _glossary(texts: list[str], seen: set[str]) -> Iterator[RenderableType]:
    """The glossary's terms these texts use for the first time (insights.glossary), one a line, dim."""
    from pipetrace.insights.glossary import first_uses

    entries = first_uses(texts, seen)
    if entries:
        yield Group(*(hanging(f"  {entry.term}:", entry.meaning, style="dim") for entry in entries))


def section(title: str, subtitle: str) -> Rule:
    return Rule(Text(f"{title} - {subtitle}" if subtitle else title, style="bold"), align="left")


def render_header(settings: Settings, dataset: str) -> RenderableType:
    schedule = "cosine-decayed " if settings.schedule == "cosine" else ""
    limit = f", first {settings.limit} training images" if settings.limit else ""
    optimizer = settings.optimizer + (f" (momentum {settings.momentum:g})" if settings.momentum else "")
    return Panel(
        Text.assemble(
            ("Model Pipeline Trace", "bold"),
            visible(f" - {'your model' if settings.model else 'first neural network'} on {dataset}{limit}"),
            "\n",  # the line break is the header's own; `visible` would show one from the trace as text
            visible(f"{_planned_network(settings)}, {optimizer} with {schedule}learning rate "
            f"{settings.learning_rate:g}, {count(settings.epochs, 'epoch')}, "
            f"batch {settings.batch_size}, seed {settings.seed}"),
        ),
        expand=False,
    )


def _planned_network(settings: Settings) -> str:
    """The network the settings ask for, before it is built (the trace's `network` has the real one)."""
    if settings.model:
        return f"the Keras model in {settings.model}"
    parts = ["Conv2D(16) -> MaxPool -> Conv2D(32) -> MaxPool -> Flatten"] if settings.conv else []
    for units in settings.hidden:
        parts.append(f"Dense({units}, {settings.activation})")
        if settings.dropout:
            parts.append(f"Dropout({settings.dropout:g})")
    return " -> ".join(parts + ["Dense(softmax)"])


# ---- Data flow ------------------------------------------------------------------------


def render_stage(stage: Stage) -> RenderableType:
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    facts.add_row("in", literal("; ".join(_array(a) for a in stage.inputs) or _files(stage)))
    facts.add_row("out", literal("; ".join(_array(a) for a in stage.outputs)))
    facts.add_row("did", literal(stage.did))
    facts.add_row("example", literal(stage.example))
    facts.add_row("time", f"{stage.seconds:.2f} s")
    extra = _stage_extra(stage)
    body = Group(facts, extra) if extra is not None else facts
    return Panel(body, title=literal(f"{stage.number} {stage.name}", style="bold"), title_align="left")


def _array(info) -> str:
    return f"{info.name} {shape_text(info.shape)} {info.dtype} [{info.min:.4g}, {info.max:.4g}]"


def _files(stage: Stage) -> str:
    files = stage.details.get("files", [])
    verified = all(f["verified"] for f in files) and files
    names = ", ".join(f["name"] for f in files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
    return f"{len(files)} file{'s' if len(files) != 1 else ''}: {names}" + (" (sha256 verified)" if verified else "")


def _stage_extra(stage: Stage) -> RenderableType | None:
    d = stage.details
    if stage.name == "Load":
        caption = Text(f"test image {d['sample_position'] - d['train_count']}, label '{d['sample_label']}'", style="dim")
        return Group(Text(""), Digit(grey(d["sample_image"]), d.get("pixel_max", 255.0)), caption)
    if stage.name == "Train/Test split":
        table = Table(box=None, padding=(0, 1), show_edge=False)
        table.add_column("label", style="dim")
        for name in d["class_names"]:
            table.add_column(literal(name), justify="right")
        table.add_column("total", justify="right")
        table.add_row("train", *map(str, d["train_counts"]), str(sum(d["train_counts"])))
        table.add_row("test", *map(str, d["test_counts"]), str(sum(d["test_counts"])))
        return table
    if stage.name == "Model training":
        table = Table(box=None, padding=(0, 1))
        for column in ("layer", "weights", "biases", "parameters"):
            table.add_column(column, justify="left" if column == "layer" else "right")
        for p in d["parameters"]:
            table.add_row(literal(p["layer"]), f"{p['weights']:,}", f"{p['biases']:,}", f"{p['params']:,}")
        table.add_row("total", "", "", f"{d['total_params']:,}", style="bold")
        return table
    return None


# ---- Training -------------------------------------------------------------------------


def render_training(training: Training) -> RenderableType:
    parts: list[RenderableType] = [EpochTable(training.epochs, training.start, training.train_measured_on)]
    if training.status != "completed":
        parts.append(Text(f"Training {training.status} after {len(training.epochs)} of {training.epochs_planned} epochs", style="bold red"))
    if training.restored_epoch == 0:
        parts.append(hanging("Note:", "the loss became NaN, so the untrained starting weights were put back: the "
                                       "prediction trace and the saved model show an untrained network", style="bold red"))
    elif training.restored_epoch is not None:
        parts.append(hanging("Note:", f"the loss became NaN, so the weights from the end of epoch {training.restored_epoch} "
                                       "were put back: the prediction trace and the saved model use those", style="bold red"))
    if training.start is not None or any(e.loss is not None for e in training.epochs):
        parts.append(Text("Loss per epoch", style="bold"))
        parts.append(loss_chart(training))
    return Group(*parts)


def hanging(marker: str, text: str, style: str = "") -> RenderableType:
    """`marker text` where wrapped lines continue under the text, not at column 0."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style=style)
    grid.add_column(style=style)
    grid.add_row(literal(marker), literal(text))
    return grid


class EpochTable:
    """Epoch | Train loss | Train accuracy | Test loss | Test accuracy | Time | Observation.

    Epoch 0 is the untrained network, measured before training. On a narrow terminal the
    observations move under the table, numbered by epoch, instead of being squeezed into a
    column a dozen characters wide; number cells are never cut (80 columns fit).
    """

    WIDE = 110

    def __init__(self, epochs: list[Epoch], start: Epoch | None = None, train_measured_on: int = 0):
        self.epochs = epochs
        self.start = start
        self.train_measured_on = train_measured_on

    @property
    def columns(self) -> tuple[str, ...]:
        train = ("Train loss", "Train accuracy") if self.train_measured_on else ("Loss (running)", "Accuracy (running)")
        return ("Epoch", *train, "Test loss", "Test accuracy", "Time", "Observation")

    def __rich_console__(self, console, options):
        wide = options.max_width >= self.WIDE
        rows = ([self.start] if self.start is not None else []) + list(self.epochs)
        cells = [epoch_cells(e) for e in rows]
        table = Table()
        for i, column in enumerate(self.columns if wide else self.columns[:-1]):
            if column == "Observation":
                table.add_column(column, justify="left")
            else:
                longest = max([len(row[i]) for row in cells] + [1])
                table.add_column(column, justify="right", no_wrap=False, min_width=longest, overflow="fold")
        for row in cells:
            table.add_row(*map(literal, row if wide else row[:-1]))
        yield table
        if self.train_measured_on:
            yield Text(f"Train: {self.train_measured_on:,} training images measured after each epoch the way the test "
                       "set is (weights fixed, dropout off if any). Epoch 0: the untrained network.", style="dim")
        else:
            yield Text("Loss and accuracy (running): the mean over each epoch while the weights were still changing "
                       "(dropout active, if any): not comparable with the test columns.", style="dim")
        if not wide:
            yield Text("Observation", style="bold")
            for e in rows:
                yield hanging(f"Epoch {e.epoch}:", e.observation)


def epoch_cells(e: Epoch) -> list[str]:
    return [
        str(e.epoch),
        _loss(e.loss),
        percent(e.accuracy) if e.accuracy is not None else "-",
        _loss(e.test_loss) if e.test_accuracy is not None else "-",
        percent(e.test_accuracy) if e.test_accuracy is not None else "-",
        f"{e.seconds:.1f} s",
        e.observation,
    ]


def _loss(value: float | None) -> str:
    """A loss of None was not a finite number (the run diverged)."""
    return "NaN" if value is None else number(value, 4)


# ---- Prediction -----------------------------------------------------------------------


def render_prediction(prediction: Prediction, class_names: list[str], pixel_max: float = 255.0) -> RenderableType:
    panels = []
    for position, layer in enumerate(prediction.layers, start=1):
        body: list[RenderableType] = [literal(layer.summary)]
        extra = _layer_extra(layer, prediction, class_names, pixel_max)
        if extra is not None:
            body.append(extra)
        panels.append(Panel(Group(*body), title=Text.assemble(literal(f"Layer {position}: {layer.name}", style="bold"), f" {shape_text(layer.shape)}"), title_align="left"))
    return Group(*panels)


def _layer_extra(layer: LayerTrace, prediction: Prediction, class_names: list[str], pixel_max: float) -> RenderableType | None:
    if layer.name == "Input":
        return Digit(grey(prediction.image), pixel_max)
    if "fired" in layer.details and layer.values:
        return _activation_grid(layer.values)
    if layer.name.startswith("Output") and getattr(prediction, "output", "softmax") == "value":
        return None  # real values, not probabilities: the summary says them, no 0..1 bars
    if layer.name.startswith("Output"):
        if getattr(prediction, "output", "softmax").startswith("sigmoid") and len(layer.values) == 1:
            class_names = [f"P({class_names[1] if len(class_names) > 1 else 'class 1'})"]
        table = Table.grid(padding=(0, 1))
        table.add_column(justify="right")
        table.add_column(width=40)
        table.add_column(justify="right")
        best = max(range(len(layer.values)), key=lambda i: layer.values[i])
        for i, p in enumerate(layer.values):
            style = "bold green" if i == best else ""
            table.add_row(literal(class_names[i], style=style), Bar(1.0, 0, p, width=40), Text(number(p, 4), style=style))
        return table
    return None


def _activation_grid(values: list[float], per_row: int = 32) -> RenderableType:
    """All hidden activations at a glance: one shade per neuron, darkest = 0, full = the strongest."""
    top = max(values) or 1.0
    lines = []
    for start in range(0, len(values), per_row):
        chunk = values[start : start + per_row]
        shades = "".join(SHADES[0] if v <= 0 else SHADES[min(len(SHADES) - 1, 1 + int(v / top * (len(SHADES) - 1)))] for v in chunk)
        lines.append(f"{start:>4} |{shades}|")
    negative = [v for v in values if v < 0]
    low = (f"' ' = 0 or below ({len(negative)} outputs, down to {min(negative):.2f})" if negative
           else "' ' = 0 (not fired)" if any(v == 0 for v in values) else "' ' = 0 or below (none here)")
    legend = f"     {low} ... '█' = {top:.2f} (strongest)"
    return Text("\n".join(lines + [legend]))


# ---- Quiz and insights ----------------------------------------------------------------


def render_quiz(quiz: list[Question], answers: bool = True) -> RenderableType:
    parts: list[RenderableType] = []
    for position, q in enumerate(quiz, start=1):
        parts.append(hanging(f"{position}.", q.text, style="bold"))
        for letter, option in zip(LETTERS, q.options):
            parts.append(hanging(f"   {letter} ", option))
    if answers:
        parts.append(Text("\nAnswers", style="bold"))
        for position, q in enumerate(quiz, start=1):
            parts.append(hanging(f"{position}.", f"{LETTERS[q.answer]}  {q.options[q.answer]}: {q.explanation}"))
    else:
        parts.append(Text("\n(answers hidden: run `pipetrace show TRACE` to see them)", style="dim"))
    return Group(*parts)


def render_insights(trace: Trace) -> RenderableType:
    return Group(*(hanging("-", insight.text) for insight in trace.insights))


def render_run_facts(trace: Trace) -> RenderableType:
    env = trace.environment
    versions = visible(", ".join(f"{k} {v}" for k, v in env.items() if k not in ("platform", "device", "backend")))
    timings = visible(", ".join(f"{k} {v:.2f} s" for k, v in trace.timings.items()))
    run = visible(f"Run {trace.created_at}, status {trace.status}, on {env.get('device', '?')} ({env.get('platform', '?')})")
    return Text(
        f"\n{run}\n"
        f"Times: {timings}\nVersions: {versions}",
        style="dim",
    )
