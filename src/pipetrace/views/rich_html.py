"""A rich renderable as a notebook shows it: HTML with the terminal's colours, and the same as plain text.

Notebooks get the very renderables the terminal prints (the epoch table, the prediction panels,
the progress line), exported by rich itself, so the two never drift apart.

>>> from rich.text import Text
>>> bundle = mimebundle(Text("loss 0.3012", style="bold"))
>>> bundle["text/plain"]
'loss 0.3012\\n'
>>> "font-weight: bold" in bundle["text/html"]
True
"""

from __future__ import annotations

import io

from rich.console import Console, RenderableType
from rich.jupyter import JUPYTER_HTML_FORMAT

# A notebook cell at its default font in JupyterLab, Notebook 7, Colab and VS Code on a laptop holds ~90 columns;
# rich's own default (115, rich.console.JUPYTER_DEFAULT_COLUMNS) draws tables wider than that, which then scroll.
NOTEBOOK_COLUMNS = 88


def mimebundle(renderable: RenderableType, width: int = NOTEBOOK_COLUMNS) -> dict[str, str]:
    """{"text/plain": ..., "text/html": ...} for IPython's display (plain text has no escape codes)."""
    console = Console(record=True, file=io.StringIO(), width=width, force_jupyter=False, force_terminal=True,
                      color_system="truecolor", highlight=False)
    console.print(renderable)
    html = console.export_html(inline_styles=True, code_format=JUPYTER_HTML_FORMAT, clear=False)
    return {"text/plain": console.export_text(styles=False), "text/html": html}


def as_html(renderable: RenderableType, width: int = NOTEBOOK_COLUMNS) -> str:
    """Just the HTML: for `_repr_html_`."""
    return mimebundle(renderable, width)["text/html"]
