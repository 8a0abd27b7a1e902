"""Mode `math`: the arithmetic of one prediction, with this run's weights and this run's image.

For learners who want the math: one hidden neuron's weighted sum (its largest pixel x weight
terms, the bias, the total, the activation), the output logits, softmax step by step, the
loss for the true label as model.evaluate computes it (from the scores, unclipped), the
chain rule back through every hidden layer with its shapes, and one gradient step on one
weight. The numbers come from `arithmetic.arithmetic` (NumPy on the trace's packed float32
weights, no TensorFlow) and agree with the saved model.keras. The wording of the activation
and the optimizer comes from `insights.teaching`, keyed by what this run used.

`content(trace)` returns the sections as plain data; the terminal (views/learn.py) and the
report (views/html/modes.py) render them.

>>> [section.title for section in content(trace)][:2]        # doctest: +SKIP
["1. One hidden neuron's weighted sum", '2. The output logits']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipetrace.errors import SettingsError
from pipetrace.insights.teaching import activation_words, run_optimizer
from pipetrace.modes.arithmetic import Arithmetic, arithmetic, chosen_prediction, softmax
from pipetrace.numbers import number, probability
from pipetrace.trace import Trace


@dataclass
class Section:
    """One titled part of the worked arithmetic: plain lines of text."""

    key: str
    title: str
    lines: list[str]


TITLES = {"neuron": "1. One hidden neuron's weighted sum", "logits": "2. The output logits",
          "softmax": "3. Softmax, step by step", "loss": "4. The loss", "gradient": "5. The chain rule, back to one weight",
          "step": "6. One gradient-descent step"}


def pixel(index: int, width: int) -> str:
    return f"pixel ({index // width}, {index % width})" if width else f"input {index}"


def headline(trace: Trace, sample: int | None = None) -> str:
    p = chosen_prediction(trace, sample)
    names = trace.dataset["class_names"]
    return (f"The math of one prediction: test image {p.sample}, a '{names[p.label]}', through "
            f"{trace.network.architecture}, with this run's {trace.network.total_params:,} trained numbers")


def content(trace: Trace, sample: int | None = None) -> list[Section]:
    """The worked arithmetic of one prediction, section by section (the output side only without weights)."""
    if not trace.weights:
        return output_side(trace, sample)
    m = arithmetic(trace, sample)
    return [Section(key, TITLES[key], lines) for key, lines in math_lines(m, trace).items()]


def _activation_line(m: Arithmetic) -> str:
    words = activation_words(m.activation)
    name = words.nice if words else m.activation
    formula = words.formula if words else f"{m.activation}(z)"
    line = f"h = {formula} with z = {m.z:.4f}: h = {m.a:.4f}, the neuron's output, passed on to the next layer"
    if words and m.activation in ("relu",) and m.z <= 0:
        line += " (a negative sum: ReLU silenced it)"
    return f"{name}: {line}"


def math_lines(m: Arithmetic, trace: Trace) -> dict[str, list[str]]:
    """The worked arithmetic as plain lines, by part (shared by the terminal, Markdown and HTML)."""
    names = trace.dataset["class_names"]
    words = activation_words(m.activation)
    act = words.nice if words else m.activation
    neuron = [
        f"Neuron #{m.neuron} of the layer '{m.layer}' (the one with the largest weighted sum for this image):",
        f"z = x1*w1 + x2*w2 + ... + x{m.term_count}*w{m.term_count} + b, over all {m.term_count} input values",
        *[f"  {pixel(t.index, m.width):<16} x = {t.x:.4f}  *  w = {t.w:+.4f}  =  {t.product:+.4f}" for t in m.terms],
        f"  the other {m.term_count - len(m.terms)} terms add up to {m.rest:+.4f}",
        f"  bias b = {m.bias:+.4f}",
        f"  z = {sum(t.product for t in m.terms):+.4f} {m.rest:+.4f} {m.bias:+.4f} = {m.z:.4f}",
        _activation_line(m),
    ]
    last_hidden = "hidden" if m.hidden_layers == 1 else "last hidden"
    logits = [
        f"Every output neuron does the same sum over the {last_hidden} layer's {m.sizes[-2] if len(m.sizes) > 1 else ''} outputs: "
        "logit_c = sum_j h_j * W[j, c] + b_c",
        "  " + ", ".join(f"{names[c]}: {v:+.3f}" for c, v in enumerate(m.logits)),
    ]
    steps = [
        f"1. subtract the largest logit ({m.shift:.4f}) so exp never overflows (the result is the same)",
        "2. exp of each:  " + ", ".join(f"{names[c]}: {v:.4g}" for c, v in enumerate(m.exps)),
        f"3. add them up: {m.total:.6g}",
        "4. divide each by the sum: " + ", ".join(f"{names[c]}: {number(p, 4)}" for c, p in enumerate(m.probabilities)),
        f"   they sum to {sum(m.probabilities):.6f}; the largest is '{names[m.predicted]}' ({number(m.probabilities[m.predicted], 4)}): "
        + ("right" if m.predicted == m.label else f"wrong, the image is a '{names[m.label]}'"),
    ]
    loss = loss_lines(m.probabilities[m.label], names[m.label], m.loss)
    gradient = chain_rule_lines(m, names, act)
    step = step_lines(m, trace)
    return {"neuron": neuron, "logits": logits, "softmax": steps, "loss": loss, "gradient": gradient, "step": step}


def loss_lines(p_true: float, label: str, loss: float) -> list[str]:
    """Cross-entropy as model.fit and model.evaluate compute it for a softmax output: -ln p, from the scores.

    Keras' loss takes the scores before softmax when the output comes from a softmax (keras/src/backend/
    tensorflow/nn.py, `_get_logits`), so it clips nothing there: one image's loss has no upper limit.
    """
    return [f"Cross-entropy loss for the true label '{label}': L = -ln(p_{label}) = -ln({probability(p_true)}) = {number(loss, 6)}",
            "  model.fit and model.evaluate compute it from the scores before softmax (L = ln(sum_k e^z_k) - z_true), "
            "so nothing is clipped: 0 would mean sure and right, and a confident wrong answer has no upper limit"]


def chain_rule_lines(m: Arithmetic, names: list[str], act: str) -> list[str]:
    """dL/dw for one first-layer weight, carried back through every Dense layer with its shapes."""
    i, j = m.weight
    n = len(m.sizes)
    lines = [
        f"Follow the weight w = W1[{i}, {j}] from {pixel(i, m.width)} to neuron #{j} of '{m.names[0] if m.names else m.layer}': "
        f"w = {m.weight_value:+.6f}",
        f"1. error at the {m.sizes[-1]} logits, dL/dz{n} = p - y (y: 1 for the truth, else 0), shape ({m.sizes[-1]},):",
        "   " + ", ".join(f"{names[c]}: {v:+.4f}" for c, v in enumerate(m.output_error)),
    ]
    number_ = 2
    for k in range(n - 1, 0, -1):  # back through hidden layer k (1-based): h_k has sizes[k-1] values
        layer_act = activation_words(m.activations[k - 1])
        layer_name = layer_act.nice if layer_act else m.activations[k - 1]
        lines.append(f"{number_}. back through W{k + 1} ({m.sizes[k - 1]} x {m.sizes[k]}): "
                     f"dL/dh{k} = W{k + 1} . dL/dz{k + 1}, shape ({m.sizes[k - 1]},)")
        lines.append(f"   then through {layer_name}: dL/dz{k} = dL/dh{k} * {layer_name}'(z{k}), element by element, "
                     f"shape ({m.sizes[k - 1]},)")
        number_ += 1
    lines += [
        f"   for neuron #{j}: dL/dh1[{j}] = {m.upstream:+.6f}, {act}'(z = {m.z:.4f}) = {m.slope:.4f}, "
        f"so dL/dz1[{j}] = {m.upstream * m.slope:+.6f}",
        f"{number_}. to the weight: dz1[{j}]/dw = x[{i}] = {m.terms[0].x:.4f}",
        f"   gradient g = dL/dw = {m.terms[0].x:.4f} * {m.slope:.4f} * {m.upstream:+.6f} = {m.gradient:+.8f}",
    ]
    return lines


def step_lines(m: Arithmetic, trace: Trace) -> list[str]:
    """A plain gradient-descent step on the followed weight, then what the run's own optimizer does instead."""
    words = run_optimizer(trace)
    lines = [
        f"Plain gradient descent with the {'starting ' if trace.network.schedule == 'cosine' else ''}learning rate "
        f"{m.learning_rate:g}: w <- w - rate * g",
        f"   {m.weight_value:+.6f} - {m.learning_rate:g} * {m.gradient:+.8f} = {m.new_weight:+.8f}",
        f"   the loss for this image goes from {number(m.loss, 8)} to {number(m.loss_after, 8)} "
        f"({m.loss_after - m.loss:+.3g}; the slope predicts {-m.learning_rate * m.gradient ** 2:+.3g})",
    ]
    schedule = (" (with the rate the cosine schedule gave each step, gliding to 0)"
                if trace.network.schedule == "cosine" else "")
    if words is None:
        return lines
    if words.name == "SGD":
        lines.append(f"   This run trained with SGD: this is its update, on each batch's mean gradient{schedule}.")
    elif trace.network.momentum:
        lines.append(f"   This run trained with {words.name}{schedule}: each step is the plain step (on each batch's "
                     f"mean gradient) plus {trace.network.momentum:g} of the step before, the velocity u; u starts at 0, "
                     "so the first step is exactly the plain one:")
        lines += [f"     {line}" for line in words.update]
    else:
        lines.append(f"   This run trained with {words.name}{schedule}, whose update starts from the same gradient g "
                     "(averaged over a batch) but sizes each step differently:")
        lines += [f"     {line}" for line in words.update]
    return lines


