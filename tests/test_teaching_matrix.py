"""Every learning mode and the quiz, across the networks learners try, say only what is true of the run.

A matrix of real small runs (600 images, 1-2 epochs) is trained once per session: each activation
kind, each optimizer family (SGD with and without momentum), a CNN, dropout, scikit-learn's digits and
a 3-class .npz. For each run,
every mode's content (walk steps, explain chapters, math sections, cheatsheet rows, quiz questions)
is checked against the run's own evidence: the activation and optimizer it recorded, its layers'
shapes, its data, its measured probabilities and losses. The optimizer formulas are checked against
Keras itself.
"""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pytest
from rich.console import Console

from pipetrace.insights import glossary
from pipetrace.insights.baseline import baseline
from pipetrace.insights.quiz import quiz_pool
from pipetrace.insights.teaching import (OPTIMIZERS, activation_words, all_hidden_activations, optimizer_words,
                                         run_optimizer, sgd_with_momentum)
from pipetrace.modes import cheatsheet, explain, walk
from pipetrace.modes import math as math_mode
from pipetrace.numbers import number
from pipetrace.views import learn
from pipetrace.views.html import modes as html_modes

SMALL = dict(limit=600, epochs=1, seed=0, verbose=0)
RUNS = {
    "relu": dict(hidden=[32], epochs=2),
    "tanh-2-layers": dict(hidden=[32, 16], activation="tanh"),
    "sigmoid": dict(hidden=[32], activation="sigmoid"),
    "linear": dict(hidden=[32], activation="linear"),
    "sgd": dict(hidden=[32], optimizer="sgd", learning_rate=0.05, schedule="constant", epochs=2),
    "sgd-momentum": dict(hidden=[32], optimizer="sgd", momentum=0.9, learning_rate=0.01),
    "rmsprop": dict(hidden=[32], optimizer="rmsprop", learning_rate=0.001),
    "cnn": dict(conv=True, hidden=[16]),
    "dropout-adagrad": dict(hidden=[32], dropout=0.3, optimizer="adagrad", learning_rate=0.05),
    "digits-adamw": dict(dataset="digits", hidden=[32], optimizer="adamw", epochs=2),
    "npz-3-classes": dict(hidden=[16], activation="elu"),
}


def _three_class_npz(folder):
    """Digits 0, 1 and 2 of the digits dataset as an .npz: a dataset with 3 classes."""
    from pipetrace.data import load_dataset

    digits = load_dataset("digits")
    train, test = digits.y_train < 3, digits.y_test < 3
    path = folder / "three.npz"
    np.savez(path, x_train=digits.x_train[train].astype(np.uint8), y_train=digits.y_train[train],
             x_test=digits.x_test[test].astype(np.uint8), y_test=digits.y_test[test], class_names=np.array(["zero", "one", "two"]))
    return path


@pytest.fixture(scope="session")
def matrix(tmp_path_factory):
    """name -> Trace, each a real run trained once for the whole session."""
    import pipetrace

    folder = tmp_path_factory.mktemp("matrix")
    traces = {}
    for name, settings in RUNS.items():
        settings = {**SMALL, **settings}
        if name == "npz-3-classes":
            settings.update(dataset=str(_three_class_npz(folder)), limit=None)
        traces[name] = pipetrace.run(**settings)
    return traces


@pytest.fixture(params=list(RUNS))
def run(request, matrix):
    return request.param, matrix[request.param]


def _quiz_texts(trace) -> list[str]:
    return [t for q in quiz_pool(trace) for t in (q.text, *q.options, q.explanation)]


def _walk_texts(trace) -> list[str]:
    out = []
    for step in walk.steps(trace):
        q = step.question
        out += [step.title, *(text for _, text in step.facts), q.text, *q.options, q.explanation]
    return out


def _explain_texts(trace) -> list[str]:
    return [t for c in explain.chapters(trace) for t in (c.title, c.what, c.why, c.model, c.mistakes)]


def _math_texts(trace) -> list[str]:
    return [line for section in math_mode.content(trace) for line in [section.title, *section.lines]]


def _sheet_texts(trace) -> list[str]:
    return [line for lines in cheatsheet.sheet(trace).values() for line in lines]


