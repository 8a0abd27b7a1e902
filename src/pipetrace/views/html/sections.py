"""The report's sections as HTML, one function a section, each reading only the Trace.

Every string that comes from a trace goes through `e()` (HTML-escaped); numbers are
formatted here, never computed. What JavaScript adds (hover values, switching samples,
drawing, the quiz) works on elements these functions already filled, so the page reads
fully without JavaScript.
"""

from __future__ import annotations

import math
from html import escape

from pipetrace.stages.measure import shape_text
from pipetrace.trace import ArrayInfo, Network, Prediction, Stage, Trace
from pipetrace.views.html import charts
from pipetrace.views.html.pictures import png_uri, strip_uri

LETTERS = "ABCDEFGHIJ"


def e(value) -> str:
    """Text from a trace, made safe to place in HTML (text or attribute)."""
    return escape(str(value), quote=True)


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def section(ident: str, title: str, subtitle: str, body: str, intro: str = "") -> str:
    small = f" <small>{e(subtitle)}</small>" if subtitle else ""
    lead = f'<p class="intro">{intro}</p>' if intro else ""
    return f'<section id="{ident}"><h2>{e(title)}{small}</h2>{lead}{body}</section>'


# ---- 1. header ------------------------------------------------------------------------------
def header(trace: Trace) -> str:
    ev, training, network = trace.evaluation, trace.training, trace.network
    dataset = trace.dataset
    kpis = [
        ("Test accuracy", pct(ev.test_accuracy, 2), f"on {dataset['test_count']:,} images never trained on"),
        ("Parameters", f"{network.total_params:,}", "weights and biases learned"),
        ("Epochs", f"{len(training.epochs)} of {training.epochs_planned}", f"{training.steps_per_epoch:,} batches of {training.batch_size} each"),
        ("Training time", seconds(training.seconds), f"{trace.environment.get('device', 'CPU')}, status {training.status}"),
    ]
    cards = "".join(
        f'<div class="kpi"><span class="kpi-label">{e(label)}</span><strong>{e(value)}</strong>'
        f'<span class="kpi-note">{e(note)}</span></div>'
        for label, value, note in kpis
    )
    timings = "".join(f"<tr><th>{e(name)}</th><td>{e(seconds(s))}</td></tr>" for name, s in trace.timings.items())
    versions = "".join(f"<tr><th>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in trace.environment.items())
    nav = "".join(
        f'<a href="#{ident}">{e(title)}</a>'
        for ident, title in [("data-flow", "Data Flow"), ("training", "Training"), ("prediction", "Prediction"),
                             ("draw", "Draw a digit"), ("evaluation", "Evaluation"), ("quiz", "Quiz"),
                             ("insights", "Insights")]
    )
    status = "" if trace.status == "completed" else f'<p class="warning">This run {e(trace.status)}.</p>'
    return f"""<header class="hero">
<p class="eyebrow">pipetrace · Model Pipeline Trace</p>
<h1>How a first neural network learned {e(dataset['name'])}</h1>
<p class="lede"><span class="dataset">{e(dataset['source'])}</span> · {dataset['train_count']:,} training and
{dataset['test_count']:,} test images of {e(shape_text(dataset['image_shape']))} pixels<br>
<code>{e(network.architecture)}</code>, {e(network.optimizer)} (learning rate {network.learning_rate:g},
{e(network.schedule)}), loss {e(network.loss)}</p>
{status}<div class="kpis">{cards}</div>
<div class="facts">
<details><summary>How long each part took</summary><table class="kv">{timings}</table></details>
<details><summary>Library versions</summary><table class="kv">{versions}</table></details>
</div>
<nav aria-label="Sections">{nav}</nav>
</header>"""


# ---- 2. data flow ---------------------------------------------------------------------------
def data_flow(trace: Trace) -> str:
    cards = "".join(_stage_card(stage, trace) for stage in trace.stages)
    intro = "Each stage below ran in this run; its shapes, values and times are what it measured."
    return section("data-flow", "Data Flow", f"{len(trace.stages)} stages", f'<div class="stages">{cards}</div>', intro)


def _stage_card(stage: Stage, trace: Trace) -> str:
    picture = {1: _load_picture, 2: _preprocess_picture, 3: _flatten_picture, 4: _split_picture,
               5: _network_picture}.get(stage.number, lambda s, t: "")(stage, trace)
    ins = "".join(_array(a) for a in stage.inputs) or '<span class="array none">files on disk</span>'
    outs = "".join(_array(a) for a in stage.outputs)
    return f"""<article class="card stage" id="stage-{stage.number}">
<header><span class="badge">{stage.number}</span><h3>{e(stage.name)}</h3><span class="time">{e(seconds(stage.seconds))}</span></header>
<p class="did">{e(stage.did)}</p>
<div class="flow"><div class="arrays">{ins}</div><span class="to" aria-label="becomes">→</span><div class="arrays">{outs}</div></div>
<figure class="picture picture-{stage.number}">{picture}</figure>
<p class="example">{e(stage.example)}</p>
</article>"""


def _array(info: ArrayInfo) -> str:
    return (f'<span class="array"><b>{e(info.name)}</b> {e(shape_text(info.shape))} <i>{e(info.dtype)}</i> '
            f'<span class="range">{info.min:.4g}..{info.max:.4g}</span></span>')


def _load_picture(stage: Stage, trace: Trace) -> str:
    label = trace.dataset["class_names"][stage.details["sample_label"]]
    return (f'<img class="digit large" src="{png_uri(stage.details["sample_image"])}" '
            f'alt="the followed test image, a {e(label)}"><figcaption>Test image {trace.settings.sample}, '
            f'labelled <b>{e(label)}</b>, as stored: 28 x 28 whole numbers from 0 (black) to 255 (white).</figcaption>')


def _preprocess_picture(stage: Stage, trace: Trace) -> str:
    rows = "".join(
        f"<tr><td>({x['row']}, {x['col']})</td><td>{x['before']}</td><td>{x['after']:.4f}</td></tr>"
        for x in stage.details.get("examples", [])
    )
    image = trace.stages[0].details["sample_image"]
    return f"""<div class="hover-digit"><img class="digit large" id="pixel-image" src="{png_uri(image)}"
alt="the same image after scaling; hover to read its pixels"><span class="pixel-box" hidden></span></div>
<div><output id="pixel-readout" class="readout">Hover over (or tap) the image to read any pixel before and after.</output>
<table class="mini"><thead><tr><th>pixel</th><th>before</th><th>after</th></tr></thead><tbody>{rows}</tbody></table></div>"""


def _flatten_picture(stage: Stage, trace: Trace) -> str:
    d = stage.details
    size = d["height"] * d["width"]
    per_line = 7 * d["width"]  # the one long row, cut in 4 pieces so each value stays visible
    image = trace.stages[0].details["sample_image"]
    lines = []
    for start in range(0, size, per_line):
        stop = min(start + per_line, size)
        mark = ""
        if start <= d["index"] < stop:
            mark = f'<span class="strip-mark" style="left:{100 * (d["index"] - start + 0.5) / per_line:.2f}%"></span>'
        lines.append(f'<div class="strip-line"><span class="strip-from">{start}</span><div class="strip-wrap">'
                     f'<img class="strip" src="{strip_uri(image, start, stop)}" alt="values {start} to {stop - 1}">'
                     f'{mark}</div></div>')
    return (f'<div class="strip-box">{"".join(lines)}</div>'
            f'<figcaption>The {size} values of the image in one row (shown in 4 pieces of {per_line}): row 0 first, '
            f'each image row a bright burst where the stroke crosses it. The mark is pixel '
            f'({d["row"]}, {d["col"]}), now index {d["index"]}.</figcaption>')


def _split_picture(stage: Stage, trace: Trace) -> str:
    d = stage.details
    train, test = sum(d["train_counts"]), sum(d["test_counts"])
    share = 100 * train / max(train + test, 1)
    heads = "".join(f"<th>{e(name)}</th>" for name in d["class_names"])
    tr = "".join(f"<td>{n:,}</td>" for n in d["train_counts"])
    te = "".join(f"<td>{n:,}</td>" for n in d["test_counts"])
    return f"""<div class="split-bar"><span class="train" style="width:{share:.2f}%">training {train:,}</span><span class="test">test {test:,}</span></div>
<table class="mini counts"><thead><tr><th>digit</th>{heads}</tr></thead>
<tbody><tr><th class="train-key">training</th>{tr}</tr><tr><th class="test-key">test</th>{te}</tr></tbody></table>"""


def _network_picture(stage: Stage, trace: Trace) -> str:
    return network_svg(trace.network)


def network_svg(network: Network) -> str:
    """The network as columns of neurons (a few drawn, the rest elided) with parameter counts."""
    if not network.layers:
        return ""
    columns = [("Input", network.layers[0].input_size, "pixels")]
    columns += [(layer.name, layer.units, layer.activation) for layer in network.layers]
    width, height, top = 560, 250, 46
    xs = [60 + i * (width - 120) / (len(columns) - 1) for i in range(len(columns))]
    dots: list[list[float]] = []
    parts = []
    for x, (name, units, kind) in zip(xs, columns):
        shown = min(units, 8)
        gap = (height - top - 40) / max(shown, 1)
        ys = [top + gap * (i + 0.5) for i in range(shown)]
        dots.append(ys)
        parts.append(f'<text x="{x:.0f}" y="18" class="n-name">{e(name)}</text>'
                     f'<text x="{x:.0f}" y="34" class="n-size">{units:,} · {e(kind)}</text>')
    for i in range(len(columns) - 1):
        for y1 in dots[i]:
            for y2 in dots[i + 1]:
                parts.append(f'<line x1="{xs[i]:.0f}" y1="{y1:.0f}" x2="{xs[i + 1]:.0f}" y2="{y2:.0f}"/>')
        layer = network.layers[i]
        mid = (xs[i] + xs[i + 1]) / 2
        parts.append(f'<text x="{mid:.0f}" y="{height - 22}" class="n-params">{layer.weights:,} weights</text>'
                     f'<text x="{mid:.0f}" y="{height - 6}" class="n-params">+ {layer.biases:,} biases</text>')
    for x, ys, (_, units, _) in zip(xs, dots, columns):
        for y in ys:
            parts.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="7"/>')
        if units > len(ys):
            parts.append(f'<text x="{x + 16:.0f}" y="{ys[-1] + 4:.0f}" class="n-more">+{units - len(ys):,}</text>')
    label = f"{network.architecture}: {network.total_params:,} parameters"
    return (f'<svg class="network" viewBox="0 0 {width} {height}" role="img" aria-label="{e(label)}">'
            f'{"".join(parts)}</svg><figcaption>{network.total_params:,} parameters in all, '
            f'every one learned in this run.</figcaption>')


# ---- 3. training ------------------------------------------------------------------------------
def training(trace: Trace) -> str:
    t = trace.training
    rows = "".join(
        f"<tr><td>{ep.epoch}</td><td>{num(ep.loss)}</td><td>{pct(ep.accuracy, 2)}</td><td>{num(ep.test_loss)}</td>"
        f"<td>{pct(ep.test_accuracy, 2)}</td><td>{e(seconds(ep.seconds))}</td><td class='obs'>{e(ep.observation)}</td></tr>"
        for ep in t.epochs
    )
    status = "" if t.status == "completed" else f'<p class="warning">Training {e(t.status)}.</p>'
    charts_html = ""
    if t.epochs:
        charts_html = f'<div class="chart-box">{charts.epoch_chart(t)}</div><div class="chart-box">{charts.batch_chart(t)}</div>'
    body = f"""{status}{charts_html}
<div class="table-wrap"><table class="epochs"><thead><tr><th>epoch</th><th>loss</th><th>accuracy</th><th>test loss</th>
<th>test accuracy</th><th>time</th><th>what happened</th></tr></thead><tbody>{rows}</tbody></table></div>"""
    intro = ("The network saw the training images in batches; after each epoch it was measured on both sets. "
             "Training and test lines close together mean it learned digits, not the particular images.")
    return section("training", "Training Trace", f"{len(t.epochs)} epochs", body, intro)


# ---- 4. prediction trace ------------------------------------------------------------------------
def prediction(trace: Trace) -> str:
    samples = trace.samples or [trace.prediction]
    names = trace.dataset["class_names"]
    buttons = "".join(
        f'<button type="button" class="pick {"right" if p.correct else "wrong"}" data-sample="{i}" '
        f'aria-pressed="{"true" if i == 0 else "false"}" title="test image {p.sample}: a {e(names[p.label])}, '
        f'predicted {e(names[p.predicted])}"><img class="digit" src="{png_uri(p.image)}" alt="">'
        f'<span>{"✓" if p.correct else "✗"} {e(names[p.predicted])}</span></button>'
        for i, p in enumerate(samples)
    )
    right = sum(p.correct for p in samples)
    intro = (f"Follow one test image through all four layers. The run chose {len(samples)} images: "
             f"the one it followed, {right - (1 if samples[0].correct else 0)} more it got right and "
             f"{len(samples) - right - (0 if samples[0].correct else 1)} more it got wrong. Pick one:")
    body = (f'<div class="picker" role="group" aria-label="test images">{buttons}</div>'
            f'{layer_panels("sample", samples[0], names)}')
    return section("prediction", "Prediction Trace", f"{len(samples[0].layers)} layers", body, intro)


def shown_layers(p: Prediction | None) -> list:
    """The four layers the page shows: input, the first hidden layer, the output, the prediction."""
    layers = p.layers if p else []
    if len(layers) < 4:
        return [None] * 4
    return [layers[0], layers[1], layers[-2], layers[-1]]


def layer_panels(kind: str, p: Prediction | None, names: list[str], draw_canvas: bool = False, units: int = 128) -> str:
    """Input -> hidden -> output -> prediction, filled with `p` (or left empty for the drawing)."""
    layers = shown_layers(p)
    title = [layer.name if layer else n for layer, n in
             zip(layers, ["Input", "Hidden: Dense + ReLU", "Output: Dense + Softmax", "Prediction"])]
    summary = [e(layer.summary) if layer else "" for layer in layers]
    hidden = layers[1].values if layers[1] else [0.0] * units
    top = max(hidden) if hidden and max(hidden) > 0 else 1.0
    cells = "".join(f'<i style="--a:{v / top:.3f}" title="neuron {j}: {v:.3f}"></i>' for j, v in enumerate(hidden))
    probs = layers[2].values if layers[2] else [0.0] * len(names)
    best = max(range(len(probs)), key=probs.__getitem__) if layers[2] else -1
    bars = "".join(
        f'<li class="{"best" if i == best else ""}"><span class="d">{e(names[i])}</span><span class="bar">'
        f'<i style="width:{100 * v:.2f}%"></i></span><span class="v">{100 * v:.2f}%</span></li>'
        for i, v in enumerate(probs)
    )
    if draw_canvas:
        image = '<canvas class="digit large" data-part="canvas" width="28" height="28" aria-label="what the network sees"></canvas>'
    else:
        image = f'<img class="digit large" data-part="image" src="{png_uri(p.image)}" alt="the input image">'
    if p:
        verdict = f"true label {e(names[p.label])}: {'right' if p.correct else 'wrong'}"
        state = "right" if p.correct else "wrong"
        predicted, confidence = e(names[p.predicted]), f"{100 * p.confidence:.2f}% sure"
    else:
        verdict, state, predicted, confidence = "draw a digit to see what the network says", "", "?", ""
    return f"""<div class="layers" data-trace="{kind}">
<div class="layer"><h4><span class="badge">1</span>{e(title[0])}</h4><div class="shape">784 values</div>{image}<p class="summary" data-part="summary-0">{summary[0]}</p></div>
<div class="layer"><h4><span class="badge">2</span>{e(title[1])}</h4><div class="shape">{len(hidden)} neurons, brighter = stronger</div><div class="neurons" data-part="hidden">{cells}</div><p class="summary" data-part="summary-1">{summary[1]}</p></div>
<div class="layer"><h4><span class="badge">3</span>{e(title[2])}</h4><div class="shape">{len(probs)} probabilities</div><ol class="probs" data-part="probs">{bars}</ol><p class="summary" data-part="summary-2">{summary[2]}</p></div>
<div class="layer verdict {state}" data-part="verdict-box"><h4><span class="badge">4</span>{e(title[3])}</h4><div class="big" data-part="predicted">{predicted}</div><div class="conf" data-part="confidence">{confidence}</div><div class="truth" data-part="verdict">{verdict}</div><p class="summary" data-part="summary-3">{summary[3]}</p></div>
</div>"""


# ---- 5. draw your own digit ------------------------------------------------------------------------
def draw(trace: Trace) -> str:
    names = trace.dataset["class_names"]
    if not trace.weights:
        body = ('<p class="warning">This trace holds no weights the page can run: it was written before pipetrace '
                'kept them, or its network has layers other than Dense and Dropout.</p>')
        return section("draw", "Draw your own digit", "", body)
    total = sum(w.kernel.shape[0] * w.kernel.shape[1] + w.bias.shape[0] for w in trace.weights)
    intro = (f"Draw a digit with your mouse or finger. This page holds the {total:,} trained weights and runs the "
             "network itself, in JavaScript: your drawing is prepared the way MNIST digits were (cropped, scaled into "
             "a 20 x 20 box, centred by its centre of mass in 28 x 28, values 0..1), then sent through every layer.")
    body = f"""<div class="draw-grid">
<div class="pad-box"><canvas id="pad" width="280" height="280" aria-label="drawing pad: draw a digit here"></canvas>
<div class="pad-tools"><button type="button" id="clear-pad">Clear</button><span class="hint">Tip: draw large and centred, with one stroke per line.</span></div>
<noscript><p class="warning">Drawing needs JavaScript.</p></noscript></div>
{layer_panels("draw", None, names, draw_canvas=True, units=trace.weights[0].kernel.shape[1])}
</div>"""
    return section("draw", "Draw your own digit", "live, in your browser", body, intro)


# ---- 6. evaluation -------------------------------------------------------------------------------
def evaluation(trace: Trace) -> str:
    ev, names = trace.evaluation, trace.dataset["class_names"]
    charts_html = (f'<div class="two"><div class="chart-box">{charts.confusion_chart(ev, names)}'
                   f'<p class="caption">Rows: the true digit; columns: what the network said. The diagonal is right.</p></div>'
                   f'<div class="chart-box">{charts.per_class_chart(ev, names)}</div></div>')
    if ev.mistakes:
        items = "".join(
            f'<figure class="mistake"><img class="digit" src="{png_uri(m.image)}" alt="test image {m.index}">'
            f'<figcaption><b>{e(names[m.predicted])}</b> <span>was {e(names[m.label])}</span>'
            f'<small>#{m.index} · {100 * m.confidence:.0f}%</small></figcaption></figure>'
            for m in ev.mistakes
        )
        gallery = f'<h3>Mistakes <small>said (bold) and true label, test index, confidence</small></h3><div class="gallery">{items}</div>'
    elif ev.misclassified:
        gallery = f"<h3>Mistakes</h3><p>Misclassified test images: {e(', '.join(map(str, ev.misclassified)))}</p>"
    else:
        gallery = "<h3>Mistakes</h3><p>None: every test image was classified correctly.</p>"
    wrong = sum(sum(row) for row in ev.confusion) - sum(ev.confusion[i][i] for i in range(len(ev.confusion)))
    intro = (f"All {trace.dataset['test_count']:,} test images, predicted once: {pct(ev.test_accuracy, 2)} right, "
             f"{wrong:,} wrong, test loss {num(ev.test_loss)}.")
    return section("evaluation", "Evaluation", "the whole test set", charts_html + gallery, intro)


# ---- 7. quiz -----------------------------------------------------------------------------------
def quiz(trace: Trace) -> str:
    items = []
    for n, q in enumerate(trace.quiz):
        options = "".join(
            f'<button type="button" class="option" data-option="{i}"><span class="letter">{LETTERS[i]}</span>{e(text)}</button>'
            for i, text in enumerate(q.options)
        )
        items.append(f"""<li class="question" data-answer="{q.answer}" id="question-{n + 1}">
<p class="q">{e(q.text)} <span class="tag">{e(q.level)} · {e(q.kind)}</span></p>
<div class="options" role="group" aria-label="answers to question {n + 1}">{options}</div>
<p class="feedback" aria-live="polite"></p>
<details class="answer-key"><summary>Show the answer</summary><p><b>{LETTERS[q.answer]}.</b> <span class="answer-text">{e(q.options[q.answer])}</span>. <span class="explanation">{e(q.explanation)}</span></p></details>
</li>""")
    body = (f'<p class="score" id="quiz-score" aria-live="polite">Score: 0 right of 0 answered ({len(trace.quiz)} questions)</p>'
            f'<ol class="quiz">{"".join(items)}</ol><button type="button" id="quiz-reset" hidden>Start the quiz again</button>')
    intro = "Every answer is a number or a fact from this run. Click an answer (or Tab to it and press Enter)."
    return section("quiz", "Model Quiz", f"{len(trace.quiz)} questions", body, intro)


# ---- 8. insights ---------------------------------------------------------------------------------
def insights(trace: Trace) -> str:
    items = "".join(
        f'<li><p>{e(i.text)}</p><p class="figures">'
        + " ".join(f"<span>{e(k)} <b>{e(_figure(v))}</b></span>" for k, v in i.figures.items())
        + "</p></li>"
        for i in trace.insights
    )
    return section("insights", "Key Insights", f"{len(trace.insights)} from this run", f'<ul class="insights">{items}</ul>')


def _figure(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def footer(trace: Trace) -> str:
    version = trace.environment.get("pipetrace", "")
    return (f'<footer><p>Written by pipetrace {e(version)} from the trace of a run made {e(trace.created_at)}. '
            f'Every number on this page was measured in that run. This page is one file: it makes no request '
            f'to any other address and works offline.</p></footer>')
