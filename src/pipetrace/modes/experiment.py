"""Mode `experiment`: what if? Train a few variants that differ in one setting, and compare them.

The one mode that trains. `--vary hidden=32,128,512` (or learning-rate=, epochs=,
batch-size=, momentum= for SGD) starts from the settings of a run (the latest, or the one named; pipetrace's
defaults when there is none), changes that one setting per variant, runs the whole pipeline
for each with `pipetrace.run`, saves each variant's run (trace.json, model.keras,
report.html) and shows them side by side, with an observation computed from the results.

Choosing among variants by their test accuracy would tune them to the test set, and its number
would no longer say how the chosen one does on new images. So every variant holds out the last
10% of its training images (where Keras' `validation_split` cuts; never trained on), the best is
chosen by its accuracy on those, and the test accuracy is reported afterwards, not used to choose.

By default the variants train here, one after another (for small experiments that is as quick as a
one-worker cluster: the cluster's start-up costs what the saved imports gain). `--workers N` trains
them in parallel on N local Dask worker processes, `--cluster ADDRESS` on an existing scheduler: the
lab's cluster (`lab.runner.start_cluster`) and warm workers (`lab.worker.train_variant`). The same
seed gives the same numbers either way.

>>> parse_vary("hidden=32,256-128")
('hidden', [[32], [256, 128]])
>>> parse_vary("learning-rate=0.001,0.01")
('learning_rate', [0.001, 0.01])
>>> parse_vary("momentum=0,0.9")
('momentum', [0.0, 0.9])
"""

from __future__ import annotations

import dataclasses
import datetime
import secrets
from pathlib import Path

from rich.table import Column, Table
from rich.text import Text

from pipetrace.errors import SettingsError, TraceFileError
from pipetrace.modes.locate import load_trace, refuse_recorded_fit, runs_folder
from pipetrace.numbers import number, percent, points
from pipetrace.trace import Settings, Trace

VALIDATION = 0.1  # the last 10% of each variant's training images: what the choice is made on
WORKER_WAIT_SECONDS = 60  # how long a scheduler may have no worker before the experiment gives up
SETTINGS = {"hidden": "hidden", "learning-rate": "learning_rate", "epochs": "epochs", "batch-size": "batch_size",
            "momentum": "momentum"}


def parse_vary(text: str) -> tuple[str, list]:
    """'hidden=32,128' -> ('hidden', [[32], [128]]): the setting and its values, checked."""
    key, sep, values = text.partition("=")
    key = key.strip().replace("_", "-")
    if not sep or key not in SETTINGS or not values.strip():
        raise SettingsError(f"--vary {text!r}: expected SETTING=V1,V2,... with SETTING one of {', '.join(SETTINGS)}")
    out = []
    for part in values.split(","):
        part = part.strip()
        try:
            if key == "hidden":
                out.append([int(n) for n in part.split("-")])
            elif key in ("learning-rate", "momentum"):
                out.append(float(part))
            else:
                out.append(int(part))
        except ValueError:
            raise SettingsError(f"--vary {text!r}: {part!r} is not a valid value for {key}") from None
    if len(out) < 2:
        raise SettingsError(f"--vary {text!r}: give at least two values to compare, separated by commas")
    return SETTINGS[key], out


def label(setting: str, value) -> str:
    shown = "-".join(map(str, value)) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) else str(value)
    return f"{setting.replace('_', '-')}={shown}"


def base_settings(given: str | None) -> tuple[Settings, str]:
    """The settings to vary from: a named run's, else the latest run's, else the defaults."""
    try:
        trace, path = load_trace(given)
        refuse_recorded_fit(trace, "experiment")  # its settings are not pipetrace run's: nothing to vary from
        return trace.settings, f"the settings of {path}"
    except TraceFileError:
        if given is not None:
            raise
        return Settings(), "pipetrace's default settings (no run found)"


