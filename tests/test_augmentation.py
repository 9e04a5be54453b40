"""Random shifts of training images."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_helpers.augmentation import random_shift


def digits(n: int = 200, seed: int = 0) -> np.ndarray:
    """Images with a random blob well inside the frame, so a 2-pixel shift loses nothing."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.float32)
    images[:, 4:24, 4:24] = rng.uniform(0.1, 1.0, (n, 20, 20))
    return images


def offset_of(original: np.ndarray, shifted: np.ndarray, s: int) -> tuple[int, int]:
    """The (rows down, columns right) move that turns ``original`` into ``shifted``."""
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            if np.array_equal(np.roll(original, (dy, dx), axis=(0, 1)), shifted):
                return dy, dx
    raise AssertionError("not a whole-pixel shift of the original")


def test_every_image_is_a_shift_of_its_original_within_the_limit():
    images = digits()
    before = images.copy()
    shifted = random_shift(images, 2, np.random.default_rng(1))
    assert shifted.shape == images.shape and shifted.dtype == images.dtype
    assert np.array_equal(images, before)  # the input is left alone
    offsets = [offset_of(o, s, 2) for o, s in zip(images, shifted, strict=True)]
    assert all(abs(dy) <= 2 and abs(dx) <= 2 for dy, dx in offsets)
    # all 25 offsets occur and most images move
    assert len(set(offsets)) == 25
    assert sum(o == (0, 0) for o in offsets) < 30
    np.testing.assert_allclose(shifted.sum(axis=(1, 2)), images.sum(axis=(1, 2)), rtol=1e-6)


def test_pixels_pushed_out_of_the_frame_are_dropped_and_the_gap_is_zero():
    image = np.zeros((1, 5, 5), np.float32)
    image[0, 0, :] = 1.0  # a bright top row
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(50):
        out = random_shift(image, 1, rng)[0]
        assert set(np.unique(out)) <= {0.0, 1.0}
        seen.add(out.sum())
    # moved up: the row leaves the frame (0); sideways: one pixel falls off (4); else 5
    assert seen == {0.0, 4.0, 5.0}


def test_same_generator_state_same_shifts_and_zero_is_a_copy():
    images = digits(50)
    a = random_shift(images, 1, np.random.default_rng(3))
    b = random_shift(images, 1, np.random.default_rng(3))
    assert np.array_equal(a, b)
    same = random_shift(images, 0, np.random.default_rng(3))
    assert np.array_equal(same, images) and same is not images


@pytest.mark.parametrize(
    "images,max_shift,message",
    [
        (np.zeros((4, 784), np.float32), 1, "shape (N, height, width); got shape (4, 784)"),
        (np.zeros((4, 28, 28), np.float32), -1, "max_shift = -1: it must be a whole number from 0 to 27"),
        (np.zeros((4, 28, 28), np.float32), 28, "max_shift = 28"),
        (np.zeros((4, 28, 28), np.float32), 1.5, "max_shift = 1.5"),
    ],
)
def test_bad_input_is_explained(images, max_shift, message):
    with pytest.raises(ValueError) as info:
        random_shift(images, max_shift, np.random.default_rng(0))
    assert message in str(info.value)