def _rendered(renderable, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def all_texts(trace) -> str:
    from pipetrace.views.terminal import render_prediction

    return "\n".join(_quiz_texts(trace) + _walk_texts(trace) + _explain_texts(trace) + _math_texts(trace)
                     + _sheet_texts(trace) + [_rendered(learn.explain_view(trace)),
                                              _rendered(render_prediction(trace.prediction, trace.dataset["class_names"]))])


# ---- every text follows the network it describes ---------------------------------------


def test_relu_words_only_for_relu_networks(run):
    name, trace = run
    texts = all_texts(trace)
    if "relu" in all_hidden_activations(trace):
        fired = next(q for q in quiz_pool(trace) if "fired" in q.text)
        assert "ReLU passed" in fired.explanation
        return
    assert not re.search(r"\bReLU\b", texts), name
    for wording in ("not fired", "set the other", "neurons fired", "silenced"):
        assert wording not in texts, (name, wording)


def test_the_activation_is_named_with_its_own_formula(run):
    _, trace = run
    hidden = trace.network.dense_layers[0].activation or "linear"
    words = activation_words(hidden)
    sheet = "\n".join(cheatsheet.sheet(trace)["Formulas, with this run's values"])
    assert f"h = {words.formula} ({words.nice})" in sheet
    if trace.weights:
        neuron = next(s for s in math_mode.content(trace) if s.key == "neuron")
        assert neuron.lines[-1].startswith(f"{words.nice}: h = {words.formula} with z =")


def test_units_above_zero_are_counted_from_the_layer_values(run):
    _, trace = run
    layer = trace.prediction.first_hidden
    question = next((q for q in quiz_pool(trace) if "neurons" in q.text and ("above 0" in q.text or "fired" in q.text)), None)
    if not activation_words(trace.network.dense_layers[0].activation or "linear").positive_iff_sum_positive:
        assert question is None  # sigmoid: every output is above 0, nothing to ask
        return
    assert question.options[question.answer] == str(sum(v > 0 for v in layer.values))


def test_the_optimizer_named_is_the_runs_with_its_update(run):
    name, trace = run
    words = run_optimizer(trace)
    assert words is not None
    family = words.name.split()[0]  # "SGD with momentum 0.9" is an SGD
    assert family.lower() == trace.settings.optimizer
    sheet = "\n".join(cheatsheet.sheet(trace)["Formulas, with this run's values"])
    assert f"update ({words.name}, rate {trace.settings.learning_rate:g}" in sheet
    assert all(line in sheet for line in words.update)
    step = "\n".join(next(s for s in math_mode.content(trace) if s.key == "step").lines) if trace.weights else ""
    for other in OPTIMIZERS:
        if other != family:
            assert not re.search(rf"\b{other}\b", sheet + step), (name, other)
    if family == "SGD":
        assert "running size" not in all_texts(trace)
        assert "sqrt" not in sheet
    momentum = trace.network.momentum
    if momentum:  # the velocity, in every text that shows the update
        assert words.name == f"SGD with momentum {momentum:g}" and momentum == trace.settings.momentum
        assert f"u <- {momentum:g} * u - rate * g" in sheet + step and "w <- w + u" in step
        assert "w <- w - rate * g" not in sheet
    else:
        assert not re.search(r"momentum|velocity", all_texts(trace), re.IGNORECASE), name


def test_reshape_and_flatten_are_explained_apart(run):
    _, trace = run
    shaping = trace.stages[2].name
    chapter = next(c for c in explain.chapters(trace) if c.title == shaping)
    if shaping == "Reshape":
        assert "one long line" not in chapter.model + chapter.what + chapter.why + chapter.mistakes
        assert "channel" in chapter.model
    else:
        assert "one long line" in chapter.model


def test_dataset_numbers_come_from_the_dataset(run):
    _, trace = run
    classes = len(trace.dataset["class_names"])
    pool = {q.text: q for q in quiz_pool(trace)}
    start = next(q for t, q in pool.items() if "Before any training" in t)
    assert f"chooses among {classes} classes" in start.text
    assert start.options[start.answer] == f"ln({classes}) = {number(math.log(classes))}"
    test = next(q for t, q in pool.items() if t.startswith("Why did the"))
    assert f"{trace.dataset['test_count']:,} test images" in test.text
    data = explain.chapters(trace)[0]
    assert f"With {classes} classes" in data.why and f"{100 / classes:.1f}%" in data.why


# ---- formulas as they are ----------------------------------------------------------------


def test_math_carries_the_error_back_through_every_hidden_layer_with_its_shapes(run):
    _, trace = run
    if not trace.weights:  # a CNN: the trace keeps no weights to carry an error back with; math starts at the logits
        assert [s.key for s in math_mode.content(trace)] == ["logits", "loss"]
        return
    lines = "\n".join(next(s for s in math_mode.content(trace) if s.key == "gradient").lines)
    dense = trace.network.dense_layers
    for k in range(1, len(dense)):
        assert f"back through W{k + 1} ({dense[k - 1].units} x {dense[k].units})" in lines
    assert lines.count("back through") == len(dense) - 1


def test_math_loss_is_what_model_evaluate_computes(run):
    """Unclipped -ln p: Keras' loss reads the scores before softmax in fit/evaluate (issue 17: no 'at most 16.118')."""
    _, trace = run
    loss = next(s for s in math_mode.content(trace) if s.key == "loss")
    text = "\n".join(loss.lines)
    p = trace.prediction.output_layer.values[trace.prediction.label]
    expected = -math.log(p)
    assert "at most" not in text and "16.118" not in text and "clips" not in text
    assert "-ln(0.000000)" not in text
    assert abs(float(text.splitlines()[0].rsplit("= ", 1)[1]) - expected) < 1e-5 * max(1.0, expected)


def _numpy_update(name: str, w: np.ndarray, grads: list[np.ndarray], rate: float) -> np.ndarray:
    """The updates exactly as the teaching table writes them, step after step."""
    m = v = u = np.zeros_like(w)
    a = np.full_like(w, 0.1)
    for t, g in enumerate(grads, start=1):
        if name == "SGD":
            w = w - rate * g
        elif name == "SGD with momentum":
            u = 0.9 * u - rate * g
            w = w + u
        elif name in ("Adam", "AdamW"):
            if name == "AdamW":
                w = w - rate * 0.004 * w
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g ** 2
            w = w - rate * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-7)
        elif name == "RMSprop":
            v = 0.9 * v + 0.1 * g ** 2
            w = w - rate * g / np.sqrt(v + 1e-7)
        elif name == "Adagrad":
            a = a + g ** 2
            w = w - rate * g / np.sqrt(a + 1e-7)
    return w