def curves_chart(traces: dict[str, Trace], width: int = 70, height: int = 16) -> Text:
    """Training loss per epoch, one line per trace, in the terminal (plotext)."""
    import plotext as plt

    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    markers = "*+ox#@%&"
    epochs: set[int] = set()
    for n, (name, trace) in enumerate(traces.items()):
        points = [(e.epoch, e.loss) for e in trace.training.epochs if e.loss is not None]
        if points:
            epochs |= {x for x, _ in points}
            plt.plot([x for x, _ in points], [y for _, y in points], marker=markers[n % len(markers)], label=f"{name} loss")
    if epochs:
        plt.xticks(sorted(epochs))
    plt.xlabel("epoch")
    chart = plt.uncolorize(plt.build())
    plt.clear_figure()
    return Text(chart)


def validation_accuracy(trace: Trace) -> float:
    """What the choice is made on: accuracy on the held-out training images (never trained on)."""
    value = trace.evaluation.validation_accuracy
    if value is None:
        raise SettingsError("experiment: a variant has no validation accuracy (it held no training images out)")
    return value


def chosen(runs: list[tuple[str, object, Trace]]) -> str:
    """The variant with the best validation accuracy (the first of equals): the test set plays no part."""
    return max(runs, key=lambda run: validation_accuracy(run[2]))[0]


def observation(setting: str, runs: list[tuple[str, object, Trace]]) -> list[str]:
    """What changed and why, from the variants' numbers (rules, not canned results)."""
    val = {name: validation_accuracy(t) for name, _, t in runs}
    test = {name: t.evaluation.test_accuracy for name, _, t in runs}
    held = runs[0][2].evaluation.validation_count
    best, worst = chosen(runs), min(val, key=val.get)
    lines = [f"Chosen on validation accuracy (the last {percent(VALIDATION, 0)} of the training images, {held:,} "
             f"images, held out from training): {best} with {percent(val[best])}; lowest: {worst} with "
             f"{percent(val[worst])} ({points(val[best] - val[worst])} apart).",
             f"Test accuracy of the chosen one, reported, not used to choose: {percent(test[best])}. The test set "
             "was kept out of the choice, so this number still tells how it does on new images."]
    ranked = sorted(val.values(), reverse=True)
    noise = 2 * max(val[best] * (1 - val[best]), 1 / held) ** 0.5 / held ** 0.5  # two standard errors of a rate
    if ranked[0] - ranked[1] < noise:
        lines.append(f"The chosen one leads the next by {points(ranked[0] - ranked[1])}, within the noise of {held:,} "
                     f"validation images (about {points(noise)}, two standard errors): it may be chance; a larger "
                     "--limit gives a firmer answer.")
    failed = [name for name, _, t in runs if t.status != "completed"]
    if failed:
        lines.append(f"{', '.join(failed)} did not complete ({', '.join(t.status for n, _, t in runs if n in failed)}): "
                     "a step too large can make the loss blow up.")
    spread = difference_noise(val[best], val[worst], held)
    if val[best] - val[worst] <= spread:
        lines.append(f"All variants lie within {points(val[best] - val[worst])} of each other, inside the noise of "
                     f"{held:,} validation images (about {points(spread)}, two standard errors of a difference): this "
                     f"experiment cannot tell whether {setting} matters here; a larger --limit would.")
        return lines
    runs = sorted(runs, key=lambda run: _order(setting, run))  # by value, whatever order they were listed in
    first, last = runs[0], runs[-1]
    if setting == "hidden":
        pa, pb = first[2].network.total_params, last[2].network.total_params
        gain = val[last[0]] - val[first[0]]
        apart = difference_noise(val[last[0]], val[first[0]], held)
        verdict = ("more neurons gave more capacity, and it was used." if gain > apart else
                   "the larger network did worse by more than the noise: it may need more epochs, or it over-fits."
                   if gain < -apart else
                   f"a difference within the noise (about {points(apart)}): the extra capacity bought nothing measurable "
                   "here; the data or the training time limits it, not the network's size.")
        lines.append(f"{last[0]} has {pb / pa:.1f} times the parameters of {first[0]} ({pb:,} against {pa:,}) and "
                     f"{'gained' if gain >= 0 else 'lost'} {points(abs(gain))} of validation accuracy: " + verdict)
    elif setting == "learning_rate":
        losses = {name: t.training.epochs[-1].loss for name, _, t in runs if t.training.epochs}
        lines.append("Final training loss by rate: " + ", ".join(f"{n}: {number(v, 4)}" for n, v in losses.items())
                     + ". Too small a rate crawls (little progress in the same epochs); too large overshoots and bounces.")
    elif setting == "epochs":
        losses = {name: t.evaluation.validation_loss for name, _, t in runs}
        lines.append("More passes lower the training loss; the validation loss shows whether the rest was learning or "
                     "memorizing (it turns up when the network starts memorizing): "
                     + ", ".join(f"{n}: {number(v, 4)}" for n, v in losses.items()) + ".")
    elif setting == "momentum":
        losses = {name: t.training.epochs[-1].loss for name, _, t in runs if t.training.epochs}
        lines.append("Final training loss by momentum: " + ", ".join(f"{n}: {number(v, 4)}" for n, v in losses.items())
                     + ". With momentum m the steps along a steady slope build up to 1 / (1 - m) times the plain step "
                     "(10 times for 0.9), so more momentum acts like a larger learning rate.")
    elif setting == "batch_size":
        lines.append("Smaller batches mean more (noisier) updates per epoch: "
                     + ", ".join(f"{n}: {t.training.steps_per_epoch} updates, {t.training.seconds:.1f} s" for n, _, t in runs) + ".")
    return lines


