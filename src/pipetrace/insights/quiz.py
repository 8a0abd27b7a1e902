"""Quiz questions built from a Trace: answer keys are numbers the run measured.

The first three questions mirror the seed page: what a stage does (distractors are what
the other stages did), a shape, and an accuracy. More come from the same run on request.

>>> quiz = build_quiz(trace, count=3, seed=0)            # doctest: +SKIP
>>> quiz[0].options[quiz[0].answer]                       # doctest: +SKIP
'Laid each 28 x 28 image out as one row of 784 values'
"""

from __future__ import annotations

import math
import random

from pipetrace.insights.baseline import baseline
from pipetrace.insights.teaching import activation_words, hidden_activation, run_optimizer, untrained_loss
from pipetrace.numbers import number, percent, probability
from pipetrace.stages.measure import shape_text
from pipetrace.trace import Question, Trace


def build_quiz(trace: Trace, count: int, seed: int = 0) -> list[Question]:
    """The first `count` questions of the pool, each with its options shuffled by `seed`."""
    pool = quiz_pool(trace)
    if count > len(pool):
        from pipetrace.errors import SettingsError

        raise SettingsError(f"--questions {count}: this run yields {len(pool)} questions at most")
    return [_shuffled(q, random.Random(seed * 1000 + i)) for i, q in enumerate(pool[:count])]


def quiz_pool(trace: Trace) -> list[Question]:
    """Every question this trace can answer, in the order they are asked."""
    questions = []
    for make in QUESTION_MAKERS:
        question = make(trace)
        if question is not None and len(set(question.options)) == len(question.options) >= 2:
            questions.append(question)
    return questions


def _makers():
    return [
        _stage_purpose,
        _flatten_shape,
        _final_accuracy,
        _hidden_params,
        _fired_neurons,
        _pixel_index,
        _train_count,
        _prediction,
        _loss_drop,
        _hardest_class,
        _preprocessed_value,
        _test_count,
        _total_params,
        _batches_per_epoch,
        _ink_values,
        _softmax_pick,
        _train_test_gap,
        _most_confused,
        _best_epoch,
        _why_scale,
        _starting_loss,
        _loss_of_one_image,
        _why_test_apart,
        _what_learning_rate_does,
        _test_loss_curve,
    ]


LEVELS = ("easy", "medium", "hard")


def draw_quiz(trace: Trace, count: int, seed: int = 0) -> list[Question]:
    """`count` questions taken in turn from the easy, medium and hard ones, then ordered easy to hard.

    Used by `pipetrace learn quiz`: a short quiz still meets every level, and it ramps up.

    >>> [q.level for q in draw_quiz(trace, 4, seed=0)]        # doctest: +SKIP
    ['easy', 'easy', 'medium', 'hard']
    """
    pool = quiz_pool(trace)
    if not 1 <= count <= len(pool):
        from pipetrace.errors import SettingsError

        raise SettingsError(f"--questions {count}: this run yields from 1 to {len(pool)} questions")
    rng = random.Random(seed)
    by_level = {level: [q for q in pool if q.level == level] for level in LEVELS}
    for questions in by_level.values():
        rng.shuffle(questions)  # another seed, another selection
    chosen: list[Question] = []
    while len(chosen) < count:
        for level in LEVELS:
            if by_level[level] and len(chosen) < count:
                chosen.append(by_level[level].pop(0))
    chosen.sort(key=lambda q: LEVELS.index(q.level))
    return [_shuffled(q, random.Random(seed * 1000 + i)) for i, q in enumerate(chosen)]


def _shuffled(question: Question, rng: random.Random) -> Question:
    order = list(range(len(question.options)))
    rng.shuffle(order)
    options = [question.options[i] for i in order]
    return Question(
        question.text, options, order.index(question.answer), question.explanation, question.kind, question.level
    )


def _pct(value: float) -> str:
    """Percentages as every view writes them (numbers.percent): never a rounded 100% or 0%."""
    return percent(value)