@pytest.mark.parametrize("name", [*OPTIMIZERS, "SGD with momentum"])
def test_update_formulas_are_what_keras_does(name):
    import keras

    words = sgd_with_momentum(0.9) if name == "SGD with momentum" else optimizer_words(name)
    optimizer = (keras.optimizers.SGD(0.05, momentum=0.9) if name == "SGD with momentum"
                 else getattr(keras.optimizers, name)(learning_rate=0.05))
    config = optimizer.get_config()
    text = " ".join(words.update)
    for key in ("beta_1", "beta_2", "epsilon", "rho", "momentum", "weight_decay", "initial_accumulator_value"):
        if config.get(key):
            assert f"{config[key]:g}" in text or f"{1 - config[key]:g}" in text, (name, key)
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=5).astype("float32")
    grads = [rng.normal(size=5).astype("float32") for _ in range(3)]
    variable = keras.Variable(w0)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    assert np.allclose(np.asarray(variable), _numpy_update(name, w0.astype("float64"), grads, 0.05), atol=1e-5)


# ---- concepts: every key follows from the run -------------------------------------------


def test_concept_keys_follow_rules_on_the_runs_evidence(run):
    _, trace = run
    pool = quiz_pool(trace)
    p = trace.prediction
    q = trace.prediction.output_layer.values[p.label]
    one = next(x for x in pool if "What is its cross-entropy loss" in x.text)
    assert one.options[one.answer] == number(-math.log(min(max(q, 1e-7), 1 - 1e-7)))
    rate = next(x for x in pool if "What does the learning rate set" in x.text)
    assert run_optimizer(trace).step in rate.options[rate.answer]
    scale = next(x for x in pool if x.text.startswith("Why did preprocessing divide"))
    assert f"{trace.stages[1].details['scale']:g}" in scale.text and "0 and 1" in scale.options[scale.answer]
    curve = next((x for x in pool if x.text.startswith("Test loss per epoch")), None)
    losses = [e.test_loss for e in ([trace.training.start] if trace.training.start else []) + trace.training.epochs]
    falls = [b < a for a, b in zip(losses, losses[1:])]
    one_turn = any(all(falls[:k]) and not any(falls[k:]) for k in range(1, len(falls)))
    if len(trace.training.epochs) < 2 or not (all(falls) or not any(falls) or one_turn):
        assert curve is None  # no curve, or no single true reading of it
    else:
        key = curve.options[curve.answer]
        assert key.startswith("It fell after every epoch") == all(falls)
        assert key.startswith("It rose after every epoch") == (not any(falls))
        assert ("then rose" in key) == (one_turn and not all(falls) and any(falls))
    for question in pool:
        assert len(set(question.options)) == len(question.options) >= 2


