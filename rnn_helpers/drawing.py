"""Turn a digit drawn with the mouse into the 28×28 image an MNIST network expects.

MNIST's digits were prepared in a fixed way (LeCun et al.): each handwritten digit was
scaled, keeping its proportions, to fit in a **20×20 box**, anti-aliased to grey levels,
and placed in a **28×28** image so that its **centre of mass** lies at the centre. A
network trained on MNIST has only ever seen digits like that, so a drawing must go
through the same steps before it is classified:

1. crop the drawing to the box around its ink;
2. scale it so that its longer side is 20 pixels (the shorter one in proportion);
3. paste it into a blank 28×28 image with its centre of mass at pixel (14, 14), the
   average centre of mass of MNIST's digits in row and column indices.

:func:`draw_strokes` draws mouse strokes (lists of points) as anti-aliased lines, the way
the canvas of :mod:`rnn_helpers.widget` does, and :func:`mnist_style` does the three
steps. Only NumPy and Pillow (which Matplotlib installs) are used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

MNIST_SIZE = 28  # MNIST images are 28×28
MNIST_BOX = 20  # MNIST's digits were scaled to fit a 20×20 box


class EmptyDrawingError(ValueError):
    """The drawing holds no ink, so there is nothing to classify."""


def draw_strokes(
    strokes: Sequence[Sequence[Sequence[float]]], size: int = 280, line_width: float = 20.0
) -> np.ndarray:
    """Draw strokes as round-ended, anti-aliased lines on a blank square canvas.

    Args:
        strokes: one list of ``(x, y)`` points per stroke (pen down to pen up), in canvas
            pixels: ``x`` from the left, ``y`` from the top. A stroke of one point is a dot.
        size: the canvas is ``size × size`` pixels.
        line_width: the pen's width in pixels.

    Returns:
        float32 ``(size, size)`` array, 0 (no ink) to 1 (full ink).

    Raises:
        ValueError: a point is not two finite numbers, a stroke is empty, or ``size`` or
            ``line_width`` is not positive.
    """
    if int(size) != size or size < 1:
        raise ValueError(f"size = {size!r}: the canvas size must be a whole number of pixels >= 1.")
    if not np.isfinite(line_width) or line_width <= 0:
        raise ValueError(f"line_width = {line_width!r}: it must be a number of pixels > 0.")
    canvas = np.zeros((size, size), np.float32)
    radius = line_width / 2
    centres = np.arange(size, dtype=np.float32) + 0.5  # pixel centres
    for number, stroke in enumerate(strokes):
        points = np.asarray(stroke, dtype=np.float64)
        if points.size == 0:
            raise ValueError(f"stroke {number} has no points.")
        if points.ndim != 2 or points.shape[1] != 2 or not np.all(np.isfinite(points)):
            raise ValueError(f"stroke {number}: every point must be two finite numbers (x, y).")
        if len(points) == 1:  # a dot: a segment of length 0
            points = np.vstack([points, points])
        for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
            # only the pixels near this segment can change
            left = max(int(np.floor(min(x0, x1) - radius - 1)), 0)
            right = min(int(np.ceil(max(x0, x1) + radius + 1)), size)
            top = max(int(np.floor(min(y0, y1) - radius - 1)), 0)
            bottom = min(int(np.ceil(max(y0, y1) + radius + 1)), size)
            if left >= right or top >= bottom:
                continue
            px, py = np.meshgrid(centres[left:right], centres[top:bottom])
            dx, dy = x1 - x0, y1 - y0
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 == 0 else np.clip(((px - x0) * dx + (py - y0) * dy) / length2, 0.0, 1.0)
            distance = np.hypot(px - (x0 + t * dx), py - (y0 + t * dy))
            ink = np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)  # one-pixel soft edge
            np.maximum(canvas[top:bottom, left:right], ink, out=canvas[top:bottom, left:right])
    return canvas


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """The ink-weighted mean ``(row, column)`` of a 2-D image, in pixel indices.

    Raises:
        EmptyDrawingError: the image has no ink.
    """
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    if total <= 0:
        raise EmptyDrawingError("The image holds no ink, so it has no centre of mass.")
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def ink_box(image: np.ndarray, threshold: float = 0.0) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of the pixels above ``threshold`` (bottom, right exclusive).

    Raises:
        EmptyDrawingError: no pixel is above ``threshold``.
    """
    ink = np.asarray(image) > threshold
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise EmptyDrawingError("Nothing is drawn: draw a digit first.")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def mnist_style(
    drawing: np.ndarray, box: int = MNIST_BOX, size: int = MNIST_SIZE, threshold: float = 0.02
) -> np.ndarray:
    """Prepare a drawing as MNIST's digits were: crop, scale into ``box``, centre by mass.

    Args:
        drawing: 2-D array of ink, any size and any scale (0-1, 0-255, ...): 0 is blank
            paper, larger values are more ink. It is divided by its largest value first.
        box: the longer side of the digit after scaling (MNIST: 20).
        size: the side of the square result (MNIST: 28).
        threshold: ink below this fraction of the darkest pixel counts as blank when
            cropping (it hides faint specks; it is not removed from the digit).

    Returns:
        float32 ``(size, size)`` array in [0, 1], darkest pixel 1, with the digit's longer
        side ``box`` pixels long and its centre of mass at ``(size / 2, size / 2)`` to
        within half a pixel (unless that would push the digit over an edge: it is then
        kept whole, against that edge).

    Raises:
        EmptyDrawingError: nothing is drawn (every pixel is 0).
        ValueError: ``drawing`` is not a 2-D array of finite numbers >= 0, or ``box`` does
            not fit in ``size``.
    """
    drawing = np.asarray(drawing, dtype=np.float64)
    if drawing.ndim != 2 or 0 in drawing.shape:
        raise ValueError(f"A drawing must be a non-empty 2-D array of ink; got shape {drawing.shape}.")
    if not np.all(np.isfinite(drawing)):
        raise ValueError("The drawing holds NaN or infinite values; ink must be finite numbers >= 0.")
    if drawing.min() < 0:
        raise ValueError(f"The drawing holds negative ink ({drawing.min():g}); ink must be >= 0.")
    if not (1 <= box <= size):
        raise ValueError(f"box = {box}, size = {size}: the box must be between 1 and the image size.")
    darkest = drawing.max()
    if darkest == 0:
        raise EmptyDrawingError("Nothing is drawn: draw a digit first.")
    drawing = drawing / darkest

    top, bottom, left, right = ink_box(drawing, threshold)
    digit = drawing[top:bottom, left:right]
    height, width = digit.shape
    scale = box / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    # Pillow's resampling filters average over the pixels a new pixel covers when shrinking
    resized = Image.fromarray(digit.astype(np.float32), mode="F").resize(
        (new_width, new_height), Image.Resampling.BILINEAR
    )
    digit = np.clip(np.asarray(resized, dtype=np.float64), 0.0, None)
    if digit.max() <= 0:  # cannot happen for ink above the threshold, but never divide by 0
        raise EmptyDrawingError("The drawing vanished when scaled: draw a larger digit.")
    digit /= digit.max()

    row, col = centre_of_mass(digit)
    target_row, target_col = size / 2, size / 2
    top = int(np.clip(round(target_row - row), 0, size - new_height))
    left = int(np.clip(round(target_col - col), 0, size - new_width))
    image = np.zeros((size, size), np.float32)
    image[top : top + new_height, left : left + new_width] = digit
    return image
