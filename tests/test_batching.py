"""randomize and get_next_batch, as the original tutorial used them."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_helpers import get_next_batch, randomize


def test_randomize_keeps_pairs_together():
    x = np.arange(50, dtype=np.float32).reshape(25, 2)
    y = np.arange(25)
    sx, sy = randomize(x, y, seed=3)
    assert np.array_equal(sx[:, 0], sy * 2)  # every example still sits next to its own label
    assert not np.array_equal(sy, y)
    assert sorted(sy.tolist()) == y.tolist()
    assert np.array_equal(y, np.arange(25)), "the inputs must not be shuffled in place"


def test_randomize_is_seedable():
    x, y = np.arange(100), np.arange(100)
    assert np.array_equal(randomize(x, y, seed=7)[1], randomize(x, y, seed=7)[1])
    assert not np.array_equal(randomize(x, y, seed=7)[1], randomize(x, y, seed=8)[1])
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    first = [randomize(x, y, rng_a)[1] for _ in range(2)]
    second = [randomize(x, y, rng_b)[1] for _ in range(2)]
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1]), "a generator gives a new order each epoch"


def test_randomize_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="x has 3 examples but y has 2"):
        randomize(np.zeros(3), np.zeros(2))


def test_get_next_batch():
    x, y = np.arange(10) * 10, np.arange(10)
    bx, by = get_next_batch(x, y, 2, 5)
    assert bx.tolist() == [20, 30, 40] and by.tolist() == [2, 3, 4]


@pytest.mark.parametrize("start,end", [(3, 3), (5, 2), (-1, 4)])
def test_get_next_batch_rejects_bad_ranges(start, end):
    with pytest.raises(ValueError, match="0 <= start < end"):
        get_next_batch(np.arange(10), np.arange(10), start, end)
