"""Where a warm run's saving time goes: `pipeline.save_run` and its parts, best of N calls in one process.

One default run (full MNIST) warms the process (TensorFlow, matplotlib) and gives the trace; then each
part is called N times and its quickest call is printed. What a lab worker pays after training.

    .venv/bin/python benchmarks/save_path.py [--calls 5]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from tempfile import TemporaryDirectory


def best(call, calls: int) -> float:
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return min(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import pipetrace
    from pipetrace import pipeline
    from pipetrace.views.html import charts, report

    with TemporaryDirectory() as folder:
        out = Path(folder)
        trace = pipetrace.run(out=out / "run", verbose=0)
        names = trace.dataset["class_names"]
        parts = {
            "epoch_chart": lambda: charts.epoch_chart(trace.training),
            "batch_chart": lambda: charts.batch_chart(trace.training),
            "confusion_chart": lambda: charts.confusion_chart(trace.evaluation, names),
            "per_class_chart": lambda: charts.per_class_chart(trace.evaluation, names),
            "render_html": lambda: report.render_html(trace),
            "trace.to_json": trace.to_json,
            "model.save": lambda: trace.model.save(out / "model.keras"),
            "save_run": lambda: pipeline.save_run(trace, trace.model, out / "run"),
        }
        for name, call in parts.items():
            print(f"{name:<16} {best(call, args.calls):.3f} s (best of {args.calls})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
