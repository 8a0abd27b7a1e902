"""Mode `compare`: two saved runs side by side: what differed, what it measured, where they disagree.

Everything comes from the two traces: settings that differ, the metrics, the loss curves,
per-class accuracy, and the test images both runs traced on which their predictions
differ (only the images a trace kept: the followed one, its samples, its shown mistakes).

>>> rows = setting_differences(trace_a, trace_b)      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict

from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from pipetrace.modes.locate import load_trace
from pipetrace.trace import Trace

SKIPPED = ("questions", "sample")  # how the run was shown, not what it did


def setting_differences(a: Trace, b: Trace) -> list[tuple[str, str, str]]:
    """(setting, value in A, value in B) for every setting that differs."""
    sa, sb = asdict(a.settings), asdict(b.settings)
    return [(k, str(sa[k]), str(sb.get(k))) for k in sa if k not in SKIPPED and sa[k] != sb.get(k)]


def metrics(t: Trace) -> dict[str, str]:
    last = t.training.epochs[-1] if t.training.epochs else None
    return {
        "network": t.network.architecture,
        "parameters": f"{t.network.total_params:,}",
        "epochs": f"{len(t.training.epochs)} of {t.training.epochs_planned}",
        "final training loss": "-" if not last or last.loss is None else f"{last.loss:.4f}",
        "final training accuracy": "-" if not last else f"{100 * last.accuracy:.2f}%",
        "test loss": "-" if t.evaluation.test_loss is None else f"{t.evaluation.test_loss:.4f}",
        "test accuracy": f"{100 * t.evaluation.test_accuracy:.2f}%",
        "training time": f"{t.training.seconds:.1f} s",
        "test images": f"{t.dataset['test_count']:,}",
    }


def predictions(t: Trace) -> dict[int, int]:
    """Test index -> predicted class, for every test image the trace recorded a prediction for."""
    seen = {m.index: m.predicted for m in t.evaluation.mistakes}
    for p in [t.prediction, *t.samples]:
        seen[p.sample] = p.predicted
    return seen


def disagreements(a: Trace, b: Trace) -> tuple[int, list[tuple[int, int, int, int]]]:
    """(how many test images both traces recorded, [(index, label, A said, B said) where they differ])."""
    if a.dataset.get("name") != b.dataset.get("name") or a.dataset["class_names"] != b.dataset["class_names"]:
        return 0, []
    pa, pb = predictions(a), predictions(b)
    labels = {m.index: m.label for m in a.evaluation.mistakes + b.evaluation.mistakes}
    for p in [a.prediction, *a.samples, b.prediction, *b.samples]:
        labels[p.sample] = p.label
    common = sorted(set(pa) & set(pb))
    return len(common), [(i, labels[i], pa[i], pb[i]) for i in common if pa[i] != pb[i]]


def render(a: Trace, b: Trace, name_a: str, name_b: str):
    from pipetrace.modes.experiment import curves_chart

    parts = [Text(f"A: {name_a}\nB: {name_b}", style="bold")]
    diff = setting_differences(a, b)
    table = Table("setting", "A", "B")
    for row in diff:
        table.add_row(*row)
    parts += [Rule(Text("Settings that differ", style="bold"), align="left"),
              table if diff else Text("None: the same settings (differences come from the machine or the library versions)")]
    ma, mb = metrics(a), metrics(b)
    table = Table("", "A", "B")
    for key in ma:
        table.add_row(key, ma[key], mb[key])
    change = 100 * (b.evaluation.test_accuracy - a.evaluation.test_accuracy)
    parts += [Rule(Text("Metrics", style="bold"), align="left"), table,
              Text(f"B's test accuracy is {change:+.2f} points against A's.")]
    parts += [Rule(Text("Loss per epoch", style="bold"), align="left"), curves_chart({"A": a, "B": b})]
    names = a.dataset["class_names"]
    if a.dataset["class_names"] == b.dataset["class_names"]:
        table = Table("class", "A", "B", "B - A")
        for c, (x, y) in enumerate(zip(a.evaluation.per_class_accuracy, b.evaluation.per_class_accuracy)):
            table.add_row(names[c], f"{100 * x:.1f}%", f"{100 * y:.1f}%", f"{100 * (y - x):+.1f}")
        parts += [Rule(Text("Accuracy per class", style="bold"), align="left"), table]
    common, differ = disagreements(a, b)
    parts.append(Rule(Text("Where their predictions disagree", style="bold"), align="left"))
    if not common:
        parts.append(Text("Different test sets: no test image to compare one by one."))
    else:
        lines = [f"Of the {common} test images both traces recorded, they disagree on {len(differ)}:"]
        lines += [f"  test image {i} (a '{names[label]}'): A said '{names[x]}'{' (right)' if x == label else ''}, "
                  f"B said '{names[y]}'{' (right)' if y == label else ''}" for i, label, x, y in differ]
        parts.append(Text("\n".join(lines)))
    return Group(*parts)


def main(args, console) -> int:
    a, path_a = load_trace(args.a)
    b, path_b = load_trace(args.b)
    console.print(render(a, b, str(path_a), str(path_b)))
    return 0
