"""Helpers for the learning-mode tests: drive a mode through a pseudo-terminal, as a person would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from conftest import ROOT


class Terminal:
    """`python -m pipetrace ARGS` on a pseudo-terminal: read what it shows, press keys."""

    def __init__(self, *args: str):
        self.master, slave = pty.openpty()
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "LINES": "50", "TERM": "xterm"}
        self.process = subprocess.Popen([sys.executable, "-m", "pipetrace", *args], stdin=slave, stdout=slave,
                                        stderr=slave, cwd=ROOT, env=env, close_fds=True)
        os.close(slave)
        self.output = ""
        self.cursor = 0

    def expect(self, text: str, timeout: float = 60) -> str:
        """Read until `text` appears (after what was already matched); return what came."""
        start = self.cursor
        deadline = time.monotonic() + timeout
        while text not in self.output[start:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"waited {timeout} s for {text!r}; the terminal shows:\n{self.output[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"the program ended before {text!r}:\n{self.output[-2000:]}")
                self.output += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        self.cursor = self.output.index(text, start) + len(text)  # the next expect reads on from here
        return self.output[start:self.cursor]

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def finish(self, timeout: float = 60) -> int:
        try:
            while True:
                ready, _, _ = select.select([self.master], [], [], 1)
                if ready:
                    chunk = os.read(self.master, 65536)
                    if not chunk:
                        break
                    self.output += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
                elif self.process.poll() is not None:
                    break
        except OSError:
            pass
        code = self.process.wait(timeout=timeout)
        os.close(self.master)
        return code


def piped(*args: str, input: str = "", env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m pipetrace ARGS` with `input` piped to it (no terminal), output captured, no colour."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipetrace", *args], input=input, capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)
