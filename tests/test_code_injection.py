"""A trace from anyone cannot put code into the scripts `learn code` writes.

The traces here are built in Python, bypassing the trace validator, so these tests hold even
for a trace the validator would have let through: each hostile value either is refused with
a SettingsError (one clear line, exit 2) or reaches the script as a string or number literal,
never as code, comment or docstring text.
"""

from __future__ import annotations

import ast
import copy
import io
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import pipetrace_cli
from pipetrace.errors import SettingsError
from pipetrace.modes.code import exact_script, fit_script

MARK = "PWNED"  # in every payload: it may appear in a script only inside a string literal

PAYLOADS = [
    f"__import__('os').system('touch {MARK}')",
    f'"""\n__import__("os").system("touch {MARK}")\n"""',
    f"'''\n__import__('os').system('touch {MARK}')\n'''",
    f"x\n__import__('os').system('touch {MARK}')\n#",
    f"x\r__import__('os').system('touch {MARK}')",
    f"x\x0c\n__import__('os').system('touch {MARK}')",
    f"x\u2028__import__('os').system('touch {MARK}')",
    f"x\x85__import__('os').system('touch {MARK}')",
    f"x\\\n__import__('os').system('touch {MARK}')",
    f"Adam(learning_rate=1); __import__('os').system('touch {MARK}'); (",
    f"relu'); __import__('os').system('touch {MARK}'); ('",
    f"1, **{{}}); __import__('os').system('touch {MARK}'); (",
    f"\x1b]0;{MARK}\x07[link=http://x]{MARK}[/]",
]

# Every string or number of a trace that code mode reads, as a path into the Trace.
STRING_FIELDS = [
    ("created_at",), ("settings", "optimizer"), ("settings", "schedule"), ("settings", "activation"),
    ("settings", "dataset"), ("network", "optimizer"), ("network", "schedule"), ("network", "loss"),
    ("network", "layers", 0, "name"), ("network", "layers", 0, "kind"), ("network", "layers", 0, "activation"),
    ("network", "layers", 0, "label"), ("network", "layers", -1, "name"), ("network", "layers", -1, "activation"),
    ("stages", 2, "name"), ("dataset", "name"), ("dataset", "source"), ("dataset", "split"),
]
NUMBER_FIELDS = [
    ("settings", "seed"), ("settings", "epochs"), ("settings", "batch_size"), ("settings", "learning_rate"),
    ("settings", "momentum"),
    ("settings", "limit"), ("settings", "validation"), ("settings", "image_size"), ("network", "layers", 0, "units"),
    ("network", "layers", 0, "config", "units"), ("network", "layers", -1, "config", "units"),
    ("stages", 1, "details", "scale"), ("dataset", "pixel_max"), ("evaluation", "test_accuracy"),
    ("stages", 0, "outputs", 0, "shape"),
]
CNN_FIELDS = [  # config values of the CNN's layers: kernel sizes, strides, paddings, pool sizes, dropout rates
    ("network", "layers", 0, "config", "kernel_size"), ("network", "layers", 0, "config", "strides"),
    ("network", "layers", 0, "config", "padding"), ("network", "layers", 0, "config", "filters"),
    ("network", "layers", 1, "config", "pool_size"), ("network", "layers", 1, "config", "padding"),
    ("network", "layers", 1, "config", "strides"), ("network", "layers", -2, "config", "rate"),
    ("network", "layers", 1, "kind"), ("network", "layers", 4, "kind"), ("network", "layers", 0, "name"),
]

