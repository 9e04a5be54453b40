"""Helpers for the vanilla RNN MNIST tutorial.

The modules at this level are the tutorial's, one per part of the lesson:

* ``loading``: ``load_data``, MNIST in the original's shape; ``batching``: ``randomize``,
  ``get_next_batch``;
* ``model``: ``weight_variable``, ``bias_variable``, ``OutputLayer``, ``RNN``;
* ``training``: the training step and loop, ``History``, the optimiser;
* ``evaluation``: loss and accuracy on whole sets, the confusion matrix;
* ``plotting``: ``plot_images``, ``plot_example_errors`` and the other figures;
* ``augmentation``: random shifts and distortions of the training images (notebook 03);
* ``inside``: the hidden state row by row (notebook 02); ``drawing``: a drawn digit
  prepared like MNIST's (notebook 05).

The machinery lives in subpackages, each described in its own docstring: ``data`` (IDX
files, digests, mirrors) and ``fast`` (the hand-written training steps) underneath the
tutorial; ``runs`` (parameters, run folders, records, sweeps, Dask), ``tf1`` (the original
TensorFlow 1 code, migration, checkpoint conversion) and ``widget`` (the draw-a-digit
widget) built on top of it. Imports flow one way, from the top down
(``tests/test_layout.py`` checks it).

The data layer (NumPy only) is importable from here directly, without starting TensorFlow::

    from rnn_helpers import load_data, randomize, get_next_batch
"""

from .batching import get_next_batch, randomize
from .data import (
    DATASETS,
    DataFileError,
    DataNotFoundError,
    DatasetSpec,
    DownloadError,
    class_names,
    get_dataset,
    locate_files,
    read_idx,
)
from .loading import load_data, to_one_hot

__all__ = [
    "DATASETS",
    "DataFileError",
    "DataNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "class_names",
    "get_dataset",
    "get_next_batch",
    "load_data",
    "locate_files",
    "randomize",
    "read_idx",
    "to_one_hot",
]