def difference_noise(a: float, b: float, count: int) -> float:
    """Two standard errors of the difference of two accuracies, each measured on `count` images."""
    return 2 * ((max(a * (1 - a), 1 / count) + max(b * (1 - b), 1 / count)) / count) ** 0.5


def _order(setting: str, run) -> float:
    """Where a variant sits along the setting: its parameter count for `hidden`, else its value."""
    name, value, trace = run
    if setting == "hidden":
        return trace.network.total_params
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def variant_settings(base: Settings, setting: str, value) -> Settings:
    return dataclasses.replace(base, **{setting: value}, validation=VALIDATION, questions=min(base.questions, 3))


def result_line(trace: Trace) -> str:
    return (f"validation accuracy {percent(validation_accuracy(trace))}, test accuracy "
            f"{percent(trace.evaluation.test_accuracy)} (reported only), in {trace.training.seconds:.1f} s")


def run_experiment(base: Settings, setting: str, values: list, out: Path, console) -> list[tuple[str, object, Trace]]:
    """Train one variant per value in this process, one after another, each saved under out/<setting>=<value>/."""
    import pipetrace

    runs = []
    for n, value in enumerate(values, start=1):
        name = label(setting, value)
        console.print(f"Variant {n} of {len(values)}: {name} ...", end="", markup=False)
        console.file.flush()
        trace = pipetrace.run(variant_settings(base, setting, value), out=out / name, force=True, verbose=0)
        console.print(f" {result_line(trace)}", markup=False, soft_wrap=True)
        runs.append((name, value, trace))
    return runs


