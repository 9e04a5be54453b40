"""Data augmentation: small random shifts, rotations and rescalings of the training images.

A digit moved a pixel or two is still the same digit, but to a network that reads the
image row by row it is a different sequence: the rows arrive a step earlier or later
and every row's pixels sit in other columns. Showing each training image at a fresh
random offset every epoch teaches the network that these changes do not matter, and so
it overfits less to the exact position of the 55,000 training digits. A slightly rotated
or rescaled digit is still the same digit too (:func:`random_affine`), though resampling
it between pixels also blurs its strokes a little.

Images are ``(N, height, width)`` float arrays, e.g. ``(N, 28, 28)`` in [0, 1].
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


def _inverse_affine(n: int, rng: np.random.Generator, rotation: float, scale: float, size: int) -> np.ndarray:
    """Per-image transforms ``(n, 8)`` in TensorFlow's projective form, each mapping an output
    pixel to the input point it samples: a rotation by up to ``rotation`` degrees and a
    rescaling by up to ``scale`` (a fraction), both about the image's centre."""
    centre = (size - 1) / 2.0
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    factor = rng.uniform(1.0 - scale, 1.0 + scale, n)
    # the inverse of "scale by factor, then rotate by angle": rotate back, then divide
    cos, sin = np.cos(angle) / factor, np.sin(angle) / factor
    a0, a1, b0, b1 = cos, sin, -sin, cos
    offset_x = centre - (a0 * centre + a1 * centre)
    offset_y = centre - (b0 * centre + b1 * centre)
    zeros = np.zeros(n)
    return np.stack([a0, a1, offset_x, b0, b1, offset_y, zeros, zeros], axis=1).astype(np.float32)


def random_affine(
    images: np.ndarray, rotation: float, scale: float, rng: np.random.Generator, chunk: int = 5000
) -> np.ndarray:
    """Rotate every image by its own random angle and rescale it by its own random factor.

    Args:
        images: ``(N, height, width)`` square images.
        rotation: the largest rotation in degrees, either way (e.g. 10).
        scale: the largest change of size, as a fraction (e.g. 0.1: from 90% to 110%).
        rng: the NumPy generator that draws the angles and factors.
        chunk: images resampled per TensorFlow call.

    Returns:
        A new float32 array of the same shape: bilinear resampling about the centre, zero
        outside the image. ``images`` is not modified.

    Raises:
        ValueError: ``images`` is not 3-dimensional or not square, or a bound is out of range.
    """
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"random_affine needs square images (N, size, size); got shape {images.shape}.")
    if not 0 <= rotation <= 45 or not 0 <= scale < 1:
        raise ValueError(
            f"rotation = {rotation!r} must be 0 to 45 degrees, scale = {scale!r} from 0 to below 1."
        )
    import tensorflow as tf  # only this augmentation computes with TensorFlow

    n, size, _ = images.shape
    transforms = _inverse_affine(n, rng, rotation, scale, size)
    out = np.empty(images.shape, np.float32)
    for start in range(0, n, chunk):
        part = tf.constant(images[start : start + chunk, :, :, None], tf.float32)
        moved = tf.raw_ops.ImageProjectiveTransformV3(
            images=part, transforms=transforms[start : start + chunk], output_shape=[size, size],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT",
        )  # fmt: skip
        out[start : start + chunk] = moved.numpy()[..., 0]
    return out


def make_augment(shift: int = 0, rotation: float = 0.0, scale: float = 0.0):
    """The augmentation :func:`rnn_helpers.training.train` applies each epoch, as one function
    ``augment(images, rng) -> images`` of ``(N, T, F)`` images, or None when there is none.

    Args:
        shift: random whole-pixel shifts of up to this many pixels (:func:`random_shift`).
        rotation, scale: random rotations of up to this many degrees and rescalings by up to
            this fraction (:func:`random_affine`), before the shift.
    """
    if not (shift or rotation or scale):
        return None

    def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rotation or scale:
            images = random_affine(images, rotation, scale, rng)
        return random_shift(images, shift, rng) if shift else images

    return augment