# What a written script may import and call, whatever the trace says (".name": a method called on an expression).
IMPORTS = {"os", "sys", "gzip", "math", "numpy", "keras", "tensorflow", "pipetrace.data"}
CALLS = {
    "print", "float", "int", "len", "max", "min", "range", "round", "str", "open", "int.from_bytes", "math.floor",
    "os.path.join", "os.path.isfile", "os.environ.setdefault", "gzip.open", "handle.read",
    "load_dataset", "show", "np.loadtxt", "table.astype", "read_idx", "train_parts.append", "test_parts.append",
    ".astype", ".join", ".mean", ".reshape", ".sum", "array.max", "array.min", "images.astype", "images.reshape", "x_test.astype", "x_test.reshape", "x_train.astype",
    "x_train.reshape", "probabilities.argmax", "batch_losses.numpy", "right.numpy",
    "np.load", "np.frombuffer", "np.concatenate", "np.unique", "np.flatnonzero", "np.float32", "np.random.default_rng",
    "rng.permutation", "order_rng.permutation",
    "keras.utils.set_random_seed", "keras.Sequential", "keras.Input", "keras.layers.Dense", "keras.layers.Conv2D",
    "keras.layers.MaxPooling2D", "keras.layers.AveragePooling2D", "keras.layers.Dropout", "keras.layers.Flatten",
    "keras.models.load_model", "keras.optimizers.schedules.CosineDecay", "keras.losses.SparseCategoricalCrossentropy",
    "keras.optimizers.Adam", "keras.optimizers.SGD", "keras.optimizers.RMSprop", "keras.optimizers.AdamW",
    "keras.optimizers.Adagrad", "keras.optimizers.Nadam",
    "model", "model.compile", "model.fit", "model.evaluate", "model.predict", "model.count_params",
    "optimizer.build", "optimizer.apply", "loss_fn", "train_batches", "tape.gradient",
    "tf.function", "tf.TensorSpec", "tf.TensorArray", "tf.shape", "tf.range", "tf.GradientTape", "tf.reduce_sum",
    "tf.cast", "tf.argmax", "losses.write", "right.write", "losses.stack", "right.stack",
}


def called_name(func: ast.expr) -> str:
    """'keras.layers.Dense' for keras.layers.Dense(...); '.reshape' for a method called on an expression."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
        return ".".join(reversed(parts))
    return "." + parts[0] if parts else "<an expression>"


def check_script(text: str) -> None:
    """The script parses; imports and calls are the allowed ones; MARK only inside plain string literals."""
    tree = ast.parse(text)
    imported, calls = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        elif isinstance(node, ast.Call):
            calls.add(called_name(node.func))
        elif isinstance(node, ast.Name):
            assert MARK not in node.id
        elif isinstance(node, ast.Attribute):
            assert MARK not in node.attr
        elif isinstance(node, ast.JoinedStr):  # f-strings hold only our own text
            assert MARK not in ast.unparse(node)
    assert imported <= IMPORTS, imported - IMPORTS
    assert calls <= CALLS, calls - CALLS
    assert MARK not in (ast.get_docstring(tree) or "")
    for token in tokenize.generate_tokens(io.StringIO(text).readline):  # comments, names, operators: no MARK
        if token.type != tokenize.STRING:
            assert MARK not in token.string, (tokenize.tok_name[token.type], token.string)


def set_field(trace, path: tuple, value) -> None:
    target = trace
    for step in path[:-1]:
        target = target[step] if isinstance(step, int) or isinstance(target, dict) else getattr(target, step)
    last = path[-1]
    if isinstance(last, int) or isinstance(target, dict):
        target[last] = value
    else:
        setattr(target, last, value)


def scripts_or_refusal(trace) -> list[str]:
    """Both scripts for this trace; a refusal must be a SettingsError with a one-line message."""
    written = []
    for write in (fit_script, exact_script):
        try:
            written.append(write(trace))
        except SettingsError as error:
            assert "\n" not in str(error) and MARK not in str(error)
    return written


HOSTILE_TEXT = st.one_of(
    st.sampled_from(PAYLOADS),
    st.lists(st.sampled_from(['"', "'", '"""', "'''", "\n", "\r", "\\", "\x0c", "\u2028", "\x85", "\x00", "#", "(", ")",
                              ";", "{", "}", MARK, f"__import__('os').system('touch {MARK}')", "relu", "Adam", " "]),
             min_size=1, max_size=12).map("".join),
    st.text(min_size=0, max_size=30).map(lambda s: s + MARK),
    st.integers(250, 6000).map(lambda n: "a/" * (n // 2) + MARK + ".npz"),  # longer than a file name may be
)
HOSTILE_NUMBER = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), -1, 0, 10**30, True, 1e308, -0.0, [1, 2], [1e309, 2],
                     [MARK, 1], {"x": 1}, None]),
    st.integers(), st.floats(), HOSTILE_TEXT,
)