def _distinct(correct: str, candidates: list[str], want: int = 3) -> list[str]:
    options = [correct]
    for option in candidates:
        if option not in options:
            options.append(option)
        if len(options) == want + 1:
            break
    return options


def _stage(trace: Trace, name: str):
    return next(s for s in trace.stages if s.name == name)


# ---- the questions ----------------------------------------------------------------------


def _stage_purpose(trace: Trace) -> Question:
    shaping = trace.stages[2]  # Flatten (or Reshape, for a network that reads images)
    others = [s.did for s in trace.stages if s is not shaping]
    return Question(
        text=f"What does the '{shaping.name}' step do to the data?",
        options=_distinct(shaping.did, [others[1], others[2], others[0], others[3]]),
        answer=0,
        explanation=f"{shaping.name} only rearranges: {shape_text(shaping.inputs[0].shape)} -> {shape_text(shaping.outputs[0].shape)}, the same values, nothing computed",
        kind="concept",
    )


def _flatten_shape(trace: Trace) -> Question:
    shaping = trace.stages[2]
    shape = shaping.outputs[0].shape
    correct = shape_text(shape)
    shapes = [shape_text(a.shape) for s in trace.stages[:4] for a in s.outputs + s.inputs if len(a.shape) > 1]
    shapes.append(shape_text([shape[0], *reversed(shape[1:])]))
    return Question(
        text=f"What shape does the data have after the {shaping.name} stage?",
        options=_distinct(correct, shapes),
        answer=0,
        explanation=f"{shape[0]} images, each now {shape_text(shape[1:])} ({shaping.details['height']} x {shaping.details['width']} pixels)",
        kind="measured",
    )


def _final_accuracy(trace: Trace) -> Question | None:
    epochs = [e for e in trace.training.epochs if e.test_accuracy is not None and e.accuracy is not None]
    if not epochs:  # a diverged epoch measures nothing (None): ask about the epochs that were measured
        return None
    last, first = epochs[-1], epochs[0]
    classes = len(trace.dataset["class_names"])
    correct = _pct(last.test_accuracy)
    return Question(
        text=f"What accuracy did the network reach on the {trace.dataset['test_count']} test images after epoch {last.epoch}?",
        options=_distinct(correct, [_pct(last.accuracy), _pct(first.test_accuracy), _pct(1 / classes), _pct(min(0.999, last.test_accuracy + 0.02))]),
        answer=0,
        explanation=(
            f"Measured on images it never trained on: {correct} ({_training_accuracy_words(trace)} {_pct(last.accuracy)}, "
            f"the baseline is {baseline(trace).words})"
        ),
        kind="measured",
        level="medium",
    )


def _training_accuracy_words(trace: Trace) -> str:
    """Training accuracy measured like the test's after the epoch, or the running mean during it: said which."""
    if getattr(trace.training, "train_measured_on", 0):
        return "on training images, measured the same way, it was"
    return "the running mean on training images during the epoch, with weights changing, was"


def _hidden_params(trace: Trace) -> Question | None:
    learning = [layer for layer in trace.network.layers if layer.params]
    if len(learning) < 2:
        return None
    first, last = learning[0], learning[-1]
    correct = f"{first.params:,}"
    if first.kind == "Dense":
        how = f"{first.input_size} inputs x {first.units} units = {first.weights:,} weights, plus {first.biases} biases"
    else:
        how = f"{first.weights:,} weights in its kernels plus {first.biases} biases" + (f" plus {first.other} other numbers" if first.other else "")
    return Question(
        text=f"How many numbers (weights + biases) does the first learning layer, {first.label or first.kind}, learn?",
        options=_distinct(correct, [f"{first.weights:,}", f"{last.params:,}", f"{trace.network.total_params:,}", f"{first.units:,}", f"{first.params + first.units:,}"]),
        answer=0,
        explanation=how,
        kind="measured",
        level="medium",
    )


