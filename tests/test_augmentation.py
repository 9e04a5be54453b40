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


def test_random_affine_rotates_and_rescales_about_the_centre():
    from rnn_helpers.augmentation import random_affine

    rng = np.random.default_rng(0)
    images = np.zeros((3, 28, 28), np.float32)
    images[:, 6:22, 13:15] = 1.0  # an upright bar through the centre
    same = random_affine(images, 0.0, 0.0, rng)
    np.testing.assert_array_equal(same, images)  # no rotation, no rescaling: the images themselves
    moved = random_affine(images, 30.0, 0.2, rng)
    assert moved.shape == images.shape and moved.dtype == np.float32 and not np.array_equal(moved, images)
    rows, cols = np.indices((28, 28))
    for before, after in zip(images, moved, strict=True):
        centre = [(before * grid).sum() / before.sum() for grid in (rows, cols)]
        moved_centre = [(after * grid).sum() / after.sum() for grid in (rows, cols)]
        np.testing.assert_allclose(moved_centre, centre, atol=0.6)  # about the centre
        assert 0.6 < after.sum() / before.sum() < 1.5  # the ink scales with the area: (1 +- 0.2) ** 2
    tilted = moved[0][6:22].argmax(axis=1)  # where the bar sits in each row
    assert tilted.max() - tilted.min() >= 1 or moved[1][6:22].argmax(1).ptp() >= 1, "rotated"
    assert np.array_equal(random_affine(images, 30.0, 0.2, np.random.default_rng(5)),
                          random_affine(images, 30.0, 0.2, np.random.default_rng(5)))  # fmt: skip
    with pytest.raises(ValueError, match="square images"):
        random_affine(images.reshape(3, 28 * 28), 10, 0, rng)
    with pytest.raises(ValueError, match="rotation = 90 must be 0 to 45 degrees"):
        random_affine(images, 90, 0, rng)


def test_make_augment_combines_what_is_asked_for():
    from rnn_helpers.augmentation import make_augment

    assert make_augment() is None and make_augment(0, 0.0, 0.0) is None
    images = np.random.default_rng(1).random((4, 28, 28), dtype=np.float32)
    shifted = make_augment(shift=1)(images, np.random.default_rng(2))
    assert set(np.unique(np.round(shifted, 6))) <= set(np.unique(np.round(images, 6))) | {0.0}  # whole pixels
    rotated = make_augment(rotation=10.0)(images, np.random.default_rng(2))
    assert not np.array_equal(rotated, images) and rotated.shape == images.shape
