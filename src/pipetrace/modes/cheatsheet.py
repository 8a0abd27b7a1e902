"""Mode `cheatsheet`: the run on one page: shapes, formulas with this run's values, parameters, commands.

For revising: everything is a line of this run (`sheet` returns it as sections of lines),
printed in the terminal, written as Markdown with --markdown FILE, shown in the HTML report.

>>> sections = sheet(trace)                        # doctest: +SKIP
>>> list(sections)                                 # doctest: +SKIP
['Shapes, stage by stage', 'Formulas, with this run's values', 'Parameters', 'Results', 'Reproduce']
"""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Group
from rich.rule import Rule
from rich.text import Text

from pipetrace.errors import SettingsError
from pipetrace.modes.locate import load_trace
from pipetrace.stages.measure import shape_text
from pipetrace.trace import Settings, Trace


def run_command(settings: Settings) -> str:
    """The `pipetrace run` command line that asks for these settings again."""
    d = Settings()
    parts = ["pipetrace", "run"]
    pairs = [("--epochs", settings.epochs, d.epochs), ("--batch-size", settings.batch_size, d.batch_size),
             ("--hidden", ",".join(map(str, settings.hidden)), ",".join(map(str, d.hidden))),
             ("--activation", settings.activation, d.activation), ("--dropout", settings.dropout, d.dropout),
             ("--optimizer", settings.optimizer, d.optimizer), ("--learning-rate", settings.learning_rate, d.learning_rate),
             ("--schedule", settings.schedule, d.schedule), ("--dataset", settings.dataset, d.dataset),
             ("--data-dir", settings.data_dir, d.data_dir), ("--model", settings.model, d.model),
             ("--image-size", "x".join(map(str, settings.image_size)), "x".join(map(str, d.image_size))),
             ("--limit", settings.limit, d.limit), ("--seed", settings.seed, d.seed), ("--sample", settings.sample, d.sample)]
    for flag, value, default in pairs:
        if value != default and value is not None:
            parts += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if settings.conv:
        parts.append("--conv")
    return " ".join(shlex.quote(p) for p in parts)


def sheet(trace: Trace, trace_file: str = "TRACE") -> dict[str, list[str]]:
    """The cheatsheet as titled sections of lines (plain text with `code` marks)."""
    shapes = [f"{s.number}. {s.name}: " + "; ".join(f"{a.name} {shape_text(a.shape)} {a.dtype}" for a in s.outputs[:2])
              for s in trace.stages[:4]]
    shapes.append(f"5. {trace.stages[4].name}: {trace.network.architecture}")
    p = trace.prediction
    names = trace.dataset["class_names"]
    scale = trace.stages[1].details.get("scale", 255.0)
    e = trace.stages[1].details["examples"][-1]
    formulas = [f"scale: x = pixel / {scale:g}   e.g. {e['before']} / {scale:g} = {e['after']:.4f}"]
    flat = trace.stages[2]
    if flat.name == "Flatten" and "index" in flat.details:
        d = flat.details
        formulas.append(f"flatten: index = {d['width']} * row + col   e.g. ({d['row']}, {d['col']}) -> {d['index']}")
    hidden = p.first_hidden
    if hidden is not None:
        act = trace.settings.activation
        rule = "max(0, z)" if act == "relu" else f"{act}(z)"
        formulas.append(f"dense: z = x . W + b, then h = {rule}   "
                        f"e.g. test image {p.sample}: {hidden.details['fired']} of {hidden.details['units']} neurons fired, "
                        f"z from {hidden.details['pre_activation_min']:.2f} to {hidden.details['pre_activation_max']:.2f}")
    logits = p.output_layer.details.get("logits")
    if logits:
        formulas.append(f"softmax: p_c = exp(z_c) / sum_k exp(z_k)   e.g. logits {min(logits):.2f}..{max(logits):.2f} -> "
                        f"p('{names[p.predicted]}') = {p.confidence:.4f}")
    true_p = p.output_layer.values[p.label] if p.output_layer.values else None
    if true_p is not None:
        import math

        formulas.append(f"loss: L = -ln p(true class)   e.g. -ln {true_p:.4f} = {-math.log(max(true_p, 1e-7)):.4f}; "
                        f"mean over the test set {trace.evaluation.test_loss or float('nan'):.4f}")
    formulas.append(f"update: w <- w - rate * dL/dw   ({trace.network.optimizer}, rate {trace.network.learning_rate:g}, "
                    f"{trace.network.schedule}; {trace.training.steps_per_epoch} updates an epoch)")
    params = [f"{layer.name} {layer.label or layer.kind}: {layer.weights:,} weights + {layer.biases:,} biases"
              + (f" + {layer.other:,} other" if layer.other else "") + f" = {layer.params:,}"
              for layer in trace.network.layers if layer.params]
    params.append(f"total: {trace.network.total_params:,}")
    epochs = trace.training.epochs
    results = [f"epoch {ep.epoch}: loss {ep.loss if ep.loss is None else round(ep.loss, 4)}, accuracy {ep.accuracy:.4f}, "
               f"test accuracy {ep.test_accuracy:.4f}" for ep in epochs]
    results.append(f"test set: {100 * trace.evaluation.test_accuracy:.2f}% of {trace.dataset['test_count']:,} right")
    commands = [run_command(trace.settings), f"pipetrace show {trace_file}", f"pipetrace learn walk {trace_file}",
                f"pipetrace learn code {trace_file}   (a plain Keras script of this run)"]
    return {"Shapes, stage by stage": shapes, "Formulas, with this run's values": formulas, "Parameters": params,
            "Results": results, "Reproduce": commands}


def markdown(trace: Trace, trace_file: str = "TRACE") -> str:
    lines = [f"# pipetrace cheatsheet: {trace.network.architecture} on {trace.dataset['name']}", "",
             f"Run of {trace.created_at}, status {trace.status}.", ""]
    for title, items in sheet(trace, trace_file).items():
        lines += [f"## {title}", ""]
        if title == "Reproduce":
            lines += ["```sh", *items, "```", ""]
        else:
            lines += [f"- `{item}`" if title.startswith("Formulas") else f"- {item}" for item in items] + [""]
    return "\n".join(lines)


def render(trace: Trace, trace_file: str = "TRACE"):
    parts = [Text(f"Cheatsheet: {trace.network.architecture} on {trace.dataset['name']}", style="bold")]
    for title, items in sheet(trace, trace_file).items():
        parts += [Rule(Text(title, style="bold"), align="left"), Text("\n".join(items))]
    return Group(*parts)


def main(args, console) -> int:
    trace, path = load_trace(args.trace)
    console.print(render(trace, str(path)))
    if args.markdown:
        target = Path(args.markdown)
        try:
            target.write_text(markdown(trace, str(path)), encoding="utf-8")
        except OSError as error:
            raise SettingsError(f"--markdown {target}: cannot write there ({error.strerror})") from error
        console.print(f"\nWrote {target}")
    return 0
