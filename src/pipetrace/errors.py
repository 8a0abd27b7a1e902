"""The errors pipetrace raises on purpose.

Every one of them carries a message written for a learner: the command line prints it
without a traceback and exits with status 2 (bad input) or 1 (a run that did not succeed).
"""


class PipetraceError(Exception):
    """Base class: a problem pipetrace explains in one clear message."""

    exit_status = 2


class DataError(PipetraceError):
    """A data file is missing, damaged or not in the format it claims to be."""


class SettingsError(PipetraceError):
    """An option or setting has a value pipetrace cannot use."""


class TraceFileError(PipetraceError):
    """A file given to `pipetrace show` is not a trace this version can read."""
