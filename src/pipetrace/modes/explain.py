"""Mode `explain`: a narrative deep dive, every claim shown with this run's numbers.

For learners who read to understand: for each part of the pipeline, what it is, why it
matters, a mental model, and the common mistakes, each illustrated with a figure this run
measured (never a made-up example). `chapters` returns the text, for the terminal and the page.

>>> [c.title for c in chapters(trace)][:2]            # doctest: +SKIP
['The data', 'Scaling the pixels']
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.rule import Rule
from rich.text import Text

from pipetrace.modes.locate import load_trace
from pipetrace.stages.measure import shape_text
from pipetrace.trace import Trace


@dataclass
class Chapter:
    title: str
    what: str
    why: str
    model: str  # the mental model
    mistakes: str


def chapters(trace: Trace) -> list[Chapter]:
    """The deep dive, chapter by chapter, written around this run's numbers."""
    d, s, net, t, ev, p = trace.dataset, trace.stages, trace.network, trace.training, trace.evaluation, trace.prediction
    names = d["class_names"]
    load, scale, shape, split = s[0], s[1], s[2], s[3]
    ex = scale.details["examples"][-1]
    top = scale.details.get("scale", 255.0)
    out = [Chapter(
        "The data",
        f"{d['train_count'] + d['test_count']:,} labelled images of {shape_text(d['image_shape'])} pixels ({d['name']}), "
        f"each a grid of whole numbers: {load.example}.",
        f"The network only ever sees these numbers; everything it learns is a pattern in them. "
        f"With {len(names)} classes, guessing would be right {100 / len(names):.1f}% of the time: the bar to beat.",
        "Think of each image as a point in a space with one axis per pixel; images of the same class lie near each other.",
        "Forgetting that the labels are just as important as the images: the split below keeps both together.",
    ), Chapter(
        "Scaling the pixels",
        f"{scale.did}. Pixel ({ex['row']}, {ex['col']}) of the followed image was {ex['before']} and became {ex['after']:.4f}.",
        "Weighted sums of numbers up to 1 stay small, so the first training steps are gentle and the optimizer's "
        "default step sizes fit.",
        "A change of units, not of content: the picture looks the same, only the scale of its numbers moved.",
        f"Scaling training data but not new inputs (a drawn digit must be divided by {top:g} too), or scaling twice.",
    ), Chapter(
        f"{shape.name}",
        f"{shape.did}. {shape.example}.",
        "A Dense layer multiplies a vector by a matrix, so each image must be one row of numbers; "
        "a convolutional network keeps the grid instead.",
        "Reading the image like a book, row after row, into one long line.",
        "Believing flattening loses information: no value changes, only their arrangement "
        f"(the same {shape_text(shape.outputs[0].shape[1:])} values) - but a Dense layer no longer knows which pixels were neighbours.",
    ), Chapter(
        "Training and test data",
        f"{split.did}.",
        f"Accuracy on images the network trained on says little; the {sum(split.details['test_counts']):,} test images "
        "measure what it learned about the classes themselves.",
        "An exam with questions the student has not seen before.",
        "Choosing settings by looking at test accuracy again and again: the test set then slowly becomes training data.",
    )]
    learning = [layer for layer in net.layers if layer.params]
    biggest = max(learning, key=lambda layer: layer.params) if learning else None
    if biggest is not None:
        out.append(Chapter(
            "The network",
            f"{net.architecture}: {net.total_params:,} numbers to learn. The largest layer, {biggest.label or biggest.name}, "
            f"holds {biggest.params:,} of them ({100 * biggest.params / net.total_params:.1f}%).",
            "Every parameter is one knob training can turn; more knobs can fit more patterns, and more noise.",
            "Each hidden neuron is a detector: a weighted vote of its inputs, passed on only if it is strong enough "
            f"({trace.settings.activation}).",
            "Counting only the weights and forgetting the biases: "
            + (f"{learning[0].weights:,} + {learning[0].biases:,} = {learning[0].params:,} for the first layer." if learning else ""),
        ))
    if t.epochs:
        first, last = t.epochs[0], t.epochs[-1]
        loss_text = ("" if first.loss is None or last.loss is None else
                     f"the training loss went from {first.loss:.3f} after epoch 1 to {last.loss:.3f} after epoch {last.epoch}, ")
        gap = 100 * (last.accuracy - last.test_accuracy)
        out.append(Chapter(
            "Training",
            f"{len(t.epochs)} epochs of {t.steps_per_epoch:,} batches of {t.batch_size}: {loss_text}"
            f"test accuracy reached {100 * last.test_accuracy:.2f}%.",
            "The loss is what training lowers; accuracy is what we care about. They usually move together, not always.",
            "Walking downhill in fog: each batch's gradient says which way is down from here, the learning rate how far to step "
            f"({net.optimizer}, {net.learning_rate:g}, {net.schedule}).",
            f"Reading a falling training loss as success: the gap between training and test accuracy here is {gap:+.1f} points"
            + (" - small, so it generalizes." if abs(gap) < 3 else " - watch it: a growing gap means memorizing."),
        ))
    hidden = p.first_hidden
    logits = p.output_layer.details.get("logits")
    what = f"Test image {p.sample}, a '{names[p.label]}', went through every layer"
    if hidden is not None:
        what += f": {hidden.details['fired']} of {hidden.details['units']} hidden neurons fired"
    if logits:
        what += f"; the output scores ranged from {min(logits):.2f} to {max(logits):.2f}"
    out.append(Chapter(
        "One prediction",
        what + f", and softmax gave '{names[p.predicted]}' {100 * p.confidence:.2f}% ({'right' if p.correct else 'wrong'}).",
        "Softmax turns any scores into probabilities that sum to 1, so the network's answer comes with a confidence.",
        "The largest score wins, and the gaps between scores decide how sure the network is.",
        "Taking a confident answer for a right one: the run's mistakes include confident ones"
        + (f" (test image {ev.mistakes[0].index}: '{names[ev.mistakes[0].predicted]}' at {100 * ev.mistakes[0].confidence:.0f}%, "
           f"really a '{names[ev.mistakes[0].label]}')." if ev.mistakes else "."),
    ))
    per = ev.per_class_accuracy
    hard, easy = min(range(len(per)), key=per.__getitem__), max(range(len(per)), key=per.__getitem__)
    out.append(Chapter(
        "Evaluation",
        f"{100 * ev.test_accuracy:.2f}% of {d['test_count']:,} test images right; '{names[hard]}' was hardest "
        f"({100 * per[hard]:.1f}%), '{names[easy]}' easiest ({100 * per[easy]:.1f}%).",
        "One accuracy hides which classes fail; the confusion matrix shows what is mistaken for what.",
        "A table of true class against predicted class: the diagonal is right, everything else a kind of mistake.",
        "Comparing accuracies of runs on different test sets, or on a few hundred images, where one image is "
        f"{100 / max(d['test_count'], 1):.2f} points.",
    ))
    return out


def render(trace: Trace):
    parts = [Text(f"Explained: {trace.network.architecture} on {trace.dataset['name']}, with this run's numbers", style="bold")]
    for number, c in enumerate(chapters(trace), start=1):
        parts += [Rule(Text(f"{number}. {c.title}", style="bold"), align="left"),
                  Text.assemble(("What it is: ", "bold"), c.what, "\n", ("Why it matters: ", "bold"), c.why, "\n",
                                ("Mental model: ", "bold"), c.model, "\n", ("Common mistake: ", "bold"), c.mistakes)]
    return Group(*parts)


def main(args, console) -> int:
    trace, _ = load_trace(args.trace)
    console.print(render(trace))
    return 0
