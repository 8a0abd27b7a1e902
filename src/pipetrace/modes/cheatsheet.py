"""Mode `cheatsheet`: the run on one page: shapes, formulas with this run's values, parameters, commands.

For revising: everything is a line of this run (`sheet` returns it as sections of lines, plain
data), printed in the terminal (views/learn.py), written as Markdown with --markdown FILE, shown
in the HTML report. The update formula is the run's optimizer's (insights.teaching), never another's.

>>> sections = sheet(trace)                        # doctest: +SKIP
>>> list(sections)                                 # doctest: +SKIP
['Shapes, stage by stage', 'Formulas, with this run's values', 'Parameters', 'Results', 'Reproduce']
"""

from __future__ import annotations

import math
import shlex

from pipetrace.insights.baseline import baseline
from pipetrace.insights.teaching import activation_words, run_optimizer
from pipetrace.numbers import number, percent, probability
from pipetrace.stages.measure import shape_text
from pipetrace.trace import Settings, Trace


def run_command(settings: Settings) -> str:
    """The `pipetrace run` command line that asks for these settings again."""
    d = Settings()
    parts = ["pipetrace", "run"]
    pairs = [("--epochs", settings.epochs, d.epochs), ("--batch-size", settings.batch_size, d.batch_size),
             ("--hidden", ",".join(map(str, settings.hidden)), ",".join(map(str, d.hidden))),
             ("--activation", settings.activation, d.activation), ("--dropout", settings.dropout, d.dropout),
             ("--optimizer", settings.optimizer, d.optimizer), ("--momentum", settings.momentum, d.momentum),
             ("--learning-rate", settings.learning_rate, d.learning_rate),
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
    conv = next((layer for layer in trace.network.layers if layer.kind == "Conv2D"), None)
    conv_words = activation_words(conv.activation) if conv is not None else None
    if conv is not None and conv_words is not None and "kernel_size" in conv.config and conv.input_shape:
        k = "x".join(map(str, conv.config["kernel_size"]))
        formulas.append(f"conv: z[r, c, f] = sum over a {k} window and the {conv.input_shape[-1]} input channel(s) of "
                        f"x * K_f + b_f, then h = {conv_words.formula} ({conv_words.nice})   e.g. {conv.label or conv.name}: "
                        f"{conv.units} filters, {conv.weights:,} kernel weights")
    hidden = p.first_hidden
    recorded = {layer.name: layer.activation or "linear" for layer in trace.network.layers}
    words = activation_words(recorded.get(hidden.layer, "") if hidden is not None else "") if hidden is not None else None
    if hidden is not None and words is not None:
        above = (f"{hidden.details['fired']} of {hidden.details['units']} neurons fired" if words.zero_below else
                 f"{hidden.details['fired']} of {hidden.details['units']} outputs above 0")
        z_range = (f", z from {number(hidden.details['pre_activation_min'], 2)} to {number(hidden.details['pre_activation_max'], 2)}"
                   if "pre_activation_min" in hidden.details else "")
        formulas.append(f"dense: z = x . W + b, then h = {words.formula} ({words.nice})   "
                        f"e.g. test image {p.sample}: {above}{z_range}")
    logits = p.output_layer.details.get("logits")
    if logits:
        formulas.append(f"softmax: p_c = exp(z_c) / sum_k exp(z_k)   e.g. logits {number(min(logits), 2)}..{number(max(logits), 2)} -> "
                        f"p('{names[p.predicted]}') = {number(p.confidence, 4)}")
    true_p = p.output_layer.values[p.label] if p.output_layer.values else None
    if true_p is not None:
        mean = trace.evaluation.test_loss
        formulas.append(f"loss: L = -ln p(true class) (from the scores, unclipped, as model.evaluate)   e.g. -ln "
                        f"{probability(true_p)} = {number(-math.log(max(true_p, 1e-300)), 4)}"
                        + ("" if mean is None else f"; mean over the test set {number(mean, 4)}"))
    optimizer = run_optimizer(trace)
    if optimizer is not None:
        schedule = "cosine-decayed to 0" if trace.network.schedule == "cosine" else trace.network.schedule
        formulas.append(f"update ({optimizer.name}, rate {trace.network.learning_rate:g}, {schedule}; "
                        f"{trace.training.steps_per_epoch} updates an epoch; g = dL/dw on one batch):")
        formulas += [f"  {line}" for line in optimizer.update]
    params = [f"{layer.name} {layer.label or layer.kind}: {layer.weights:,} weights + {layer.biases:,} biases"
              + (f" + {layer.other:,} other" if layer.other else "") + f" = {layer.params:,}"
              for layer in trace.network.layers if layer.params]
    params.append(f"total: {trace.network.total_params:,}")
    epochs = trace.training.epochs
    measured = "accuracy" if getattr(trace.training, "train_measured_on", 0) else "running accuracy"
    results = [f"epoch {ep.epoch}: loss {number(ep.loss, 4)}, {measured} {percent(ep.accuracy)}, "
               f"test loss {number(ep.test_loss, 4)}, test accuracy {percent(ep.test_accuracy)}" for ep in epochs]
    results.append(f"test set: {percent(trace.evaluation.test_accuracy)} of {trace.dataset['test_count']:,} right "
                   f"(baseline: {baseline(trace).words})")
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
            for item in items:  # an indented item belongs to the one above it: a nested list item
                nest = "  " if item.startswith("  ") else ""
                lines.append(f"{nest}- `{item.strip()}`" if title.startswith("Formulas") else f"{nest}- {item.strip()}")
            lines.append("")
    return "\n".join(lines)
