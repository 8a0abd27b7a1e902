"""A small convolutional network on MNIST, through `pipetrace.run`.

`conv=True` builds Conv2D(16) -> MaxPooling -> Conv2D(32) -> MaxPooling -> Flatten ->
Dense(128) -> Dense(10, softmax). The data flow adapts (stage 3 adds a channel axis
instead of flattening), and the prediction trace shows what every layer did, the
convolutions' feature maps included (as pictures in the saved report.html).

    .venv/bin/python examples/small_cnn.py                      # 3 epochs, all of MNIST
    .venv/bin/python examples/small_cnn.py --limit 6000 --epochs 1 --out runs/cnn
"""

import argparse

import pipetrace

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--limit", type=int, default=None, help="training images to use (test: limit / 6)")
parser.add_argument("--out", default="runs/small-cnn", help="where to save trace.json, model.keras, report.html")
args = parser.parse_args()

trace = pipetrace.run(conv=True, epochs=args.epochs, limit=args.limit, out=args.out, force=True)

print(trace.network.architecture)
for layer in trace.prediction.layers:
    print(f"{layer.name:<28} {layer.summary}")
print(f"test accuracy {trace.evaluation.test_accuracy:.2%}; open {args.out}/report.html to see the feature maps")
