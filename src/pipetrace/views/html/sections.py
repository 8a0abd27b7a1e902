"""The report's sections as HTML, one function a section, each reading only the Trace.

Every value that comes from a trace enters the HTML through `markup.e()` (escaped) or
`markup.fmt()` (a number formatted, or, if it is not a number, escaped), even where the
schema promises a number: a page must stay inert for a trace from anyone. Numbers are
formatted here, never computed. What JavaScript adds (hover values, switching samples,
drawing, the quiz) works on elements these functions already filled, so the page reads
fully without JavaScript.
"""

from __future__ import annotations

import base64
import binascii
import math

from pipetrace.numbers import count, percent
from pipetrace.stages.measure import shape_text
from pipetrace.views.recorded_fit import STAGES_NOT_SEEN
from pipetrace.trace import ArrayInfo, Network, Prediction, Stage, Trace
from pipetrace.views.html import charts
from pipetrace.views.html.markup import e, fmt, index, is_number, pick
from pipetrace.views.html.pictures import channel_planes, flat_values, map_uri, png_uri, strip_uri

LETTERS = "ABCDEFGHIJ"


def letter(answer) -> str:
    """The letter of an option (A, B, ...); '?' for an index that names no option."""
    return pick(LETTERS, answer)


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage (never a rounded 100% or 0%, see pipetrace.numbers), as safe HTML;
    '–' when not measured."""
    if value is None:
        return "–"
    return e(percent(value, digits)) if is_number(value) else e(value)


def num(value: float | None, digits: int = 4) -> str:
    """A measured number with fixed decimals, as safe HTML ('–' when not measured or not finite)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return fmt(value, f".{digits}f")


def seconds(value: float) -> str:
    """A duration in µs, ms or s, as safe HTML."""
    if not is_number(value):
        return e(value)
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def pixel_max(trace: Trace) -> float:
    """The value of full ink in the stored images (255 for MNIST, 16 for scikit-learn's digits)."""
    value = trace.dataset.get("pixel_max")
    if value is None and trace.stages:
        value = trace.stages[0].details.get("pixel_max")
    return float(value) if is_number(value) and value > 0 else 255.0


def image_uri(trace: Trace, pixels) -> str:
    """A stored image (grey or colour) as a PNG, scaled by the data's own full-ink value."""
    return png_uri(pixels, pixel_max(trace))


def image_shape(trace: Trace) -> tuple[int, int, int]:
    """Height, width and channels of the data's images."""
    shape = trace.dataset.get("image_shape")
    if not isinstance(shape, list) or not 2 <= len(shape) <= 3 or not all(index(n, 1 << 16) for n in shape):
        shape = [28, 28]
    return shape[0], shape[1], shape[2] if len(shape) > 2 else 1


def noun(trace: Trace) -> str:
    """'digit' when the classes are the ten digits, else 'image'."""
    names = trace.dataset.get("class_names") or []
    return "digit" if names and all(n in "0123456789" and len(n) == 1 for n in map(str, names)) else "image"


def section(ident: str, title: str, subtitle: str, body: str, intro: str = "") -> str:
    """A report section: `title` and `subtitle` are text (escaped here); `body` and `intro` are HTML already."""
    small = f" <small>{e(subtitle)}</small>" if subtitle else ""
    lead = f'<p class="intro">{intro}</p>' if intro else ""
    return f'<section id="{ident}"><h2>{e(title)}{small}</h2>{lead}{body}</section>'


