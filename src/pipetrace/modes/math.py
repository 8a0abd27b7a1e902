"""Mode `math`: the arithmetic of one prediction, with this run's weights and this run's image.

For learners who want the math: one hidden neuron's weighted sum (its largest pixel x weight
terms, the bias, the total, the activation), the output logits, softmax step by step, the
loss for the true label, and one gradient-descent step on one weight with its real gradient
(by the chain rule). The numbers come from `arithmetic.arithmetic` (NumPy on the trace's
packed float32 weights, no TensorFlow) and agree with the saved model.keras.

>>> from rich.console import Console
>>> Console().print(render_math(arithmetic(trace), trace))        # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from pipetrace.errors import SettingsError
from pipetrace.modes.arithmetic import Arithmetic, arithmetic, chosen_prediction, softmax
from pipetrace.modes.locate import load_trace
from pipetrace.trace import Trace


def pixel(index: int, width: int) -> str:
    return f"pixel ({index // width}, {index % width})" if width else f"input {index}"


def math_lines(m: Arithmetic, trace: Trace) -> dict[str, list[str]]:
    """The worked arithmetic as plain lines, by part (shared by the terminal, Markdown and HTML)."""
    names = trace.dataset["class_names"]
    act = m.activation
    act_formula = {"relu": f"max(0, {m.z:.4f})"}.get(act, f"{act}({m.z:.4f})")
    neuron = [
        f"Neuron #{m.neuron} of the layer '{m.layer}' (the one with the largest weighted sum for this image):",
        f"z = x1*w1 + x2*w2 + ... + x{m.term_count}*w{m.term_count} + b, over all {m.term_count} input values",
        *[f"  {pixel(t.index, m.width):<16} x = {t.x:.4f}  *  w = {t.w:+.4f}  =  {t.product:+.4f}" for t in m.terms],
        f"  the other {m.term_count - len(m.terms)} terms add up to {m.rest:+.4f}",
        f"  bias b = {m.bias:+.4f}",
        f"  z = {sum(t.product for t in m.terms):+.4f} {m.rest:+.4f} {m.bias:+.4f} = {m.z:.4f}",
        f"{act}(z) = {act_formula} = {m.a:.4f}: the neuron's output, passed on to the next layer",
    ]
    logits = [
        f"Every output neuron does the same sum over the {'hidden' if m.hidden_layers == 1 else 'last hidden'} layer's outputs: "
        "logit_c = sum_j h_j * W[j, c] + b_c",
        "  " + ", ".join(f"{names[c]}: {v:+.3f}" for c, v in enumerate(m.logits)),
    ]
    steps = [
        f"1. subtract the largest logit ({m.shift:.4f}) so exp never overflows (the result is the same)",
        "2. exp of each:  " + ", ".join(f"{names[c]}: {v:.4g}" for c, v in enumerate(m.exps)),
        f"3. add them up: {m.total:.6g}",
        "4. divide each by the sum: " + ", ".join(f"{names[c]}: {p:.4f}" for c, p in enumerate(m.probabilities)),
        f"   they sum to {sum(m.probabilities):.6f}; the largest is '{names[m.predicted]}' ({m.probabilities[m.predicted]:.4f}): "
        + ("right" if m.predicted == m.label else f"wrong, the image is a '{names[m.label]}'"),
    ]
    p_true = m.probabilities[m.label]
    loss = [
        f"Cross-entropy loss for the true label '{names[m.label]}': L = -ln(p_{names[m.label]}) = -ln({p_true:.6f}) = {m.loss:.6f}",
        "  (0 when the network is sure and right; it grows without bound as p of the truth goes to 0)",
    ]
    i, j = m.weight
    back = "" if m.hidden_layers == 1 else f", carried back through {m.hidden_layers} hidden layers"
    gradient = [
        f"Follow the weight w from {pixel(i, m.width)} to neuron #{j}: w = {m.weight_value:+.6f}",
        "1. error at each logit, dL/dlogit_c = p_c - (1 if c is the truth else 0):",
        "   " + ", ".join(f"{names[c]}: {v:+.4f}" for c, v in enumerate(m.output_error)),
        f"2. back to the neuron's output, dL/dh = sum_c W[{j}, c] * (p_c - y_c){back} = {m.upstream:+.6f}",
        f"3. through {act}: slope {act}'(z = {m.z:.4f}) = {m.slope:.4f}",
        f"4. to the weight, dz/dw = x = {m.terms[0].x:.4f}",
        f"   gradient dL/dw = {m.terms[0].x:.4f} * {m.slope:.4f} * {m.upstream:+.6f} = {m.gradient:+.8f}",
        f"One gradient-descent step with learning rate {m.learning_rate:g}: w <- w - rate * gradient",
        f"   {m.weight_value:+.6f} - {m.learning_rate:g} * {m.gradient:+.8f} = {m.new_weight:+.8f}",
        f"   the loss for this image goes from {m.loss:.8f} to {m.loss_after:.8f} ({m.loss_after - m.loss:+.3g}; "
        f"the slope predicts {-m.learning_rate * m.gradient ** 2:+.3g})",
        f"   ({trace.network.optimizer} trained this network: it scales each step by the gradient's running size, "
        "but the direction comes from this same gradient)",
    ]
    return {"neuron": neuron, "logits": logits, "softmax": steps, "loss": loss, "gradient": gradient}


TITLES = {"neuron": "1. One hidden neuron's weighted sum", "logits": "2. The output logits",
          "softmax": "3. Softmax, step by step", "loss": "4. The loss", "gradient": "5. One gradient-descent step"}


def render_math(m: Arithmetic, trace: Trace):
    names = trace.dataset["class_names"]
    head = Text(f"The math of one prediction: test image {m.sample}, a '{names[m.label]}', through "
                f"{trace.network.architecture}, with this run's {trace.network.total_params:,} trained numbers", style="bold")
    parts = [head]
    for key, lines in math_lines(m, trace).items():
        parts += [Rule(Text(TITLES[key], style="bold"), align="left"), Text("\n".join(lines))]
    return Group(*parts)


def render_output_side(trace: Trace, sample: int | None):
    """For networks whose weights the trace does not keep: softmax and loss from the stored logits."""
    p = chosen_prediction(trace, sample)
    logits = p.output_layer.details.get("logits")
    if not logits:
        raise SettingsError("this trace holds neither Dense weights nor output logits to compute with")
    z = np.asarray(logits, dtype=np.float64)
    probabilities = softmax(z)
    names = trace.dataset["class_names"]
    table = Table("class", "logit", "exp(logit - max)", "probability")
    for c, (v, q) in enumerate(zip(z, probabilities)):
        table.add_row(names[c], f"{v:+.4f}", f"{np.exp(v - z.max()):.4g}", f"{q:.4f}")
    loss = -np.log(np.clip(probabilities[p.label], 1e-7, 1 - 1e-7))
    return Group(
        Text(f"This network ({trace.network.architecture}) has layers whose weights the trace does not keep, "
             "so the math starts at the output layer's logits, as the trace recorded them.", style="bold"),
        table, Text(f"Loss for the true label '{names[p.label]}': -ln({probabilities[p.label]:.6f}) = {loss:.6f}"),
    )


def main(args, console) -> int:
    trace, _ = load_trace(args.trace)
    if not trace.weights:
        console.print(render_output_side(trace, args.sample))
        return 0
    console.print(render_math(arithmetic(trace, args.sample), trace))
    wrong = [p.sample for p in trace.samples if not p.correct and p.sample != trace.prediction.sample]
    if wrong and args.sample is None:
        console.print(Text(f"\nTry a mistake: pipetrace learn math --sample {wrong[0]} (bigger error, bigger gradient)", style="dim"))
    return 0
