"""How a benchmark ends: the targets it missed, reported; its exit status for the run, not the machine's load.

Timings move with whatever else the machine is doing, so a missed target is a finding to read, not a
broken build: the benchmarks exit 0 once they have measured, and 1 for a missed target only with --strict.
A benchmark whose run itself failed exits non-zero before it gets here.
"""

from __future__ import annotations

import sys


def missed_targets(missed: list[str], strict: bool) -> int:
    """Say which targets were missed (on stderr) and return the exit status."""
    if missed:
        print(f"\n{len(missed)} target(s) missed: {', '.join(missed)}. Timings depend on the machine's load: "
              "see BENCHMARKS.md; run again on a quiet machine" + (" (--strict: exit 1)" if strict else ""),
              file=sys.stderr)
    return 1 if missed and strict else 0
