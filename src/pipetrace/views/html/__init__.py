"""The HTML report: a Trace as one self-contained, interactive page (see report.py).

>>> from pipetrace.views.html import write_report
>>> write_report(Trace.load("runs/x/trace.json"), "report.html")    # doctest: +SKIP
"""

from pipetrace.views.html.report import notebook_html, render_html, write_report

__all__ = ["notebook_html", "render_html", "write_report"]
