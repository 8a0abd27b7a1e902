"""A grayscale image drawn in the terminal: half blocks in colour, an ASCII ramp in plain text.

>>> from rich.console import Console
>>> Console(no_color=True, width=40).print(Digit([[0, 255], [255, 0]], enlarge=1))
@@
>>> Console(no_color=True, width=40).print(Digit([[16, 8], [0, 16]], maximum=16, enlarge=2))
@@++
  @@
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

RAMP = " .:-=+*#%@"  # darkest (blank) to brightest (ink)


class Digit:
    """Renders rows of pixel values, two image rows per terminal line (square pixels).

    `maximum` is the value of full ink (255 for 8-bit images, 16 for scikit-learn's digits);
    images smaller than 14 pixels are drawn with each pixel repeated, so 8 x 8 stays legible.
    """

    def __init__(self, image: list[list[float]], maximum: float = 255.0, enlarge: int | None = None):
        repeat = enlarge or max(1, 16 // max(len(image), 1))
        rows = [[min(255, round(v * 255 / maximum)) for v in row for _ in range(repeat)] for row in image]
        self.image = [row for row in rows for _ in range(repeat)]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self.image
        plain = console.no_color or console.color_system is None
        for top_index in range(0, len(rows), 2):
            top = rows[top_index]
            bottom = rows[top_index + 1] if top_index + 1 < len(rows) else [0] * len(top)
            if plain:
                text = "".join(RAMP[min(len(RAMP) - 1, max(a, b) * len(RAMP) // 256)] for a, b in zip(top, bottom))
                yield Segment(text.rstrip() if not text.strip() else text)
            else:
                for a, b in zip(top, bottom):
                    yield Segment("▀", Style(color=_grey(a), bgcolor=_grey(b)))
            yield Segment.line()

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        width = len(self.image[0]) if self.image else 0
        return Measurement(width, width)


def grey(image: list) -> list[list[int]]:
    """A colour image (rows of [r, g, b]) as grey levels 0..255; a grey image as it is."""
    if image and image[0] and isinstance(image[0][0], list):
        return [[round(sum(pixel) / len(pixel)) for pixel in row] for row in image]
    return image


def _grey(value: int) -> str:
    v = int(value)
    return f"rgb({v},{v},{v})"