# ---- one content, several renderings -----------------------------------------------------


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def test_the_report_panels_show_the_same_content(run):
    _, trace = run
    walk_html = _plain(html_modes.walk_panel(trace))
    for step in walk.steps(trace):
        for _, text in step.facts:
            assert " ".join(text.split()) in walk_html
    explain_html = _plain(html_modes.explain_panel(trace))
    for chapter in explain.chapters(trace):
        assert " ".join(chapter.mistakes.split()) in explain_html
    math_html = _plain(html_modes.math_panel(trace))
    for line in _math_texts(trace):
        assert " ".join(line.split()) in math_html


def test_glossary_explains_each_term_once_at_its_first_use(run):
    _, trace = run
    out = " ".join(_rendered(learn.explain_view(trace), width=200).split())
    chapters = " ".join(" ".join(_explain_texts(trace)).split())
    for entry in glossary.GLOSSARY:
        meaning = " ".join(entry.meaning.split())
        flags = 0 if any(c.isupper() for c in entry.term) else re.IGNORECASE
        used = re.search(entry.pattern, chapters, flags)
        assert out.count(meaning) == (1 if used else 0), entry.term
        if used:
            assert re.search(entry.pattern, out, flags).start() < out.index(meaning), entry.term


def test_80_columns_cut_nothing_and_wrapped_lines_stay_indented(run):
    _, trace = run
    for view in (learn.explain_view(trace), learn.math_view(trace), learn.cheatsheet_view(trace)):
        narrow, wide = _rendered(view, 80), _rendered(view, 1000)
        assert "…" not in narrow
        starts = [line.rstrip() for line in wide.splitlines()]
        for line in narrow.splitlines():
            if line[:1].strip():  # a line at column 0 must begin one of the content's own lines
                assert any(start.startswith(line.rstrip()) for start in starts), line
    seen: set[str] = set()
    for n, step in enumerate(walk.steps(trace)):
        panel = _rendered(learn.render_step(trace, step, n + 1, 7, walk.shuffled(step.question, n), seen), 80)
        assert "…" not in panel


@pytest.mark.parametrize("name", ["relu", "tanh-2-layers"])
def test_the_report_explains_each_term_once_in_the_section_that_first_uses_it(matrix, name):
    from pipetrace.views.html.report import render_html

    page = render_html(matrix[name])
    main = page[page.index("<main>"):page.index('<section id="walk"')]
    sections = re.findall(r'<section id="([^"]+)">(.*?)</section>', main, flags=re.S)
    explained: list[str] = []
    earlier = ""
    for ident, body in sections:
        note = re.search(r'<details class="glossary-note".*?</details>', body, flags=re.S)
        terms = re.findall(r"<dfn>(.*?)</dfn>", note.group(0)) if note else []
        text = _plain(body[: note.start()] if note else body)
        for term in terms:
            entry = next(e for e in glossary.GLOSSARY if e.term == html.unescape(term))
            flags = 0 if any(c.isupper() for c in entry.term) else re.IGNORECASE
            assert re.search(entry.pattern, text, flags), (ident, term)  # used in this section
            assert not re.search(entry.pattern, earlier, flags), (ident, term)  # and in none before
        explained += terms
        earlier += " " + text
    assert len(explained) == len(set(explained)) and {"epoch", "loss", "softmax"} <= set(explained)
    assert ("ReLU" in explained) == ("relu" in all_hidden_activations(matrix[name]))


