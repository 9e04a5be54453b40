"""Data augmentation: small random shifts of the training images.

A digit moved a pixel or two is still the same digit, but to a network that reads the
image row by row it is a different sequence: the rows arrive a step earlier or later
and every row's pixels sit in other columns. Showing each training image at a fresh
random offset every epoch teaches the network that these changes do not matter, and so
it overfits less to the exact position of the 55,000 training digits.
"""

from __future__ import annotations

import numpy as np


def random_shift(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move every image by its own random whole-pixel offset, filling the gap with zeros.

    Args:
        images: ``(N, height, width)`` images (e.g. ``(N, 28, 28)``: rows are timesteps).
        max_shift: the largest move in pixels, up/down and left/right independently;
            offsets are drawn uniformly from ``-max_shift .. max_shift``. 0 returns the
            images unchanged.
        rng: the NumPy generator that draws the offsets (seed it for repeatable runs).

    Returns:
        A new array of the same shape and dtype; ``images`` is not modified.

    Raises:
        ValueError: ``images`` is not 3-dimensional, or ``max_shift`` is negative or not
            smaller than the image's height and width.
    """
    if images.ndim != 3:
        raise ValueError(
            f"random_shift needs images of shape (N, height, width); got shape {images.shape}. "
            "Reshape flat images first, e.g. images.reshape(-1, 28, 28)."
        )
    n, height, width = images.shape
    if isinstance(max_shift, bool) or int(max_shift) != max_shift or not 0 <= max_shift < min(height, width):
        raise ValueError(
            f"max_shift = {max_shift!r}: it must be a whole number from 0 to {min(height, width) - 1} "
            "(1 or 2 pixels is typical for 28x28 digits)."
        )
    s = int(max_shift)
    if s == 0:
        return images.copy()
    padded = np.pad(images, ((0, 0), (s, s), (s, s)))
    dy = rng.integers(-s, s + 1, n)
    dx = rng.integers(-s, s + 1, n)
    shifted = np.empty_like(images)
    # one slice per offset pair (at most 25 for s = 2) instead of one per image
    for oy in range(-s, s + 1):
        for ox in range(-s, s + 1):
            chosen = (dy == oy) & (dx == ox)
            # the window that starts s - oy rows down shows the image moved oy rows down
            shifted[chosen] = padded[chosen, s - oy : s - oy + height, s - ox : s - ox + width]
    return shifted


def make_augment(shift: int = 0):
    """The augmentation :func:`rnn_helpers.training.train` applies each epoch, as one function
    ``augment(images, rng) -> images`` of ``(N, T, F)`` images, or None when there is none.

    Args:
        shift: random whole-pixel shifts of up to this many pixels (:func:`random_shift`).
    """
    if not shift:
        return None

    def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return random_shift(images, shift, rng)

    return augment
