"""Helpers for the vanilla RNN MNIST tutorial.

The data layer (NumPy only) is importable from here directly::

    from rnn_helpers import load_data, randomize, get_next_batch

Model building, training, evaluation, plotting and the rest live in their own modules
(``rnn_helpers.model``, ``rnn_helpers.training``, ``rnn_helpers.fast_rnn``,
``rnn_helpers.augmentation``, ``rnn_helpers.evaluation``, ``rnn_helpers.inside``,
``rnn_helpers.plotting``, ``rnn_helpers.sweep``) so that importing the data layer does
not start TensorFlow.
"""

from .batching import get_next_batch, randomize
from .datasets import DATASETS, DatasetSpec, class_names, get_dataset
from .download import DownloadError
from .idx import DataFileError, read_idx
from .loading import DataNotFoundError, load_data, locate_files, to_one_hot

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