def light(trace):
    """The trace without its pictures and weights (code mode reads none of them): quick to copy per example."""
    import dataclasses

    return dataclasses.replace(trace, samples=[], weights=[], quiz=[],
                               evaluation=dataclasses.replace(trace.evaluation, mistakes=[]))


@pytest.fixture(scope="module")
def cnn_trace(tmp_path_factory):
    import pipetrace

    return light(pipetrace.run(conv=True, dropout=0.25, limit=600, epochs=1, seed=0))


@pytest.fixture(scope="module")
def dense_trace(small_run):
    return light(small_run[0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(STRING_FIELDS), value=HOSTILE_TEXT)
def test_hostile_strings_never_become_code(dense_trace, field, value):
    trace = copy.deepcopy(dense_trace)
    set_field(trace, field, value)
    for text in scripts_or_refusal(trace):
        check_script(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(NUMBER_FIELDS), value=HOSTILE_NUMBER)
def test_hostile_numbers_never_become_code(dense_trace, field, value):
    trace = copy.deepcopy(dense_trace)
    set_field(trace, field, value)
    for text in scripts_or_refusal(trace):
        check_script(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE_NUMBER)
def test_a_hostile_momentum_of_an_sgd_run_never_becomes_code(dense_trace, value):
    """SGD is the optimizer whose call takes the momentum: any value is a float literal or refused."""
    trace = copy.deepcopy(dense_trace)
    trace.settings.optimizer, trace.settings.momentum = "sgd", value
    for text in scripts_or_refusal(trace):
        check_script(text)
        assert "keras.optimizers.SGD(learning_rate=" in text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(CNN_FIELDS), value=st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER))
def test_hostile_layer_configs_never_become_code(cnn_trace, field, value):
    trace = copy.deepcopy(cnn_trace)
    set_field(trace, field, value)
    for text in scripts_or_refusal(trace):
        check_script(text)


def test_every_benign_script_passes_the_same_checks(dense_trace, cnn_trace, tmp_path):
    """The checks above are not vacuous: real scripts parse and use the allowed names (and keras.Sequential)."""
    variants = [dense_trace, cnn_trace]
    for field, value in (("dataset", "digits"), ("dataset", str(tmp_path / "data.npz")), ("optimizer", "sgd"),
                         ("schedule", "constant"), ("validation", 0.1)):
        variant = copy.deepcopy(dense_trace)
        setattr(variant.settings, field, value)
        variants.append(variant)
    momentum = copy.deepcopy(dense_trace)
    momentum.settings.optimizer, momentum.settings.momentum = "sgd", 0.9
    variants.append(momentum)
    for trace in variants:
        for text in (fit_script(trace), exact_script(trace)):
            check_script(text)
            assert "keras.Sequential" in text
    for text in (fit_script(momentum), exact_script(momentum)):
        assert re.search(r"keras\.optimizers\.SGD\(learning_rate=\w+, momentum=0\.9\)", text)
    assert "model.fit(" in fit_script(cnn_trace) and "keras.layers.Conv2D(16" in fit_script(cnn_trace)


