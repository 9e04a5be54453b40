"""Shuffling and mini-batches, as in the original tutorial's ``randomize`` and ``get_next_batch``."""

from __future__ import annotations

import numpy as np


def randomize(
    x: np.ndarray, y: np.ndarray, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle examples and labels with one shared permutation.

    Args:
        x: examples, first axis = examples.
        y: labels, same length as ``x``.
        seed: an integer or a :class:`numpy.random.Generator` for a reproducible order;
            ``None`` draws a fresh random order.

    Returns:
        ``(shuffled_x, shuffled_y)``, new arrays; the inputs are left as they are.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}: they must match.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    permutation = rng.permutation(len(y))
    return x[permutation], y[permutation]


def get_next_batch(x: np.ndarray, y: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Examples and labels ``start`` (inclusive) to ``end`` (exclusive), as in the original."""
    if not 0 <= start < end:
        raise ValueError(f"A batch needs 0 <= start < end, got start={start}, end={end}.")
    return x[start:end], y[start:end]
