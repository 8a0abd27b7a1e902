"""`python -m pipetrace` is the `pipetrace` command."""

import sys

from pipetrace.cli import main

sys.exit(main())