def run_on_cluster(base: Settings, setting: str, values: list, out: Path, console, *, workers: int | None = None,
                   address: str | None = None) -> list[tuple[str, object, Trace]]:
    """Train the variants in parallel on the lab's kind of Dask cluster: `workers` local warm worker processes
    (`lab.runner.start_cluster`), or the scheduler at `address`; each saved under out/<setting>=<value>/.

    A line per variant as it finishes; the results come back in the order of `values`.
    """
    from distributed import as_completed

    from pipetrace.lab.runner import start_cluster
    from pipetrace.lab.worker import train_variant

    client, cluster = start_cluster(workers or 1, address)
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except TimeoutError:
            raise SettingsError(f"--cluster {address}: no Dask worker joined that scheduler within "
                                f"{WORKER_WAIT_SECONDS} s (start one with: dask worker {address})") from None
        if address:
            console.print(f"Training the {len(values)} variants in parallel on the Dask cluster at {address} ...", markup=False)
        elif workers > 1:
            console.print(f"Training the {len(values)} variants in parallel on {workers} local worker processes ...", markup=False)
        else:
            console.print(f"Training the {len(values)} variants one after another on 1 local worker process ...", markup=False)
        names = [label(setting, value) for value in values]
        futures = {client.submit(train_variant, dataclasses.asdict(variant_settings(base, setting, value)),
                                 str((out / name).resolve()), key=f"pipetrace-variant-{secrets.token_hex(4)}-{name}",
                                 pure=False): name for name, value in zip(names, values)}
        traces: dict[str, Trace] = {}
        for future in as_completed(futures):
            name = futures[future]
            traces[name] = future.result()
            console.print(f"Variant {names.index(name) + 1} of {len(values)}: {name}: {result_line(traces[name])}",
                          markup=False, soft_wrap=True)
        return [(name, value, traces[name]) for name, value in zip(names, values)]
    finally:
        client.close(timeout=5)
        if cluster is not None:
            cluster.close(timeout=5)


def render(setting: str, runs, out: Path):
    from rich.console import Group

    best = chosen(runs)
    # Fits 80 columns: the setting is named once, in the first column's header, and rows give its value;
    # no rules (two spaces between columns); numbers right-aligned.
    prefix = f"{setting.replace('_', '-')}="
    table = Table(Column(prefix.rstrip("="), no_wrap=True), *(Column(header, justify="right") for header in (
                  "validation\naccuracy", "test\naccuracy", "final\ntrain\nloss", "validation\nloss", "parameters",
                  "training\ntime")),
                  box=None, pad_edge=False, header_style="bold", caption="* chosen on validation accuracy (test accuracy: reported, not used to choose)")
    for name, _, t in runs:
        last = t.training.epochs[-1] if t.training.epochs else None
        shown = name[len(prefix):] if name.startswith(prefix) else name
        table.add_row(Text(shown + (" *" if name == best else "")), percent(validation_accuracy(t)),
                      percent(t.evaluation.test_accuracy), number(None if last is None else last.loss, 4),
                      number(t.evaluation.validation_loss, 4), f"{t.network.total_params:,}", f"{t.training.seconds:.1f} s")
    chart = curves_chart({name: t for name, _, t in runs})
    return Group(table, Text("Training loss per epoch", style="bold"), chart,
                 Text("Observation", style="bold"), Text("\n".join(observation(setting, runs))))


def main(args, console) -> int:
    setting, values = parse_vary(args.vary)
    workers, address = getattr(args, "workers", None), getattr(args, "cluster", None)
    if workers is not None and workers < 1:
        raise SettingsError(f"--workers must be at least 1 (got {workers})")
    if workers is not None and address is not None:
        raise SettingsError("give --workers (local worker processes) or --cluster (an existing scheduler), not both")
    base, where = base_settings(args.trace)
    if args.limit is not None:
        base = dataclasses.replace(base, limit=args.limit)
    from pipetrace.options import check_settings

    for value in values:  # every variant checked before any trains (--vary momentum=0.9 on an Adam run, ...)
        check_settings(variant_settings(base, setting, value))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else runs_folder() / f"experiment-{stamp}"
    console.print(Text(f"Experiment: {len(values)} variants of {setting.replace('_', '-')}, starting from {where}", style="bold"))
    console.print(Text(f"Each variant trains on the first {percent(1 - VALIDATION, 0)} of the training images and is judged on "
                       f"the last {percent(VALIDATION, 0)} (validation, never trained on); the best is chosen on those. "
                       "Test accuracy is reported, not used to choose."))
    if workers is None and address is None:
        runs = run_experiment(base, setting, values, out, console)  # in this process: quickest for one at a time
    else:
        runs = run_on_cluster(base, setting, values, out, console, workers=workers, address=address)
    console.print(render(setting, runs, out))
    console.print(f"\nEach variant's run is saved under {out}/ (compare two with: pipetrace learn compare "
                  f"{out / runs[0][0]} {out / runs[-1][0]})", markup=False)
    return 0
