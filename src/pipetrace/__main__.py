"""`python -m pipetrace` is the `pipetrace` command."""

from pipetrace.cli import console_main

console_main()
