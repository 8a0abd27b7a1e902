"""Terminal text is text: strings from traces, datasets and paths print literally, never as markup or escapes."""

from __future__ import annotations

import io
import re

import numpy as np
from conftest import pipetrace_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from pipetrace.views.safe_text import literal, safe, visible

CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0), 0x200B, 0x200E, 0x202A, 0x202E, 0x2066, 0x2069, 0xFEFF)]
PIECES = ["[", "]", "/", "\\", "=", "link", "bold", "x", " ", ":", "é", "[/]", "[link=https://e.com]", *CONTROLS]
TRICKY = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


def printed(*renderables, **options) -> str:
    console = Console(file=io.StringIO(), width=400, force_terminal=True, color_system="truecolor", **options)
    console.print(*renderables, soft_wrap=True)
    return console.file.getvalue()


def without_colour(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@given(TRICKY)
def test_visible_leaves_no_control_or_invisible_character(text):
    shown = visible(text)
    assert not any(c in shown for c in CONTROLS)
    assert visible(shown) == shown  # already visible text is left as it is
    if not any(c in text for c in CONTROLS):
        assert shown == text


@settings(max_examples=300)
@given(TRICKY)
def test_literal_and_safe_print_exactly_the_visible_text(text):
    expected = visible(text)
    assert without_colour(printed(literal(text))) == expected + "\n"
    assert without_colour(printed(literal(text, style="bold"))) == expected + "\n"
    assert without_colour(printed(f"[bold]{safe(text)}[/]", emoji=False)) == expected + "\n"
    table = Table.grid()
    table.add_row(literal(text))
    panel = Panel(table, title=literal(text, style="bold"), width=200)
    out = printed(panel)
    assert "\x1b]" not in out and "\x07" not in out and not re.search(r"\x1b(?!\[[0-9;]*m)", out)


def test_escapes_are_named_the_way_python_writes_them():
    assert visible("a\x1b]52;c;aGk=\x07b\r\n\t") == "a\\x1b]52;c;aGk=\\x07b\\r\\n\\t"
    assert visible("\x9b31m \u202e \x00") == "\\x9b31m \\u202e \\x00"
    assert safe("[link=https://example.com]x[/link] [/]") == "\\[link=https://example.com]x\\[/link] \\[/]"


def test_markup_in_text_never_becomes_a_link():
    out = printed(literal("[link=https://example.com]click[/link]"))
    assert "\x1b]8;" not in out and "[link=https://example.com]click[/link]" in out


def test_an_npz_class_named_like_markup_runs_and_prints_literally(tmp_path):
    """`pipetrace run` on a dataset whose class names are rich markup: a whole run, names printed as they are."""
    rng = np.random.default_rng(0)
    path = tmp_path / "markup.npz"
    np.savez(path, x_train=rng.integers(0, 256, (120, 8, 8), dtype=np.uint8), y_train=np.arange(120) % 3,
             x_test=rng.integers(0, 256, (30, 8, 8), dtype=np.uint8), y_test=np.arange(30) % 3,
             class_names=np.array(["[/]", "[link=https://example.com]b[/link]", "[bold]c"]))
    done = pipetrace_cli("run", "--dataset", str(path), "--epochs", "1", "--hidden", "8", "--out", str(tmp_path / "run"),
                         env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "unexpected error" not in done.stderr
    for name in ("[/]", "[link=https://example.com]b[/link]", "[bold]c"):
        assert name in done.stdout
    shown = pipetrace_cli("show", str(tmp_path / "run"), env={"COLUMNS": "200"})
    assert shown.returncode == 0 and "[link=https://example.com]b[/link]" in shown.stdout


def test_the_header_breaks_its_own_line_and_shows_a_trace_newline_as_text():
    """The header's line break is a real one; a newline inside the dataset's name prints as `\\n`."""
    from pipetrace.trace import Settings
    from pipetrace.views.terminal import render_header

    lines = without_colour(printed(render_header(Settings(epochs=1, limit=600), "mnist\nevil"))).splitlines()
    first = next(line for line in lines if "Model Pipeline Trace" in line)
    assert "on mnist\\nevil, first 600 training images" in first
    second = lines[lines.index(first) + 1]
    assert "Dense(128, relu) -> Dense(softmax)" in second and ", 1 epoch, batch 256" in second
    plural = without_colour(printed(render_header(Settings(epochs=5), "MNIST")))
    assert ", 5 epochs, batch 256" in plural and "\\n" not in plural