# ---- 1. header ------------------------------------------------------------------------------
def header(trace: Trace) -> str:
    ev, training, network = trace.evaluation, trace.training, trace.network
    dataset = trace.dataset
    kpis = [  # label, value and note, each safe HTML
        ("Test accuracy", pct(ev.test_accuracy, 2), f"on {fmt(dataset['test_count'], ',')} images never trained on"),
        ("Parameters", fmt(network.total_params, ","), "weights and biases learned"),
        ("Epochs", f"{len(training.epochs)} of {fmt(training.epochs_planned)}",
         f"{fmt(training.steps_per_epoch, ',')} batches of "
         + (f"{fmt(training.batch_size)} each" if training.batch_size else "a size not recorded")),
        ("Training time", seconds(training.seconds),
         f"{e(trace.environment.get('device', 'CPU'))}, status {e(training.status)}"),
    ]
    cards = "".join(
        f'<div class="kpi"><span class="kpi-label">{label}</span><strong>{value}</strong>'
        f'<span class="kpi-note">{note}</span></div>'
        for label, value, note in kpis
    )
    timings = "".join(f"<tr><th>{e(name)}</th><td>{seconds(s)}</td></tr>" for name, s in trace.timings.items())
    versions = "".join(f"<tr><th>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in trace.environment.items())
    nav = "".join(
        f'<a href="#{ident}">{e(title)}</a>'
        for ident, title in [("data-flow", "Data Flow"), ("training", "Training"), ("prediction", "Prediction"),
                             ("draw", f"Draw {'a digit' if noun(trace) == 'digit' else 'your own'}"),
                             ("evaluation", "Evaluation"), ("quiz", "Quiz"),
                             ("insights", "Insights")]
    )
    status = "" if trace.status == "completed" else f'<p class="warning">This run {e(trace.status)}.</p>'
    return f"""<header class="hero">
<p class="eyebrow">pipetrace · Model Pipeline Trace</p>
<h1>How {'your model' if not trace.stages else 'a first neural network'} learned {e(dataset['name'])}</h1>
<p class="lede"><span class="dataset">{e(dataset['source'])}</span> · {fmt(dataset['train_count'], ',')} training and
{fmt(dataset['test_count'], ',')} test images of {e(_pixels_text(trace))}<br>
<code>{e(network.architecture)}</code>, {e(network.optimizer_label)} (learning rate {fmt(network.learning_rate, 'g')},
{e(network.schedule)}), loss {e(network.loss)}</p>
{status}<div class="kpis">{cards}</div>
<div class="facts">
<details><summary>How long each part took</summary><table class="kv">{timings}</table></details>
<details><summary>Library versions</summary><table class="kv">{versions}</table></details>
</div>
<nav aria-label="Sections">{nav}</nav>
</header>"""


def _pixels_text(trace: Trace) -> str:
    height, width, channels = image_shape(trace)
    if channels == 3:
        return f"{height} x {width} colour pixels (red, green, blue)"
    return f"{height} x {width} pixels" if channels == 1 else f"{height} x {width} pixels of {channels} channels"


# ---- 2. data flow ---------------------------------------------------------------------------
def data_flow(trace: Trace) -> str:
    if not trace.stages:  # TraceCallback.to_trace: a fit of yours, its data stages never seen
        return section("data-flow", "Data Flow", "not recorded", f"<p>{e(STAGES_NOT_SEEN)}</p>", "")
    cards = "".join(_stage_card(stage, trace) for stage in trace.stages)
    intro = "Each stage below ran in this run; its shapes, values and times are what it measured."
    return section("data-flow", "Data Flow", f"{len(trace.stages)} stages", f'<div class="stages">{cards}</div>', intro)


def _stage_card(stage: Stage, trace: Trace) -> str:
    number = fmt(stage.number)
    ins = "".join(_array(a) for a in stage.inputs) or '<span class="array none">files on disk</span>'
    outs = "".join(_array(a) for a in stage.outputs)
    return f"""<article class="card stage" id="stage-{number}">
<header><span class="badge">{number}</span><h3>{e(stage.name)}</h3><span class="time">{seconds(stage.seconds)}</span></header>
<p class="did">{e(stage.did)}</p>
<div class="flow"><div class="arrays">{ins}</div><span class="to" aria-label="becomes">→</span><div class="arrays">{outs}</div></div>
<figure class="picture picture-{number}">{_stage_picture(stage, trace)}</figure>
<p class="example">{e(stage.example)}</p>
</article>"""


def _stage_picture(stage: Stage, trace: Trace) -> str:
    """The stage's picture; a stage whose details this page cannot draw says so, and the page goes on."""
    try:
        draw = {1: _load_picture, 2: _preprocess_picture, 3: _shape_picture, 4: _split_picture,
                5: _network_picture}.get(stage.number)
        return draw(stage, trace) if draw else ""
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ZeroDivisionError) as error:
        return f'<p class="warning">This stage\'s picture cannot be drawn from this trace ({e(type(error).__name__)}).</p>'


def _array(info: ArrayInfo) -> str:
    return (f'<span class="array"><b>{e(info.name)}</b> {e(shape_text(info.shape))} <i>{e(info.dtype)}</i> '
            f'<span class="range">{fmt(info.min, ".4g")}..{fmt(info.max, ".4g")}</span></span>')


def _load_picture(stage: Stage, trace: Trace) -> str:
    label = pick(trace.dataset["class_names"], stage.details["sample_label"], str(stage.details["sample_label"]))
    height, width, channels = image_shape(trace)
    top = pixel_max(trace)
    if channels == 3:
        stored = f"{height} x {width} pixels, each a red, a green and a blue value from 0 to {top:g}"
    else:
        stored = f"{height} x {width} values from 0 (black) to {top:g} (white, full ink)"
    return (f'<img class="digit large" src="{image_uri(trace, stage.details["sample_image"])}" '
            f'alt="the followed test image, a {e(label)}"><figcaption>Test image {fmt(trace.settings.sample)}, '
            f'labelled <b>{e(label)}</b>, as stored: {e(stored)}.</figcaption>')


def _preprocess_picture(stage: Stage, trace: Trace) -> str:
    rows = "".join(
        f"<tr><td>({fmt(x['row'])}, {fmt(x['col'])})</td><td>{_pixel_value(x['before'])}</td>"
        f"<td>{fmt(x['after'], '.4f')}</td></tr>"
        for x in stage.details.get("examples", [])
    )
    image = trace.stages[0].details["sample_image"]
    colour = " (red channel)" if image_shape(trace)[2] == 3 else ""
    return f"""<div class="hover-digit"><img class="digit large" id="pixel-image" src="{image_uri(trace, image)}"
alt="the same image after scaling; hover to read its pixels"><span class="pixel-box" hidden></span></div>
<div><output id="pixel-readout" class="readout">Hover over (or tap) the image to read any pixel before and after.</output>
<table class="mini"><thead><tr><th>pixel{colour}</th><th>before</th><th>after</th></tr></thead><tbody>{rows}</tbody></table></div>"""


def _pixel_value(value) -> str:
    """A stored pixel: one value, or [r, g, b] for colour, as safe HTML."""
    if isinstance(value, list):
        return "(" + ", ".join(fmt(v, "g") for v in value) + ")"
    return fmt(value, "g")


def _shape_picture(stage: Stage, trace: Trace) -> str:
    """Stage 3 is Flatten for Dense networks (a strip) and Reshape for convolutional ones (channel planes)."""
    if "index" in stage.details:
        return _flatten_picture(stage, trace)
    return _reshape_picture(stage, trace)