def test_explain_says_what_each_layer_does_with_its_own_settings(run):
    _, trace = run
    chapter = next((c for c in explain.chapters(trace) if c.title == "Layer by layer"), None)
    kinds = {layer.kind for layer in trace.network.layers}
    if kinds == {"Dense"}:
        assert chapter is None  # the network chapter says it all
        return
    for layer in trace.network.layers:
        assert f"{layer.label or layer.kind}:" in chapter.what
    dropout = next((layer for layer in trace.network.layers if layer.kind == "Dropout"), None)
    if dropout is not None:
        rate = dropout.config["rate"]
        assert f"while training only, sets a random {rate:.0%}" in chapter.what and "during training" in chapter.mistakes
    for layer in trace.network.layers:
        if layer.kind == "Conv2D":
            assert f"slides {layer.config['filters']} filters of {'x'.join(map(str, layer.config['kernel_size']))}" in chapter.what


def test_math_gradient_agrees_with_a_finite_difference_through_every_layer(run):
    """The chain rule math prints, checked by moving the weight both ways (float64, NumPy only)."""
    from pipetrace.modes.arithmetic import arithmetic, cross_entropy, dense_layers, forward, input_values

    _, trace = run
    if not trace.weights:
        return  # a CNN: math has no weight to follow (see the chain-rule test)
    m = arithmetic(trace)
    layers = dense_layers(trace)
    x = input_values(trace, trace.prediction)
    i, j = m.weight
    h = 1e-6

    def loss_with(delta: float) -> float:
        moved = [(n, a, k.copy(), b) for n, a, k, b in layers]
        moved[0][2][i, j] += delta
        return cross_entropy(forward(moved, x)[1][-1], m.label)

    numeric = (loss_with(h) - loss_with(-h)) / (2 * h)
    assert abs(numeric - m.gradient) <= 1e-6 + 1e-4 * abs(numeric)


def test_explain_praises_nothing_the_evidence_does_not_show(matrix):
    """The training chapter's advice follows the run's evidence: the loss against its untrained start, chance, the test loss."""
    import copy

    base = matrix["relu"]
    training = lambda t: next(c for c in explain.chapters(t) if c.title == "Training")  # noqa: E731
    exploded = copy.deepcopy(base)
    exploded.training.epochs[-1].loss = 5.9e13
    said = training(exploded).mistakes
    assert "above the untrained network's" in said and "5.9e+13" in said and "typical for Adam" in said
    guessing = copy.deepcopy(base)
    guessing.evaluation.test_accuracy = guessing.training.epochs[-1].test_accuracy = 0.1
    said = " ".join(c.what + c.mistakes for c in explain.chapters(guessing))
    assert "not clearly above" in said and "hardest" not in said and "generaliz" not in said
    weak = copy.deepcopy(base)  # above chance beyond noise, yet far from learned (the 1e6 learning-rate run: 14.4%)
    classes, count = len(weak.dataset["class_names"]), weak.dataset["test_count"]
    bar = baseline(weak).accuracy  # the higher of chance and always answering the most common training label
    weak.evaluation.test_accuracy = weak.training.epochs[-1].test_accuracy = bar + 4 * (bar * (1 - bar) / count) ** 0.5
    weak.evaluation.per_class_accuracy = [1.0] + [0.0] * (classes - 1)  # one class for everything: '0' is 'easiest'
    said = next(c for c in explain.chapters(weak) if c.title == "Evaluation").what
    assert "easiest" not in said and "not clearly learned" in said
    rising = copy.deepcopy(base)
    rising.training.epochs[-1].test_loss = rising.training.epochs[0].test_loss + 0.5
    assert "over-fitting" in training(rising).mistakes and "lowest after epoch 1" in training(rising).mistakes


def test_mode_content_is_plain_data_apart_from_its_drawing():
    """The modes build content without rich, the views, or TensorFlow; the views import the modes, not the reverse."""
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys\n"
            "import pipetrace.modes.walk, pipetrace.modes.explain, pipetrace.modes.math, pipetrace.modes.cheatsheet\n"
            "import pipetrace.modes.quiz, pipetrace.modes.compare, pipetrace.insights.glossary, pipetrace.insights.teaching\n"
            "print(sorted(m for m in sys.modules if m.startswith(('rich', 'pipetrace.views', 'tensorflow', 'keras'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