def _fired_neurons(trace: Trace) -> Question | None:
    layer = trace.prediction.first_hidden
    if layer is None:
        return None
    recorded = {info.name: info.activation or "linear" for info in trace.network.layers}
    words = activation_words(recorded.get(layer.layer) or hidden_activation(trace) or "")
    if words is None or not words.positive_iff_sum_positive:
        return None  # sigmoid's outputs are all above 0; an unknown activation: nothing true to ask
    above, units = layer.details["fired"], layer.details["units"]
    if words.zero_below:
        text = f"For test image {trace.prediction.sample}, how many of the {units} hidden neurons fired (output > 0)?"
        why = f"{words.nice} passed {above} positive weighted {'sum' if above == 1 else 'sums'} and set the other {units - above} to 0"
    else:
        text = f"For test image {trace.prediction.sample}, how many of the {units} neurons of the first hidden layer gave an output above 0?"
        why = (f"{words.nice}(z) is above 0 exactly when the weighted sum z is: {above} sums were positive; "
               f"the other {units - above} were {words.negatives}")
    return Question(
        text=text,
        options=_distinct(str(above), [str(units - above), str(units), str(len(trace.prediction.output_layer.values)), str(above // 2), str(above + 1)]),
        answer=0,
        explanation=why,
        kind="measured",
        level="hard",
    )


def _pixel_index(trace: Trace) -> Question | None:
    if trace.stages[2].name != "Flatten" or trace.stages[2].details.get("channels", 1) != 1:
        return None
    d = trace.stages[2].details
    row, col, width = d["row"], d["col"], d["width"]
    correct = str(d["index"])
    return Question(
        text=f"After Flatten, at which index of the {d['height'] * width}-value row is pixel (row {row}, column {col})?",
        options=_distinct(correct, [str(width * col + row), str(row + col), str(width * row + col + 1), str(row * col)]),
        answer=0,
        explanation=f"Rows are laid end to end: {width} x {row} + {col} = {d['index']} (counting from 0)",
        kind="measured",
        level="medium",
    )


def _train_count(trace: Trace) -> Question:
    d = _stage(trace, "Train/Test split").details
    names = d["class_names"]
    label = trace.prediction.label
    train, test = d["train_counts"], d["test_counts"]
    other = (label + 1) % len(train)
    correct = f"{train[label]:,}"
    return Question(
        text=f"How many training images of '{names[label]}' did the split stage count?",
        options=_distinct(correct, [f"{test[label]:,}", f"{train[other]:,}", f"{sum(train) // len(train):,}", f"{train[label] + test[label]:,}"]),
        answer=0,
        explanation=f"The training part holds {train[label]:,} '{names[label]}'s and the test part {test[label]:,}; classes are not exactly balanced",
        kind="measured",
    )


def _prediction(trace: Trace) -> Question:
    p = trace.prediction
    names = trace.dataset["class_names"]
    probabilities = trace.prediction.output_layer.values
    ranked = sorted(range(len(probabilities)), key=lambda c: -probabilities[c])
    options = [f"'{names[c]}' with probability {probability(probabilities[c])}" for c in ranked[:4]]
    if len(set(options)) < len(options):
        return None
    return Question(
        text=f"What did the network predict for test image {p.sample} (a '{names[p.label]}'), and how sure was it?",
        options=options,
        answer=0,
        explanation=f"Softmax gave '{names[p.predicted]}' the largest probability, {probability(p.confidence)}: {'right' if p.correct else 'wrong'}",
        kind="measured",
        level="medium",
    )


def _loss_drop(trace: Trace) -> Question | None:
    epochs = trace.training.epochs
    if len(epochs) < 2 or epochs[0].loss is None or epochs[-1].loss is None:
        return None
    first, last = epochs[0].loss, epochs[-1].loss
    if not first:
        return None
    drop = (first - last) / first
    if round(100 * drop) == 0:
        return None  # neither a fall nor a rise to ask about
    way, size = ("fall", drop) if drop > 0 else ("rise", -drop)  # a loss that rose is a rise, never "a fall of -35%"
    correct = f"{size:.0%}"
    wrong = [f"{size / 2:.0%}", f"{size * 1.5:.0%}" if way == "rise" else f"{min(size * 1.5, 0.99):.0%}",
             f"{abs(1 - size):.0%}", f"{size / 3:.0%}", f"{size * 2:.0%}"]
    return Question(
        text=f"By how much did the training loss {way} from epoch 1 ({number(first)}) to epoch {len(epochs)}?",
        options=_distinct(correct, wrong),
        answer=0,
        explanation=f"{number(first)} -> {number(last)} is a {way} of {correct}",
        kind="measured",
        level="hard",
    )


def _hardest_class(trace: Trace) -> Question | None:
    accuracy = trace.evaluation.per_class_accuracy
    names = trace.dataset["class_names"]
    confusion = trace.evaluation.confusion
    tested = [c for c in range(len(accuracy)) if c < len(confusion) and sum(confusion[c])]  # no test images: no accuracy
    ranked = sorted(tested, key=lambda c: accuracy[c])
    if len(ranked) < 4:
        return None  # four options, each a class with test images
    if accuracy[ranked[0]] == accuracy[ranked[1]]:
        return None  # a tie for last: two right answers
    options = [f"'{names[c]}'" for c in (ranked[0], ranked[-1], ranked[len(ranked) // 2], ranked[1])]
    return Question(
        text="Which class did the trained network get right least often on the test set?",
        options=options,
        answer=0,
        explanation=f"'{names[ranked[0]]}' was right {_pct(accuracy[ranked[0]])} of the time; '{names[ranked[-1]]}' {_pct(accuracy[ranked[-1]])}",
        kind="measured",
        level="hard",
    )


def _preprocessed_value(trace: Trace) -> Question | None:
    details = _stage(trace, "Preprocessing").details
    examples, scale = details["examples"], details.get("scale", 255.0)
    if len(examples) < 3:
        return None
    e = examples[2]
    correct = f"{e['after']:.4f}"
    return Question(
        text=f"Pixel (row {e['row']}, column {e['col']}) of the sample image is {e['before']}. What is it after preprocessing?",
        options=_distinct(correct, [f"{e['before']:.4f}", f"{e['before'] / 100:.4f}", f"{1 - e['after']:.4f}", f"{e['before'] / 128:.4f}"]),
        answer=0,
        explanation=f"{e['before']} / {scale:g} = {e['after']:.4f}",
        kind="measured",
    )


def _test_count(trace: Trace) -> Question:
    d = _stage(trace, "Train/Test split").details
    train, test = sum(d["train_counts"]), sum(d["test_counts"])
    correct = f"{test:,}"
    return Question(
        text="How many images did the split keep aside to test the network (never trained on)?",
        options=_distinct(correct, [f"{train:,}", f"{train + test:,}", f"{test // 2:,}", f"{test * 2:,}"]),
        answer=0,
        explanation=f"{train:,} images trained the network and {test:,} only tested it ({d['how']})",
        kind="measured",
    )


def _total_params(trace: Trace) -> Question | None:
    learning = [layer for layer in trace.network.layers if layer.params]
    if not learning:
        return None
    total = trace.network.total_params
    weights = sum(layer.weights for layer in learning)
    return Question(
        text=f"How many parameters (weights and biases) does the whole network, {trace.network.architecture}, learn?",
        options=_distinct(f"{total:,}", [f"{weights:,}", f"{learning[0].params:,}", f"{total - learning[-1].params:,}", f"{total + learning[-1].units:,}"]),
        answer=0,
        explanation=" + ".join(f"{layer.params:,}" for layer in learning) + f" = {total:,}, one term per layer that learns",
        kind="measured",
        level="medium",
    )


def _batches_per_epoch(trace: Trace) -> Question:
    t = trace.training
    train = trace.dataset["train_count"]
    correct = f"{t.steps_per_epoch:,}"
    return Question(
        text=f"With {train:,} training images in batches of {t.batch_size}, how many weight updates make one epoch?",
        options=_distinct(correct, [f"{train:,}", f"{t.batch_size:,}", f"{max(train // t.batch_size, 1) - 1:,}", f"{t.steps_per_epoch * 2:,}", f"{t.steps_per_epoch + 1:,}"]),
        answer=0,
        explanation=f"{train:,} / {t.batch_size} rounded up = {t.steps_per_epoch:,}: one update per batch, the last batch smaller if it does not divide",
        kind="measured",
        level="medium",
    )


def _ink_values(trace: Trace) -> Question | None:
    first = trace.prediction.layers[0] if trace.prediction.layers else None
    if first is None or "nonzero" not in first.details:
        return None
    ink, size = first.details["nonzero"], 1
    for n in first.shape:
        size *= n
    return Question(
        text=f"Test image {trace.prediction.sample} enters the network as {size:,} values. How many of them are above 0 (ink)?",
        options=_distinct(f"{ink:,}", [f"{size - ink:,}", f"{size:,}", f"{ink // 2:,}", f"{ink + 10:,}"]),
        answer=0,
        explanation=f"{ink:,} values carry ink; the other {size - ink:,} are blank background, exactly 0 after scaling",
        kind="measured",
    )


def _softmax_pick(trace: Trace) -> Question | None:
    output = trace.prediction.output_layer
    logits = output.details.get("logits")
    if not logits or not output.values:
        return None
    names = trace.dataset["class_names"]
    best = max(range(len(logits)), key=logits.__getitem__)
    low = min(range(len(logits)), key=logits.__getitem__)
    return Question(
        text=(f"The output layer's scores (logits) for test image {trace.prediction.sample} ranged from "
              f"{number(logits[low], 2)} for '{names[low]}' to {number(logits[best], 2)} for '{names[best]}'. "
              f"What probability did softmax give '{names[best]}'?"),
        options=_distinct(_pct(output.values[best]), [_pct(output.values[low]), _pct(1 / len(logits)), _pct(1 - output.values[best]), _pct(min(0.999, logits[best] / 10))]),
        answer=0,
        explanation=(f"softmax = exp(score) / sum of exp(all scores): the largest score takes {_pct(output.values[best])}; "
                     f"the probabilities sum to {output.details.get('sum', 1.0):.6f}"),
        kind="measured",
        level="hard",
    )


def _train_test_gap(trace: Trace) -> Question | None:
    epochs = trace.training.epochs
    if not epochs or epochs[-1].accuracy is None or epochs[-1].test_accuracy is None:
        return None
    if not getattr(trace.training, "train_measured_on", 0):
        return None  # training accuracy was the running mean during the epoch: not comparable with test accuracy
    last = epochs[-1]
    train_text, test_text = _pct(last.accuracy), _pct(last.test_accuracy)
    try:  # the gap of the numbers as shown, so the arithmetic adds up ("11.3 - 11.3 = 0.0", never "= -0.1")
        shown = float(train_text.rstrip("%")), float(test_text.rstrip("%"))
        places = max(len(t.rstrip("%").partition(".")[2]) for t in (train_text, test_text))
    except ValueError:  # "> 99.99%": nothing exact to subtract
        return None
    gap = round(shown[0] - shown[1], places) + 0.0  # + 0.0: never "-0.0"
    correct = f"{gap:+.{places}f} points"
    return Question(
        text=(f"After epoch {last.epoch}, training accuracy was {train_text} and test accuracy "
              f"{test_text}. What is the gap (training minus test)?"),
        options=_distinct(correct, [f"{-gap + 0.0:+.{places}f} points", f"{gap * 2:+.{places}f} points",
                                    f"{gap + 5:+.{places}f} points", f"{shown[0]:+.{places}f} points"]),
        answer=0,
        explanation=f"{train_text.rstrip('%')} - {test_text.rstrip('%')} = {correct}",
        kind="measured",
        level="hard",
    )


def _most_confused(trace: Trace) -> Question | None:
    confusion = trace.evaluation.confusion
    names = trace.dataset["class_names"]
    pairs = [(confusion[t][p], t, p) for t in range(len(confusion)) for p in range(len(confusion)) if t != p]
    pairs.sort(key=lambda item: (-item[0], item[1], item[2]))
    if not pairs or pairs[0][0] == 0 or (len(pairs) > 1 and pairs[1][0] == pairs[0][0]):
        return None  # no mistakes, or a tie: no single right answer
    count, true, said = pairs[0]
    options = [f"'{names[true]}' taken for '{names[said]}'", f"'{names[said]}' taken for '{names[true]}'"]
    options += [f"'{names[t]}' taken for '{names[p]}'" for _, t, p in pairs[1:4]]
    return Question(
        text="Which mistake did the trained network make most often on the test set?",
        options=_distinct(options[0], options[1:]),
        answer=0,
        explanation=f"The confusion matrix counts {count} test '{names[true]}'s predicted as '{names[said]}', more than any other pair",
        kind="measured",
        level="hard",
    )


def _best_epoch(trace: Trace) -> Question | None:
    epochs = trace.training.epochs
    scores = [e.test_accuracy for e in epochs]
    if len(epochs) < 3 or scores.count(max(scores)) > 1:  # three options at least
        return None
    best = epochs[scores.index(max(scores))]
    return Question(
        text=f"After which of the {len(epochs)} epochs was test accuracy highest?",
        options=_distinct(f"epoch {best.epoch}", [f"epoch {e.epoch}" for e in epochs if e is not best]),
        answer=0,
        explanation="Test accuracy per epoch: " + ", ".join(f"{e.epoch}: {_pct(e.test_accuracy)}" for e in epochs),
        kind="measured",
        level="medium",
    )


# ---- concepts: why things are done, each answer tied to this run ------------------------


def _why_scale(trace: Trace) -> Question | None:
    details = _stage(trace, "Preprocessing").details
    scale = details.get("scale")
    if not scale or scale <= 1 or trace.stages[1].outputs[0].max > 1:
        return None  # nothing was divided (the data came in 0..1), or the result is not in 0..1
    return Question(
        text=f"Why did preprocessing divide every pixel by {scale:g} before training?",
        options=[
            "So every input lies between 0 and 1: weighted sums start small and the first training steps stay gentle",
            f"To save memory: float32 values from 0 to 1 take less space than whole numbers up to {scale:g}",
            "Because a Dense layer refuses inputs above 1 and would stop with an error",
            "To make the ink stand out: dividing raises the contrast between ink and background",
        ],
        answer=0,
        explanation=(f"Pixels up to {scale:g} times a weight would give huge weighted sums and huge first gradients; "
                     f"divided by {scale:g} they lie in 0..{trace.stages[1].outputs[0].max:g}. Nothing else changes: "
                     "the picture is the same, only the unit"),
        kind="concept",
        level="easy",
    )


def _starting_loss(trace: Trace) -> Question | None:
    classes = len(trace.dataset["class_names"])
    if classes < 3:
        return None
    start = untrained_loss(classes)
    measured = getattr(trace.training, "start", None)  # epoch 0, measured before training (newer traces)
    return Question(
        text=(f"This run's network chooses among {classes} classes. Before any training, if it gave every class the "
              "same probability, what would its cross-entropy loss be?"),
        options=_distinct(f"ln({classes}) = {number(start)}", ["0.000", "1.000", f"{number(1 / classes)}", f"{classes}"]),
        answer=0,
        explanation=(f"Each class gets 1/{classes}, so the loss is -ln(1/{classes}) = ln({classes}) = {number(start)}: "
                     "the value to compare the first epochs against (a loss above it is worse than not knowing)"
                     + (f". This run's untrained network measured {number(measured.loss)} on the training images"
                        if measured is not None and measured.loss is not None else "")),
        kind="concept",
        level="medium",
    )


def _loss_of_one_image(trace: Trace) -> Question | None:
    p = trace.prediction
    probabilities = p.output_layer.values
    if not probabilities:
        return None
    names = trace.dataset["class_names"]
    q = probabilities[p.label]
    if not 0 < q < 1:
        return None
    loss = -math.log(q)  # unclipped: what model.fit and model.evaluate compute from the scores before softmax
    others = [number(q), number(1 - q), number(-math.log(1 - q)), number(loss / 2)]
    return Question(
        text=(f"The network gave test image {p.sample}'s true class '{names[p.label]}' the probability {probability(q)}. "
              "What is its cross-entropy loss for this image?"),
        options=_distinct(number(loss), others),
        answer=0,
        explanation=(f"loss = -ln(p of the true class) = -ln({probability(q)}) = {number(loss)}: 0 when sure and right, "
                     "large when the truth got little probability, with no upper limit (model.fit and model.evaluate "
                     "compute it from the scores before softmax, so nothing is clipped)"),
        kind="concept",
        level="medium",
    )


def _why_test_apart(trace: Trace) -> Question | None:
    test = trace.dataset.get("test_count") or sum(_stage(trace, "Train/Test split").details["test_counts"])
    return Question(
        text=f"Why did the {test:,} test images never take part in training?",
        options=[
            "So they measure how well the network does on images it has never seen, as it will on new ones",
            "Because they are the hardest images, kept for a final challenge once training is done",
            "To make each epoch faster: fewer images to train on means more updates per second",
            "Because a network can learn from each image only once, so more epochs need a second set",
        ],
        answer=0,
        explanation=("A network can learn its training images by heart; only images it never trained on show whether it "
                     "learned the classes. Choosing settings by the test score again and again slowly spoils it too"),
        kind="concept",
        level="easy",
    )


def _what_learning_rate_does(trace: Trace) -> Question | None:
    words = run_optimizer(trace)
    if words is None:
        return None
    batch = trace.training.batch_size
    return Question(
        text=f"This run trained with {words.name} at learning rate {trace.network.learning_rate:g}. What does the learning rate set?",
        options=[
            "The size of each weight update: " + words.step,
            (f"How many images make one batch ({batch} here), and so how many updates one epoch takes" if batch
             else "How many images make one batch, and so how many updates one epoch takes"),
            "How many passes over the training data are made before training stops",
            "The share of neurons switched off at random during training, to make the network more robust",
        ],
        answer=0,
        explanation=f"{words.name}'s update: " + "; ".join(line.split("  (")[0].strip() for line in words.update)
                    + (". With the cosine schedule the rate glides from this value to 0 by the last step"
                       if trace.network.schedule == "cosine" else ""),
        kind="concept",
        level="medium",
    )


def _test_loss_curve(trace: Trace) -> Question | None:
    start = getattr(trace.training, "start", None)  # epoch 0, the untrained network (newer traces)
    rows = ([start] if start is not None else []) + list(trace.training.epochs)
    losses = [e.test_loss for e in rows]
    if len(trace.training.epochs) < 2 or any(v is None for v in losses):
        return None
    labels = [e.epoch for e in rows]
    falling = [b < a for a, b in zip(losses, losses[1:])]
    turns = [labels[k] for k in range(1, len(losses) - 1) if all(falling[:k]) and not any(falling[k:])]
    fell, rose, flat = ("It fell after every epoch: no sign of over-fitting yet",
                        "It rose after every epoch: the network got worse on new images from the start",
                        "It stayed the same in every epoch")
    turn = "It fell until epoch {}, then rose: the pattern over-fitting shows"
    if all(falling):
        correct = fell
    elif not any(falling):
        correct = rose
    elif turns:
        correct = turn.format(turns[0])
    else:
        return None  # up and down with no clear shape: no single true reading
    options = [fell, rose] + [turn.format(k) for k in labels[1:-1]] + [flat]
    return Question(
        text="Test loss per epoch: " + ", ".join(f"{e.epoch}: {number(e.test_loss, 4)}" for e in rows)
             + (" (epoch 0: before training)" if start is not None else "") + ". What do these numbers show?",
        options=_distinct(correct, options),
        answer=0,
        explanation=("Over-fitting shows as a test loss that turns up while the training loss keeps falling: the network "
                     "starts to fit the training images themselves. Compare each epoch with the one before"),
        kind="concept",
        level="hard",
    )


QUESTION_MAKERS = _makers()
MAX_QUESTIONS = len(QUESTION_MAKERS)  # checked before a run starts, so a bad --questions trains nothing