def output_side(trace: Trace, sample: int | None) -> list[Section]:
    """For networks whose weights the trace does not keep: softmax and loss from the stored logits."""
    p = chosen_prediction(trace, sample)
    logits = p.output_layer.details.get("logits")
    if not logits:
        raise SettingsError("this trace holds neither Dense weights nor output logits to compute with")
    z = np.asarray(logits, dtype=np.float64)
    probabilities = softmax(z)
    names = trace.dataset["class_names"]
    width = max(len(n) for n in names + ["class"])
    rows = [f"  {'class':<{width}}  {'logit':>9}  {'exp(logit - max)':>16}  probability"]
    rows += [f"  {names[c]:<{width}}  {v:>+9.4f}  {np.exp(v - z.max()):>16.4g}  {q:.4f}"
             for c, (v, q) in enumerate(zip(z, probabilities))]
    true_loss = float(np.log(np.exp(z - z.max()).sum()) + z.max() - z[p.label])  # ln(sum e^z) - z_true, unclipped
    intro = [f"This network ({trace.network.architecture}) has layers whose weights the trace does not keep, "
             "so the math starts at the output layer's logits, as the trace recorded them."]
    return [Section("logits", "The output logits and softmax", intro + rows),
            Section("loss", "The loss", loss_lines(float(probabilities[p.label]), names[p.label], true_loss))]


def other_mistake(trace: Trace, sample: int | None) -> int | None:
    """A test image the run got wrong, other than the followed one, to suggest next."""
    wrong = [p.sample for p in trace.samples if not p.correct and p.sample != trace.prediction.sample]
    return wrong[0] if wrong and sample is None else None
