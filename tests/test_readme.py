"""The README's Python examples run as written."""

import re

from conftest import ROOT


def test_readme_python_examples_run(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README shows Python examples"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text()[:400]
    assert "make run" in head and "make test" in head
