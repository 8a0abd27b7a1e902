#!/usr/bin/env bash
# The UCI 8 x 8 handwritten digits (1,797 images, bundled with pipetrace as scikit-learn ships them: no download),
# traced from the command line. They have no official split, so pipetrace makes a seeded,
# stratified one (80% / 20% of every digit) and says so in the Train/Test split stage.
#
#   examples/digits_from_the_command_line.sh                 # 30 epochs, saved in runs/digits
#   examples/digits_from_the_command_line.sh --epochs 5 --out /tmp/digits --force
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
pipetrace="${PIPETRACE:-$here/.venv/bin/pipetrace}"

"$pipetrace" run --dataset digits --hidden 64 --batch-size 32 --learning-rate 0.01 --epochs 30 --out runs/digits "$@"
