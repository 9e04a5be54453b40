"""``load_data``: MNIST in the shape the original tutorial used, the TF2 replacement for
TensorFlow 1's removed ``input_data.read_data_sets``.

* ``load_data("train")`` returns ``x_train, y_train, x_valid, y_valid`` with 55,000 and
  5,000 examples; the validation set is the *first* 5,000 images of the training file,
  exactly as ``read_data_sets`` split it.
* ``load_data("test")`` returns ``x_test, y_test`` (10,000 examples).
* Images are float32 in [0, 1], flattened to 784 values ``(N, 784)`` (or ``(N, 28, 28)``
  with ``flatten=False``); labels are one-hot float32 ``(N, 10)`` (or int64 ``(N,)`` with
  ``one_hot=False``).

Finding the files (a local copy, the cache, or a download from public mirrors) and checking
them against their published digests is the job of :mod:`rnn_helpers.data`; this module
only turns verified files into the tutorial's arrays.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .data.datasets import DatasetSpec, get_dataset
from .data.files import cache_folder, check_pair, locate_files, read_verified

MODES = ("train", "test")
DEFAULT_VALIDATION_SIZE = 5000


def to_one_hot(labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Integer labels ``(N,)`` -> one-hot float32 array ``(N, n_classes)``."""
    return np.eye(n_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


def _prepare(images: np.ndarray, labels: np.ndarray, n_classes: int, flatten: bool, one_hot: bool):
    """uint8 images ``(N, 28, 28)`` -> float32 in [0, 1]; labels -> one-hot or int64."""
    x = images.astype(np.float32)
    x *= np.float32(1.0 / 255.0)
    if flatten:
        x = x.reshape(len(x), -1)
    y = to_one_hot(labels, n_classes) if one_hot else labels.astype(np.int64)
    return x, y


def _check_validation_size(validation_size) -> None:
    if (
        isinstance(validation_size, bool)
        or not isinstance(validation_size, (int, np.integer))
        or validation_size < 0
    ):
        raise ValueError(f"validation_size must be a whole number >= 0, not {validation_size!r}.")


def load_data(
    mode: str = "train",
    dataset: str | DatasetSpec = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    validation_size: int = DEFAULT_VALIDATION_SIZE,
    flatten: bool = True,
    one_hot: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
):
    """Load a verified MNIST-style dataset, in the shape the original tutorial used.

    Args:
        mode: ``"train"`` for training and validation sets, ``"test"`` for the test set.
        dataset: ``"mnist"`` (default), ``"fashion_mnist"``, or a
            :class:`~rnn_helpers.data.DatasetSpec`.
        data_dir: a folder holding the files (or a data root with a ``<dataset>/``
            subfolder); searched first. ``None`` uses only the standard places.
        validation_size: how many of the first training images form the validation set.
        flatten: images as ``(N, 784)`` when True (default), as ``(N, 28, 28)`` when False.
        one_hot: labels as one-hot float32 ``(N, 10)`` when True (default), int64 ``(N,)``
            when False.
        cache_dir, download, mirrors, timeout, progress: where and how missing files are
            downloaded (see :func:`rnn_helpers.data.locate_files`).

    Returns:
        ``x_train, y_train, x_valid, y_valid`` in ``"train"`` mode;
        ``x_test, y_test`` in ``"test"`` mode.

    Raises:
        ValueError: unknown mode or dataset, or a validation size that does not fit.
        DataNotFoundError: the files could not be found nor downloaded.
        DataFileError: a file is damaged, altered, or does not match its partner.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}: use 'train' or 'test'.")
    _check_validation_size(validation_size)
    spec = get_dataset(dataset)
    prefix = "train" if mode == "train" else "test"
    roles = (f"{prefix}_images", f"{prefix}_labels")
    paths = locate_files(
        spec, roles, data_dir=data_dir, cache_dir=cache_folder(cache_dir), download=download,
        mirrors=mirrors, timeout=timeout, progress=progress,
    )  # fmt: skip
    images = read_verified(paths[roles[0]], spec.md5[roles[0]], 3, roles[0])
    labels = read_verified(paths[roles[1]], spec.md5[roles[1]], 1, roles[1])
    check_pair(spec, images, labels, paths[roles[0]], paths[roles[1]])
    x, y = _prepare(images, labels, spec.n_classes, flatten, one_hot)
    if mode == "test":
        return x, y
    if not 0 <= validation_size < len(x):
        raise ValueError(
            f"validation_size={validation_size} does not fit {len(x)} training examples: "
            f"use a value from 0 to {len(x) - 1}."
        )
    return x[validation_size:], y[validation_size:], x[:validation_size], y[:validation_size]


def standardize(x_train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Input normalisation: every array minus the training images' mean pixel, divided by
    their pixel standard deviation (for MNIST about 0.13 and 0.31), so that the inputs are
    centred on 0 with unit spread. Returns ``(x_train, *others)`` standardized, float32."""
    mean, std = float(x_train.mean(dtype=np.float64)), float(x_train.std(dtype=np.float64))
    return tuple(((x - mean) / std).astype(np.float32) for x in (x_train, *others))