def test_the_checks_catch_an_injection():
    """check_script itself fails on the kind of script the old code mode wrote from a crafted trace."""
    spliced = f'"""The run of x"""\n__import__("os").system("touch {MARK}")\n""""""\nimport keras\n'
    with pytest.raises(AssertionError):
        check_script(spliced)
    commented = f"import keras\n# ---- Stage 5, Build x\n{MARK} = 1\n"
    with pytest.raises(AssertionError):
        check_script(commented)


def test_hostile_paths_enter_only_as_literals(small_run, tmp_path):
    """File and folder names of any text (a newline and quotes included) are repr literals in the script."""
    import numpy as np

    hostile = tmp_path / f"a'''\"\"\"\n__import__('os').system('touch {MARK}')#\\"
    hostile.mkdir()
    npz = hostile / "data.npz"
    np.savez(npz, x_train=np.zeros((12, 4, 4), np.uint8), y_train=np.arange(12) % 2,
             x_test=np.zeros((6, 4, 4), np.uint8), y_test=np.arange(6) % 2)
    model_file = hostile / "model.keras"
    model_file.write_bytes(b"not read by code mode")
    for field, value in ((("settings", "dataset"), str(npz)), (("settings", "model"), str(model_file)),
                         (("settings", "data_dir"), str(hostile)), (("settings", "dataset"), str(hostile))):
        trace = copy.deepcopy(small_run[0])
        set_field(trace, field, value)
        written = scripts_or_refusal(trace)
        assert written or field[-1] == "dataset"
        for text in written:
            check_script(text)
            assert repr(str(Path(value).resolve())) in text or field[-1] == "data_dir"


def run_python(script: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600, cwd=cwd)


def test_written_scripts_run_and_run_nothing_else(tmp_path):
    """A trace carrying a payload in every text field gives scripts that train and evaluate, and touch no marker."""
    import pipetrace

    folder = tmp_path / "run"
    trace = pipetrace.run(limit=600, epochs=1, seed=0, out=folder)
    marker = tmp_path / "marker"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for field in (("created_at",), ("dataset", "name"), ("dataset", "split"), ("network", "optimizer"),
                  ("network", "schedule"), ("network", "layers", 0, "label"), ("network", "loss")):
        set_field(trace, field, f'"""\n{payload}\n"""\'\'\'\n{payload}\n\'\'\'\n# {payload}\n\u2028{payload}')
    for name, text in (("fit.py", fit_script(trace)), ("exact.py", exact_script(trace))):
        script = tmp_path / name
        script.write_text(text, encoding="utf-8")
        ran = run_python(script, tmp_path)
        assert ran.returncode == 0, ran.stderr[-2000:]
        assert "Test accuracy:" in ran.stdout
        assert not marker.exists(), f"{name} ran the payload"


def test_learn_code_never_writes_through_a_planted_link(small_run, tmp_path):
    """reproduce.py planted as a symlink to another file: that file is untouched, the link replaced by the script."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "trace.json").write_bytes((small_run[1] / "trace.json").read_bytes())
    victim = tmp_path / "bashrc"
    victim.write_text("echo hello\n")
    (folder / "reproduce.py").symlink_to(victim)
    (folder / "reproduce_exact.py").symlink_to(victim)
    for extra in ([], ["--exact"]):
        result = pipetrace_cli("learn", "code", str(folder), *extra)
        assert result.returncode == 0, result.stderr
    assert victim.read_text() == "echo hello\n"
    for name in ("reproduce.py", "reproduce_exact.py"):
        assert not (folder / name).is_symlink() and "import keras" in (folder / name).read_text()
    assert sorted(p.name for p in folder.iterdir()) == ["reproduce.py", "reproduce_exact.py", "trace.json"]


def test_a_refused_trace_is_one_clear_line(small_run, tmp_path):
    trace = copy.deepcopy(small_run[0])
    trace.settings.optimizer = f"Adam(); __import__('os').system('touch {MARK}')"
    with pytest.raises(SettingsError, match=r"^code mode: the trace's settings\.optimizer is not one of adagrad, adam,"):
        fit_script(trace)
