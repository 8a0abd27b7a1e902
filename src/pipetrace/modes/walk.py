"""Mode `walk`: step through the pipeline one stage at a time, at the learner's pace.

Each step shows the stage's measured numbers, the lines of NumPy/Keras code that do it (the
same lines `pipetrace learn code` writes), and one check-yourself question whose answer is a
number of this run. Keys: 1-4 answers, Enter goes on, b goes back, q quits. Piped, the
same keys come one a line (an empty line is Enter), and the end of input quits.

>>> [step.title for step in steps(trace)][:2]          # doctest: +SKIP
['Load', 'Preprocessing']
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from pipetrace.insights.quiz import _distinct, _pct
from pipetrace.modes.answers import ENTER, Answers
from pipetrace.modes.code import Block, blocks
from pipetrace.modes.locate import load_trace
from pipetrace.stages.measure import shape_text
from pipetrace.trace import Question, Trace
from pipetrace.views.terminal import render_prediction, render_stage, render_training

LETTERS = "1234"  # answers are numbers here: b already means back


@dataclass
class Step:
    """One stop of the walk: what to show, the code behind it, and the question to check yourself."""

    title: str
    show: object  # a rich renderable
    code: list[str]
    question: Question


def steps(trace: Trace) -> list[Step]:
    """The stages, then training and the prediction, each with its code and question."""
    code = {block.stage: block for block in _code_blocks(trace)}
    out = []
    for stage in trace.stages:
        key = "Model training" if stage.number == 5 else stage.name
        lines = code[key].lines if key in code else []
        out.append(Step(f"Stage {stage.number}: {stage.name}", render_stage(stage), lines, QUESTIONS[stage.number](trace)))
    out.append(Step("Training, epoch by epoch", render_training(trace.training),
                    code["Model training"].lines[-2:] if "Model training" in code else [], _epoch_question(trace)))
    evaluation = code["Evaluation"].lines[:2] if "Evaluation" in code else []
    out.append(Step(f"One prediction, layer by layer (test image {trace.prediction.sample})",
                    render_prediction(trace.prediction, trace.dataset["class_names"]),
                    ["probabilities = model.predict(x_test[[SAMPLE]], verbose=0)[0]", "predicted = probabilities.argmax()"]
                    if not evaluation else [f"SAMPLE = {trace.prediction.sample}",
                                            "probabilities = model.predict(x_test[[SAMPLE]], verbose=0)[0]",
                                            "predicted = int(probabilities.argmax())  # the class with the largest probability"],
                    _prediction_question(trace)))
    return out


def _code_blocks(trace: Trace) -> list[Block]:
    try:
        return blocks(trace)
    except Exception:  # a run `code` cannot rewrite (an image folder, a layer it cannot write): walk without code
        return []


# ---- one check-yourself question per step, every key a number of this run ----------------
def _question(text: str, correct: str, others: list[str], explanation: str) -> Question:
    options = _distinct(correct, others)
    return Question(text, options, 0, explanation, "measured")


def _load_question(trace: Trace) -> Question:
    d = trace.stages[0].details
    total = d["train_count"] + d["test_count"]
    return _question(f"How many labelled images did the Load stage read in all?", f"{total:,}",
                     [f"{d['train_count']:,}", f"{d['test_count']:,}", f"{total * 2:,}", f"{total - 1:,}"],
                     f"{d['train_count']:,} training + {d['test_count']:,} test = {total:,}")


def _scale_question(trace: Trace) -> Question:
    d = trace.stages[1].details
    e = d["examples"][-1]
    return _question(f"Pixel ({e['row']}, {e['col']}) was {e['before']}. What did preprocessing make of it?",
                     f"{e['after']:.4f}", [f"{e['before']:.4f}", f"{1 - e['after']:.4f}", f"{e['before'] / 100:.4f}", f"{e['after'] / 2:.4f}"],
                     f"{e['before']} / {d['scale']:g} = {e['after']:.4f}")


def _shape_question(trace: Trace) -> Question:
    stage = trace.stages[2]
    d = stage.details
    if stage.name == "Flatten" and d.get("channels", 1) == 1:
        w = d["width"]
        return _question(f"After Flatten, where is pixel (row {d['row']}, column {d['col']})?", str(d["index"]),
                         [str(w * d["col"] + d["row"]), str(d["row"] + d["col"]), str(d["index"] + 1), str(d["row"] * d["col"])],
                         f"{w} x {d['row']} + {d['col']} = {d['index']}: rows are laid end to end")
    out = shape_text(stage.outputs[0].shape[1:])
    return _question(f"What shape does each image have after {stage.name}?", out,
                     [shape_text(stage.inputs[0].shape[1:]), shape_text([stage.outputs[0].shape[0]]), "1 x 1", out + " x 1"],
                     stage.did)


def _split_question(trace: Trace) -> Question:
    d = trace.stages[3].details
    train, test = sum(d["train_counts"]), sum(d["test_counts"])
    return _question("How many images only test the network, never training it?", f"{test:,}",
                     [f"{train:,}", f"{train + test:,}", f"{test // 2:,}", f"{test * 6:,}"], trace.stages[3].did)


def _params_question(trace: Trace) -> Question:
    learning = [layer for layer in trace.network.layers if layer.params]
    first = learning[0]
    return _question(f"How many numbers does {first.label or first.name} learn?", f"{first.params:,}",
                     [f"{first.weights:,}", f"{first.units:,}", f"{trace.network.total_params:,}", f"{first.input_size:,}"],
                     f"{first.weights:,} weights + {first.biases:,} biases" + (f" + {first.other:,} other" if first.other else ""))


def _epoch_question(trace: Trace) -> Question:
    t = trace.training
    return _question(f"How many batches of {t.batch_size} make one epoch of {trace.dataset['train_count']:,} images?",
                     f"{t.steps_per_epoch:,}", [f"{t.batch_size:,}", f"{trace.dataset['train_count']:,}",
                                                f"{t.steps_per_epoch * len(t.epochs) + 1:,}", f"{t.steps_per_epoch + 1:,}"],
                     f"{trace.dataset['train_count']:,} / {t.batch_size}, rounded up")


def _prediction_question(trace: Trace) -> Question:
    p, names = trace.prediction, trace.dataset["class_names"]
    probs = p.output_layer.values
    ranked = sorted(range(len(probs)), key=lambda c: -probs[c])
    return _question(f"What probability did the network give its answer, '{names[p.predicted]}'?", _pct(p.confidence),
                     [_pct(probs[c]) for c in ranked[1:4]] + [_pct(1 / len(probs)), "100.00%"],
                     f"softmax gave '{names[p.predicted]}' {_pct(p.confidence)}; the true label is '{names[p.label]}'")


QUESTIONS = {1: _load_question, 2: _scale_question, 3: _shape_question, 4: _split_question, 5: _params_question}


def shuffled(question: Question, number: int) -> Question:
    """The key moved to a place that depends on the step, so it is not always A."""
    n = len(question.options)
    shift = (number * 3 + 1) % n
    options = question.options[-shift:] + question.options[:-shift] if shift else list(question.options)
    return Question(question.text, options, options.index(question.options[question.answer]), question.explanation,
                    question.kind, question.level)


def render_step(step: Step, number: int, total: int, question: Question):
    parts = [step.show]
    if step.code:
        parts.append(Panel(Syntax("\n".join(step.code), "python", theme="ansi_dark", word_wrap=True),
                           title="the code that does it", title_align="left"))
    lines = [f"Check yourself: {question.text}"] + [f"  {L}  {o}" for L, o in zip(LETTERS, question.options)]
    parts.append(Text("\n".join(lines), style="bold"))
    return Panel(Group(*parts), title=f"[bold]Step {number} of {total}: {step.title}[/]", title_align="left")


def walk(trace: Trace, answers: Answers, console) -> tuple[int, int]:
    """Run the walk; returns (right answers, steps seen)."""
    all_steps = steps(trace)
    questions = [shuffled(s.question, n) for n, s in enumerate(all_steps)]
    results: dict[int, bool] = {}
    seen = set()
    index = 0
    console.print(Text(f"A walk through the run of {trace.created_at}: {len(all_steps)} steps. "
                       "Keys: 1-4 answer, Enter next, b back, q quit.", style="bold"))
    while 0 <= index < len(all_steps):
        seen.add(index)
        question = questions[index]
        console.print(render_step(all_steps[index], index + 1, len(all_steps), question))
        letters = LETTERS[: len(question.options)]
        while True:
            prompt = (f"[1-{len(question.options)}] answer · Enter next · b back · q quit: " if index not in results
                      else "Enter next · b back · q quit: ")
            console.file.flush()
            key = answers.ask(prompt, ("" if index in results else letters) + "bq", enter=True)
            if key is None or key == "q":
                index = -1
                break
            if key == "b":
                if index == 0:
                    console.print(Text("This is the first step."))
                    continue
                index -= 1
                break
            if key == ENTER:
                index += 1
                break
            right = LETTERS.index(key) == question.answer
            results[index] = right
            verdict = ("Right. ", "bold green") if right else ("Not quite. ", "bold red")
            key_text = f"The answer is {LETTERS[question.answer]}: {question.options[question.answer]}. "
            console.print(Text.assemble(verdict, "" if right else key_text, question.explanation))
    right = sum(results.values())
    console.print(Text(f"\nWalk over: {len(seen)} of {len(all_steps)} steps seen, {right} of {len(results)} "
                       "check questions answered right.", style="bold"))
    return right, len(seen)


def main(args, console) -> int:
    trace, _ = load_trace(args.trace)
    with Answers() as answers:
        walk(trace, answers, console)
    return 0