def _flatten_picture(stage: Stage, trace: Trace) -> str:
    d = stage.details
    image = trace.stages[0].details["sample_image"]
    values = flat_values(image)
    size = len(values)
    pieces = 4 if size >= 64 else 1
    per_line = -(-size // pieces)  # the one long row, cut in pieces so each value stays visible
    lines = []
    for start in range(0, size, per_line):
        stop = min(start + per_line, size)
        mark = ""
        if is_number(d["index"]) and start <= d["index"] < stop:
            mark = f'<span class="strip-mark" style="left:{100 * (d["index"] - start + 0.5) / per_line:.2f}%"></span>'
        lines.append(f'<div class="strip-line"><span class="strip-from">{start}</span><div class="strip-wrap">'
                     f'<img class="strip" src="{strip_uri(image, start, stop, pixel_max(trace))}" '
                     f'alt="values {start} to {stop - 1}">{mark}</div></div>')
    channels = d.get("channels", 1)
    order = ("row 0 first, each pixel bringing its " + f"{channels} channel values one after the other"
             if not is_number(channels) or channels > 1 else "row 0 first, each image row a bright burst where the stroke crosses it")
    shown = f" (shown in {len(lines)} pieces of {per_line})" if len(lines) > 1 else ""
    return (f'<div class="strip-box">{"".join(lines)}</div>'
            f'<figcaption>The {size} values of the image in one row{shown}: {e(order)}. The mark is pixel '
            f'({fmt(d["row"])}, {fmt(d["col"])}), now index {fmt(d["index"])}.</figcaption>')


def _reshape_picture(stage: Stage, trace: Trace) -> str:
    """The image as the stack of channel planes a Conv2D reads (one plane for grey, three for colour)."""
    d = stage.details
    image = trace.stages[0].details["sample_image"]
    planes = channel_planes(image)
    names = ["red", "green", "blue"] if len(planes) == 3 else [f"channel {c}" for c in range(len(planes))]
    top = pixel_max(trace)
    cells = "".join(
        f'<div class="plane" style="--i:{c}"><img class="digit" src="{png_uri(plane, top)}" alt="{e(name)}">'
        f'<span>[:, :, {c}] {e(name)}</span></div>'
        for c, (plane, name) in enumerate(zip(planes, names))
    )
    height, width, channels = d["height"], d["width"], d.get("channels", len(planes))
    added = stage.inputs and len(stage.inputs[0].shape) == 3
    what = (f"A new last axis of size 1: the {height} x {width} image is now {height} x {width} x 1, one channel "
            "plane, the layout a Conv2D layer reads. No value moved or changed."
            if added else
            f"Each colour image already is {height} x {width} x {channels}: {channels} channel planes that a Conv2D "
            "reads together. Nothing to add.")
    row, col = fmt(d["row"]), fmt(d["col"])
    return (f'<div class="planes">{cells}</div><figcaption>{e(what)} Pixel ({row}, {col}) is now at '
            f'[{row}, {col}, 0]. The image stays whole: the network flattens it later, in its own '
            f'Flatten layer (see the prediction trace).</figcaption>')


def _split_picture(stage: Stage, trace: Trace) -> str:
    d = stage.details
    train, test = sum(d["train_counts"]), sum(d["test_counts"])
    share = 100 * train / max(train + test, 1)
    heads = "".join(f"<th>{e(name)}</th>" for name in d["class_names"])
    tr = "".join(f"<td>{fmt(n, ',')}</td>" for n in d["train_counts"])
    te = "".join(f"<td>{fmt(n, ',')}</td>" for n in d["test_counts"])
    how = d.get("how") or trace.dataset.get("split") or ""
    how_html = f'<p class="how">How: {e(how)}.</p>' if how else ""
    return f"""<div class="split-bar"><span class="train" style="width:{share:.2f}%">training {train:,}</span><span class="test">test {test:,}</span></div>
{how_html}<div class="counts-wrap"><table class="mini counts"><thead><tr><th>{e(noun(trace) if noun(trace) == "digit" else "class")}</th>{heads}</tr></thead>
<tbody><tr><th class="train-key">training</th>{tr}</tr><tr><th class="test-key">test</th>{te}</tr></tbody></table></div>"""


def _network_picture(stage: Stage, trace: Trace) -> str:
    return network_svg(trace.network)


def network_svg(network: Network) -> str:
    """Every layer of the network with its output shape and parameter count.

    A network of Dense (and Dropout) layers is drawn as columns of neurons; any other network
    as a chain of layer cards, one per layer, each with a small picture of what its kind does.
    """
    layers = [layer for layer in network.layers if layer.kind != "InputLayer"]
    if not layers:
        return ""
    if all(layer.kind in ("Dense", "Dropout") for layer in layers):
        return _neuron_columns(network, layers)
    return _layer_chain(network, layers)


def _neuron_columns(network: Network, layers: list) -> str:
    first = layers[0]
    columns = [("Input", first.input_size, "values", "Input")]  # name, units, what it does (safe HTML), kind
    for layer in layers:
        if layer.kind == "Dropout":
            rate = layer.config.get("rate")
            columns.append((layer.name, layer.units, f"drops {fmt(rate, 'g')}" if rate is not None else "dropout", "Dropout"))
        else:
            columns.append((layer.name, layer.units, e(layer.activation or "linear"), layer.kind))
    step = 124
    width, height, top = max(560, 60 + step * (len(columns) - 1) + 60), 250, 46
    xs = [60 + i * (width - 120) / (len(columns) - 1) for i in range(len(columns))]
    dots: list[list[float]] = []
    parts = []
    for x, (name, units, sub, _) in zip(xs, columns):
        shown = min(units, 8)
        gap = (height - top - 40) / max(shown, 1)
        dots.append([top + gap * (i + 0.5) for i in range(shown)])
        parts.append(f'<text x="{x:.0f}" y="18" class="n-name">{e(name)}</text>'
                     f'<text x="{x:.0f}" y="34" class="n-size">{fmt(units, ",")} · {sub}</text>')
    for i, layer in enumerate(layers):
        if columns[i + 1][3] == "Dropout":  # unit j goes to unit j: a dropout layer connects one to one
            for y1, y2 in zip(dots[i], dots[i + 1]):
                parts.append(f'<line x1="{xs[i]:.0f}" y1="{y1:.0f}" x2="{xs[i + 1]:.0f}" y2="{y2:.0f}"/>')
        else:
            for y1 in dots[i]:
                for y2 in dots[i + 1]:
                    parts.append(f'<line x1="{xs[i]:.0f}" y1="{y1:.0f}" x2="{xs[i + 1]:.0f}" y2="{y2:.0f}"/>')
        mid = (xs[i] + xs[i + 1]) / 2
        if layer.params:
            parts.append(f'<text x="{mid:.0f}" y="{height - 22}" class="n-params">{fmt(layer.weights, ",")} weights</text>'
                         f'<text x="{mid:.0f}" y="{height - 6}" class="n-params">+ {fmt(layer.biases, ",")} biases</text>')
        else:
            parts.append(f'<text x="{mid:.0f}" y="{height - 14}" class="n-params">no parameters</text>')
    for x, ys, (_, units, _, kind) in zip(xs, dots, columns):
        css = ' class="drop"' if kind == "Dropout" else ""
        for y in ys:
            parts.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="7"{css}/>')
        if units > len(ys):
            parts.append(f'<text x="{x + 16:.0f}" y="{ys[-1] + 4:.0f}" class="n-more">+{units - len(ys):,}</text>')
    label = f"{network.architecture}: {network.total_params:,} parameters"
    return (f'<svg class="network" viewBox="0 0 {width:.0f} {height}" role="img" aria-label="{e(label)}">'
            f'{"".join(parts)}</svg><figcaption>{fmt(network.total_params, ",")} parameters in all, '
            f'every one learned in this run.</figcaption>')


_OFF = ' class="off"'
KIND_CLASS = {"Conv2D": "conv", "Conv1D": "conv", "DepthwiseConv2D": "conv", "SeparableConv2D": "conv",
              "MaxPooling2D": "pool", "AveragePooling2D": "pool", "GlobalAveragePooling2D": "pool",
              "GlobalMaxPooling2D": "pool", "MaxPooling1D": "pool", "Flatten": "flatten", "Reshape": "flatten",
              "Dense": "dense", "Dropout": "dropout", "BatchNormalization": "norm", "LayerNormalization": "norm",
              "Rescaling": "norm", "Normalization": "norm"}
GLYPHS = {
    "input": '<rect x="9" y="3" width="22" height="22" rx="3"/>',
    "conv": '<rect x="4" y="9" width="16" height="16" rx="2"/><rect x="12" y="6" width="16" height="16" rx="2"/>'
            '<rect x="20" y="3" width="16" height="16" rx="2"/>',
    "pool": '<rect x="3" y="3" width="20" height="20" rx="2"/><path d="M3 13h20M13 3v20"/>'
            '<path d="M26 13h4"/><rect x="31" y="9" width="8" height="8" rx="1"/>',
    "flatten": '<rect x="4" y="4" width="12" height="12" rx="2"/><path d="M18 10h4"/>'
               '<rect x="24" y="8" width="14" height="4" rx="1"/><rect x="24" y="15" width="14" height="4" rx="1"/>',
    "dense": ''.join(f'<circle cx="{x}" cy="{y}" r="3"/>' for x, ys in ((10, (6, 14, 22)), (30, (10, 18)))
                     for y in ys) + '<path d="M13 6l14 4M13 14l14 4M13 22l14-4M13 6l14 12M13 22l14-12"/>',
    "dropout": ''.join(f'<circle cx="{x}" cy="{y}" r="3"{_OFF if (x + y) % 3 == 0 else ""}/>'
                       for x in (8, 20, 32) for y in (7, 19)),
    "norm": '<path d="M3 24C12 24 14 4 20 4S28 24 37 24"/>',
    "other": '<rect x="6" y="5" width="28" height="18" rx="4"/><path d="M12 14h16"/>',
}


def _layer_chain(network: Network, layers: list) -> str:
    first = layers[0]
    shape = first.input_shape or [first.input_size]
    items = [_chain_item("input", "Input", shape, "the data, as stage 3 shaped it", None)]
    for layer in layers:
        kind = KIND_CLASS.get(layer.kind, "other")
        items.append(_chain_item(kind, layer.label or layer.kind, layer.output_shape or [layer.units], layer.name, layer))
    label = f"{network.architecture}: {network.total_params:,} parameters"
    return (f'<ol class="net-chain" aria-label="{e(label)}">{"".join(items)}</ol>'
            f'<figcaption>{len(layers)} layers, {fmt(network.total_params, ",")} parameters in all; the learned ones '
            f'are the kernels and biases of the Conv2D and Dense layers{" and the BatchNormalization scales" if any(l.kind == "BatchNormalization" for l in layers) else ""}.'
            f'</figcaption>')


def _chain_item(kind: str, title: str, shape, name: str, layer) -> str:
    params = ""
    if layer is not None:
        params = f"{fmt(layer.params, ',')} params" if layer.params else "no params"
    glyph = f'<svg class="glyph" viewBox="0 0 40 28" aria-hidden="true">{GLYPHS[kind]}</svg>'
    title_html = e(title).replace("(", "<wbr>(").replace(", ", ",<wbr> ")  # break between parts, not inside words
    return (f'<li class="net-layer k-{kind}">{glyph}<b>{title_html}</b><span class="net-shape">{e(shape_text(shape))}</span>'
            f'<span class="net-name">{e(name)}</span>' + (f'<span class="net-params">{params}</span>' if params else "") + "</li>")


# ---- 3. training ------------------------------------------------------------------------------
def training(trace: Trace) -> str:
    t = trace.training
    shown = ([t.start] if t.start is not None else []) + list(t.epochs)  # epoch 0: the untrained network
    train = ("train loss", "train accuracy") if t.train_measured_on else ("loss (running mean)", "accuracy (running mean)")
    # data-label: on a phone each row becomes a card, every number under its name (report.css)
    rows = "".join(
        f'<tr><td data-label="epoch">{fmt(ep.epoch)}</td><td data-label="{train[0]}">{num(ep.loss)}</td>'
        f'<td data-label="{train[1]}">{pct(ep.accuracy, 2)}</td><td data-label="test loss">{num(ep.test_loss)}</td>'
        f'<td data-label="test accuracy">{pct(ep.test_accuracy, 2)}</td><td data-label="time">{seconds(ep.seconds)}</td>'
        f"<td class='obs'>{e(ep.observation)}</td></tr>"
        for ep in shown
    )
    status = "" if t.status == "completed" else f'<p class="warning">Training {e(t.status)}.</p>'
    if t.restored_epoch == 0:
        status += ('<p class="warning">The loss became NaN, so the untrained starting weights were put back: the prediction '
                   "trace and the saved model show an untrained network.</p>")
    elif t.restored_epoch is not None:
        status += (f'<p class="warning">The loss became NaN, so the weights from the end of epoch {fmt(t.restored_epoch)} '
                   "were put back: the prediction trace and the saved model use those.</p>")
    charts_html = ""
    if t.epochs:
        (epochs, epochs_log), (batches, batches_log) = charts.epoch_charts(t), charts.batch_charts(t)
        charts_html = ('<p class="chart-tools"><button type="button" class="scale-toggle" aria-pressed="false">'
                       "Loss on a log scale</button></p>"  # the script shows one scale or the other
                       f'<div class="chart-box scale-linear">{epochs}</div><div class="chart-box scale-log" hidden>{epochs_log}</div>'
                       f'<div class="chart-box scale-linear">{batches}</div><div class="chart-box scale-log" hidden>{batches_log}</div>')
    body = f"""{status}{charts_html}
<div class="table-wrap"><table class="epochs"><thead><tr><th>epoch</th><th>{train[0]}</th><th>{train[1]}</th><th>test loss</th>
<th>test accuracy</th><th>time</th><th>what happened</th></tr></thead><tbody>{rows}</tbody></table></div>"""
    if t.train_measured_on:
        intro = (f"The network saw the training images in batches; after each epoch it was measured on both sets the same way "
                 f"(weights fixed, dropout off): {fmt(t.train_measured_on, ',')} training images and the test set."
                 + (" Epoch 0 is the untrained network, measured before training." if t.start is not None else "")
                 + " Training and test lines close together mean it learned the classes, not the particular images.")
    else:
        intro = ("The network saw the training images in batches. Loss and accuracy are the running means during each epoch "
                 "(weights changing, dropout on if any), so they are not measured like the test set's and are not compared with it.")
    return section("training", "Training Trace", count(len(t.epochs), "epoch"), body, intro)


# ---- 4. prediction trace ------------------------------------------------------------------------
MAX_NEURONS = 512  # a vector up to this long is drawn cell by cell; a longer one as a strip
MAPS_SHOWN = 16  # feature maps (or channels) drawn per layer


def prediction(trace: Trace) -> str:
    samples = trace.samples or [trace.prediction]
    names = trace.dataset["class_names"]
    buttons = "".join(
        f'<button type="button" class="pick {"right" if p.correct else "wrong"}" data-sample="{i}" '
        f'aria-pressed="{"true" if i == 0 else "false"}" title="test image {fmt(p.sample)}: a {e(pick(names, p.label))}, '
        f'predicted {e(pick(names, p.predicted))}"><img class="digit" src="{image_uri(trace, p.image)}" alt="">'
        f'<span>{"✓" if p.correct else "✗"} {e(pick(names, p.predicted))}</span></button>'
        for i, p in enumerate(samples)
    )
    right = sum(p.correct for p in samples)
    steps = len(samples[0].layers)
    intro = (f"Follow one test image through all {steps} steps: the input, every layer of the network, and the "
             f"prediction. The run chose {len(samples)} images: "
             f"the one it followed, {right - (1 if samples[0].correct else 0)} more it got right and "
             f"{len(samples) - right - (0 if samples[0].correct else 1)} more it got wrong. Pick one:")
    body = (f'<div class="picker" role="group" aria-label="test images">{buttons}</div>'
            f'{layer_panels("sample", samples[0], names, trace)}')
    return section("prediction", "Prediction Trace", f"{steps} steps", body, intro)


def step_role(p: Prediction, index: int) -> str:
    """How the page draws step `index` of a prediction trace: input, maps, neurons, strip, probs, verdict or text."""
    layer, last = p.layers[index], len(p.layers) - 1
    if index == 0:
        return "input"
    if index == last:
        return "verdict"
    if index == last - 1:
        return "probs"
    if layer.details.get("feature_maps"):
        return "maps"
    size = math.prod(layer.shape) if layer.shape else 0
    if len(layer.shape) == 3 and layer.values and len(layer.values) == size:
        return "maps"
    if len(layer.shape) == 1 and layer.values and len(layer.values) == size:
        return "neurons" if size <= MAX_NEURONS else "strip"
    return "text"


def step_maps(layer) -> tuple[list[str], int, int]:
    """Up to 16 of a layer's channels as PNGs on one shared scale (0 or the lowest value black, the highest white),
    with how many channels the layer has and how many are shown."""
    maps = layer.details.get("feature_maps")
    if maps:
        total = int(layer.details.get("filters", len(maps)))
        low = min(0.0, float(layer.details.get("map_min", min(min(min(r) for r in m) for m in maps))))
        high = float(layer.details.get("map_max", max(max(max(r) for r in m) for m in maps)))
    else:
        height, width, total = layer.shape
        values = layer.values
        maps = [[[values[(r * width + c) * total + f] for c in range(width)] for r in range(height)]
                for f in range(min(total, MAPS_SHOWN))]
        low, high = min(0.0, min(values)), max(values)
    maps = maps[:MAPS_SHOWN]
    return [map_uri(m, low, high) for m in maps], total, len(maps)


_NEG = ' class="neg"'


def _cells(values: list[float]) -> str:
    top = max((abs(v) for v in values), default=0.0) or 1.0
    return "".join(f'<i style="--a:{abs(v) / top:.3f}"{_NEG if v < 0 else ""} title="#{j}: {v:.3f}"></i>'
                   for j, v in enumerate(values))


def _strip(values: list[float]) -> str:
    low, high = min(0.0, min(values)), max(values)
    return map_uri([values], low, high)


def layer_panels(kind: str, p: Prediction | None, names: list[str], trace: Trace, draw_canvas: bool = False) -> str:
    """Every step of a prediction trace, filled with `p`; with `draw_canvas`, the same steps left empty for
    the drawing (shaped like the trace's followed prediction)."""
    template = p or trace.prediction
    filled = not draw_canvas
    height, width, channels = image_shape(trace)
    steps, dense = [], -1
    for i, layer in enumerate(template.layers):
        role = step_role(template, i)
        title = layer.name
        shape = shape_text(layer.shape) if layer.shape else ""
        summary = e(layer.summary) if filled else ""
        attrs = ""
        if layer.kind == "Dense" or (not layer.kind and role in ("neurons", "probs")):
            dense += 1
        if draw_canvas and role in ("neurons", "probs", "strip"):
            attrs = f' data-from="{max(dense, 0)}"'
        if role == "input":
            size = math.prod(layer.shape) if layer.shape else height * width * channels
            shape = f"{size:,} values" + (f" ({shape_text(layer.shape)})" if len(layer.shape) > 1 else "")  # escaped below
            if draw_canvas:
                visual = (f'<canvas class="digit large" data-part="canvas" width="{width}" height="{height}" '
                          f'aria-label="what the network sees"></canvas>')
            else:
                visual = f'<img class="digit large" data-part="image" src="{image_uri(trace, p.image)}" alt="the input image">'
        elif role == "maps":
            uris, total, shown = step_maps(layer)
            what = "feature maps" if layer.details.get("feature_maps") else "channels"
            shape += f" · {shown} of {total} {what}" if shown < total else f" · {total} {what}"
            what = what[:-1] if total == 1 else what
            visual = f'<div class="maps" data-part="maps" style="--cols:{min(4, shown)}">' + "".join(
                f'<img src="{uri}" alt="{what.rstrip("s")} {j}" title="{what.rstrip("s")} #{j}">' for j, uri in enumerate(uris)) + "</div>"
        elif role == "neurons":
            values = layer.values if filled else [0.0] * (layer.shape[0] if layer.shape else len(layer.values))
            shape += " values · brighter = stronger" + (" · orange = below 0" if any(v < 0 for v in values) or draw_canvas else "")
            visual = f'<div class="neurons" data-part="neurons">{_cells(values)}</div>'
        elif role == "strip":
            shape += " values in one row"
            if draw_canvas:
                visual = f'<canvas class="vector" data-part="strip" width="{fmt(layer.shape[0])}" height="1"></canvas>'
            else:
                visual = f'<img class="vector" data-part="strip" src="{_strip(layer.values)}" alt="the values in one row">'
        elif role == "probs":
            probs = layer.values if filled else [0.0] * len(names)
            best = max(range(len(probs)), key=probs.__getitem__) if filled else -1
            shape = f"{len(probs)} probabilities"
            visual = '<ol class="probs" data-part="probs">' + "".join(
                f'<li class="{"best" if j == best else ""}"><span class="d">{e(pick(names, j))}</span><span class="bar">'
                f'<i style="width:{100 * v:.2f}%"></i></span><span class="v">{100 * v:.2f}%</span></li>'
                for j, v in enumerate(probs)) + "</ol>"
        elif role == "verdict":
            shape = ""
            if filled:
                verdict = f"true label {e(pick(names, p.label))}: {'right' if p.correct else 'wrong'}"
                predicted, confidence = e(pick(names, p.predicted)), f"{pct(p.confidence, 2)} sure"
            else:
                verdict, predicted, confidence = f"draw {'a digit' if draw_canvas else ''} to see what the network says", "?", ""
            visual = (f'<div class="big" data-part="predicted">{predicted}</div><div class="conf" data-part="confidence">'
                      f'{confidence}</div><div class="truth" data-part="verdict">{verdict}</div>')
        else:
            visual = ""
        state = ""
        if role == "verdict":
            state = " verdict" + ((" right" if p.correct else " wrong") if filled else "")
        steps.append(f'<div class="layer step role-{role}{state}" data-step="{i}" data-role="{role}" '
                     f'data-kind="{e(layer.kind)}"{attrs}>'
                     f'<h4><span class="badge">{i + 1}</span>{e(title)}</h4><div class="shape">{e(shape)}</div>'
                     f'{visual}<p class="summary" data-part="summary">{summary}</p></div>')
    return f'<div class="layers" data-trace="{kind}">{"".join(steps)}</div>'


# ---- 5. draw your own digit ------------------------------------------------------------------------
RUNNABLE_ACTIVATIONS = {"linear", "relu", "tanh", "sigmoid", "gelu", "elu", "selu", "silu", "swish", "leaky_relu",
                        "softmax", "softplus", "softsign", "relu6", "exponential", "hard_sigmoid", "hard_silu",
                        "mish"}


def draw_support(trace: Trace) -> str:
    """Why the page cannot run this network itself ('' when it can)."""
    if not trace.weights:
        others = sorted({layer.kind for layer in trace.network.layers
                         if layer.kind not in ("Dense", "Dropout", "InputLayer")})
        if others:
            return (f"This network has {', '.join(others)} layers. The page's JavaScript runs networks of Dense "
                    f"(and Dropout) layers only, so it cannot run this one live; the prediction trace above shows "
                    f"every layer as Keras computed it.")
        return ("This trace holds no weights the page can run: it was written before pipetrace kept them, or its "
                "network has layers other than Dense and Dropout.")
    unknown = sorted({w.activation for w in trace.weights} - RUNNABLE_ACTIVATIONS)
    if unknown:
        return (f"This network uses the {', '.join(unknown)} activation, which the page's JavaScript does not "
                f"compute, so it cannot run the network live.")
    height, width, channels = image_shape(trace)
    problem = weights_problem(trace.weights)
    if problem:
        return f"The weights in this trace do not fit together ({problem}), so the page cannot run the network."
    if trace.weights[0].kernel.shape[0] != height * width * channels:
        return (f"The network reads {trace.weights[0].kernel.shape[0]:,} values but the images have "
                f"{height * width * channels:,}, so the page cannot feed it a drawing.")
    return ""


def weights_problem(weights: list) -> str:
    """What is wrong with packed weights the page would run ('' when each array holds exactly the values its
    shape says and each layer reads what the one before it gives)."""
    inputs = None
    for w in weights:
        kernel, bias = w.kernel.shape, w.bias.shape
        if not (isinstance(kernel, list) and len(kernel) == 2 and isinstance(bias, list) and len(bias) == 1
                and all(index(n, 1 << 24) for n in kernel + bias)):
            return f"layer {w.name}: kernel shape {kernel}, bias shape {bias}"
        if bias[0] != kernel[1] or (inputs is not None and kernel[0] != inputs):
            return f"layer {w.name}: a {kernel[0]} x {kernel[1]} kernel after {inputs} values, {bias[0]} biases"
        for what, packed, size in (("kernel", w.kernel, kernel[0] * kernel[1]), ("bias", w.bias, bias[0])):
            held = _packed_count(packed.data)
            if held != size:
                return f"layer {w.name}: its {what} holds {'no readable' if held is None else f'{held:,}'} values, not {size:,}"
        inputs = kernel[1]
    return ""


def _packed_count(data) -> int | None:
    """How many float32 values a base64 string holds (None when it is not whole base64 float32 values)."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, TypeError, ValueError):
        return None
    return len(raw) // 4 if len(raw) % 4 == 0 else None


def draw(trace: Trace) -> str:
    names = trace.dataset["class_names"]
    thing = "digit" if noun(trace) == "digit" else "picture"
    title = f"Draw your own {thing}"
    reason = draw_support(trace)
    if reason:
        return section("draw", title, "not for this network", f'<p class="warning">{e(reason)}</p>')
    height, width, channels = image_shape(trace)
    total = sum(w.kernel.shape[0] * w.kernel.shape[1] + w.bias.shape[0] for w in trace.weights)
    if (height, width) == (28, 28):
        how = "the way MNIST digits were (cropped, scaled into a 20 x 20 box, centred by its centre of mass in 28 x 28"
    else:
        how = (f"like MNIST digits, at this data's size (cropped, scaled into a {20 * height / 28:.3g} x "
               f"{20 * width / 28:.3g} box, as 20 x 20 is to 28 x 28, centred by its centre of mass in {height} x {width}")
    how += ", the same grey in all 3 colour channels" if channels == 3 else ""
    intro = (f"Draw a {thing} with your mouse or finger. This page holds the {total:,} trained weights and runs the "
             f"network itself, in JavaScript: your drawing is prepared {e(how)}, values 0..1), then sent through "
             f"every layer.")
    body = f"""<div class="draw-grid">
<div class="pad-box"><canvas id="pad" width="280" height="280" tabindex="0" aria-describedby="pad-keys" aria-label="drawing pad: draw here with a mouse, a finger or the keyboard"></canvas>
<div class="pad-tools"><button type="button" id="clear-pad">Clear</button><span class="hint">Tip: draw large and centred, with one stroke per line.</span></div>
<p class="hint" id="pad-keys">With the keyboard: Tab to the pad; the arrow keys move the pen (with Shift, in small steps); Space or Enter puts it down or lifts it; Delete clears.</p>
<noscript><p class="warning">Drawing needs JavaScript.</p></noscript></div>
{layer_panels("draw", None, names, trace, draw_canvas=True)}
</div>"""
    return section("draw", title, "live, in your browser", body, intro)


def draw_left_out(trace: Trace) -> str:
    """The drawing pad's place in a page made without the weights (a notebook's): where to find the pad."""
    thing = "digit" if noun(trace) == "digit" else "picture"
    total = sum(w.kernel.shape[0] * w.kernel.shape[1] + w.bias.shape[0] for w in trace.weights
                if len(w.kernel.shape) == 2 and len(w.bias.shape) == 1)
    held = f"the {total:,} trained weights it runs" if total else "the trained weights it runs"
    text = (f"Here the drawing pad is left out, with {held}: a notebook keeps every output in its file. "
            'The full report has it: trace.save_html("report.html"), or the report.html of the run folder.')
    return section("draw", f"Draw your own {thing}", "in the full report", f"<p>{e(text)}</p>")


# ---- 6. evaluation -------------------------------------------------------------------------------
def evaluation(trace: Trace) -> str:
    ev, names = trace.evaluation, trace.dataset["class_names"]
    charts_html = (f'<div class="two"><div class="chart-box">{charts.confusion_chart(ev, names)}'
                   f'<p class="caption">Rows: the true digit; columns: what the network said. The diagonal is right.</p></div>'
                   f'<div class="chart-box">{charts.per_class_chart(ev, names)}</div></div>')
    if ev.mistakes:
        items = "".join(
            f'<figure class="mistake"><img class="digit" src="{image_uri(trace, m.image)}" alt="test image {fmt(m.index)}">'
            f'<figcaption><b>{e(pick(names, m.predicted))}</b> <span>was {e(pick(names, m.label))}</span>'
            f'<small>#{fmt(m.index)} · {pct(m.confidence, 0)}</small></figcaption></figure>'
            for m in ev.mistakes
        )
        gallery = f'<h3>Mistakes <small>said (bold) and true label, test index, confidence</small></h3><div class="gallery">{items}</div>'
    elif ev.misclassified:
        gallery = f"<h3>Mistakes</h3><p>Misclassified test images: {e(', '.join(map(str, ev.misclassified)))}</p>"
    else:
        gallery = "<h3>Mistakes</h3><p>None: every test image was classified correctly.</p>"
    wrong = sum(sum(row) for row in ev.confusion) - sum(ev.confusion[i][i] for i in range(len(ev.confusion)))
    intro = (f"All {fmt(trace.dataset['test_count'], ',')} test images, predicted once: {pct(ev.test_accuracy, 2)} right, "
             f"{wrong:,} wrong, test loss {num(ev.test_loss)}.")
    return section("evaluation", "Evaluation", "the whole test set", charts_html + gallery, intro)


# ---- 7. quiz -----------------------------------------------------------------------------------
def quiz(trace: Trace) -> str:
    asked, more = trace.quiz, more_questions(trace)
    items = [_question_item(q, n) for n, q in enumerate([*asked, *more])]
    total = len(asked) + len(more)
    body = f'<p class="score" id="quiz-score" aria-live="polite">Score: 0 right of 0 answered ({total} questions)</p>'
    body += f'<ol class="quiz">{"".join(items[:len(asked)])}</ol>'
    if more:
        body += (f'<details class="more-questions"><summary>{len(more)} more questions from this run</summary>'
                 f'<ol class="quiz" start="{len(asked) + 1}">{"".join(items[len(asked):])}</ol></details>')
    body += '<button type="button" id="quiz-reset" hidden>Start the quiz again</button>'
    intro = "Every answer is a number or a fact from this run. Click an answer (or Tab to it and press Enter)."
    return section("quiz", "Model Quiz", f"{len(asked)} questions" + (f", {len(more)} more" if more else ""), body, intro)


def more_questions(trace: Trace) -> list:
    """The rest of the questions this trace answers (what `pipetrace learn quiz` draws from), after the run's own.

    Computed from the trace's numbers by the quiz's own rules; a trace those rules cannot read (edited by hand,
    hostile) gets none, and the run's own questions still show.
    """
    from pipetrace.insights.quiz import build_quiz, quiz_pool

    try:
        every = build_quiz(trace, len(quiz_pool(trace)), trace.settings.seed)
    except Exception:  # noqa: BLE001 (a trace the rules cannot read: no extra questions, the page still whole)
        return []
    asked = {q.text for q in trace.quiz}
    return [q for q in every if q.text not in asked]


def _question_item(q, n: int) -> str:
    options = "".join(
        f'<button type="button" class="option" data-option="{i}"><span class="letter">{letter(i)}</span>{e(text)}</button>'
        for i, text in enumerate(q.options)
    )
    return f"""<li class="question" data-answer="{fmt(q.answer)}" id="question-{n + 1}">
