"""How interactive modes hear the learner: single keys on a real terminal, lines when piped.

On a terminal, `walk` and `quiz` react to one key press (Enter, b, q, a letter) with no
Enter needed. With no terminal (`echo a | pipetrace learn quiz`, a test, a script) the
answers are read from standard input one per line, and the end of input ends the mode.

>>> import io
>>> keys = Answers(io.StringIO("x\\nB\\n"), echo=lambda text: None)
>>> keys.ask("Your answer: ", "abcd")
'b'
>>> keys.ask("Your answer: ", "abcd") is None      # end of input
True
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

ENTER = ""  # what `ask` returns for the Enter key (or an empty line)
CTRL_C, CTRL_D, ESCAPE = "\x03", "\x04", "\x1b"


class Answers:
    """Ask for one of a few allowed keys; None means the learner's input ended."""

    def __init__(self, stream=None, echo: Callable[[str], None] | None = None):
        self.stream = stream if stream is not None else sys.stdin
        self.echo = echo or _write
        self.pending: list[str] = []  # keys read but not used yet
        self.saved = None  # the terminal's settings while a session holds it in cbreak mode
        try:
            self.terminal = self.stream.isatty()
        except (AttributeError, ValueError):
            self.terminal = False

    def __enter__(self) -> Answers:
        """Hold a terminal in cbreak mode for a whole session, so keys typed early are not echoed or lost."""
        if self.terminal:
            import termios
            import tty

            fd = self.stream.fileno()
            self.saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        return self

    def __exit__(self, *exc) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self.saved)
            self.saved = None

    def ask(self, prompt: str, allowed: str, enter: bool = False) -> str | None:
        """Show `prompt` and return the key (lower case) among `allowed`, "" for Enter if `enter`."""
        self.echo(prompt)
        while True:
            key = self._key() if self.terminal else self._line()
            if key is None:
                self.echo("\n")
                return None
            if key == ENTER and enter:
                self.echo("\n")
                return ENTER
            if len(key) == 1 and key in allowed.lower():
                self.echo(f"{key}\n")
                return key
            if not self.terminal:  # a piped line that is no answer: say so, read the next one
                keys = ", ".join(allowed.upper()) + (", or an empty line" if enter else "")
                self.echo(f"(expected one of {keys}; got {key!r})\n{prompt}")

    def _line(self) -> str | None:
        line = self.stream.readline()
        if not line:
            return None
        return line.strip().lower()

    def _key(self) -> str | None:
        """One key press, unbuffered and unechoed (cbreak mode), the terminal restored after."""
        import termios
        import tty

        if self.pending:
            return self._meaning(self.pending.pop(0))
        fd = self.stream.fileno()
        if self.saved is not None:  # already in cbreak mode for the whole session
            raw = os.read(fd, 8)
        else:
            saved = termios.tcgetattr(fd)
            try:
                tty.setcbreak(fd)
                raw = os.read(fd, 8)
            finally:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        text = raw.decode("utf-8", "ignore")
        if text.startswith(ESCAPE) and len(text) > 1:
            return "?"  # an arrow or function key: ignored
        if len(text) > 1:  # keys typed ahead arrive together: keep them, one per question
            self.pending.extend(text[1:])
            text = text[0]
        return self._meaning(text)

    def _meaning(self, text: str) -> str | None:
        if not text or text[0] in (CTRL_D,):
            return None
        if text[0] == CTRL_C:
            raise KeyboardInterrupt
        if text[0] in "\r\n":
            return ENTER
        if text[0] == ESCAPE:
            return "q"  # Escape quits
        return text[0].lower()


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