<p class="q">{e(q.text)} <span class="tag">{e(q.level)} · {e(q.kind)}</span></p>
<div class="options" role="group" aria-label="answers to question {n + 1}">{options}</div>
<p class="feedback" aria-live="polite"></p>
<details class="answer-key"><summary>Show the answer</summary><p><b>{letter(q.answer)}.</b> <span class="answer-text">{e(pick(q.options, q.answer))}</span>. <span class="explanation">{e(q.explanation)}</span></p></details>
</li>"""


# ---- 8. insights ---------------------------------------------------------------------------------
def insights(trace: Trace) -> str:
    items = "".join(
        f'<li><p>{e(i.text)}</p><p class="figures">'
        + " ".join(f"<span>{e(k)} <b>{_figure(v)}</b></span>" for k, v in i.figures.items())
        + "</p></li>"
        for i in trace.insights
    )
    return section("insights", "Key Insights", f"{len(trace.insights)} from this run", f'<ul class="insights">{items}</ul>')


def _figure(value) -> str:
    """An insight's figure as safe HTML: floats to 4 significant digits, anything else as it is."""
    return fmt(value, ".4g") if isinstance(value, float) else e(value)


def footer(trace: Trace) -> str:
    version = trace.environment.get("pipetrace", "")
    return (f'<footer><p>Written by pipetrace {e(version)} from the trace of a run made {e(trace.created_at)}. '
            f'Every number on this page was measured in that run. This page is one file: it makes no request '
            f'to any other address and works offline.</p></footer>')
