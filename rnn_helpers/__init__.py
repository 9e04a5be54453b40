"""Helpers for the vanilla RNN MNIST tutorial.

The data layer (NumPy only) is importable from here directly::

    from rnn_helpers import load_data, randomize, get_next_batch

Everything else lives in its own module, so that importing the data layer does not
start TensorFlow: ``model``, ``training``, ``fast_rnn``, ``augmentation``, ``evaluation``,
``inside``, ``plotting`` (the tutorial itself); ``parameters``, ``results``, ``startup``
(running notebooks); ``sweep``, ``cluster`` (parameter sweeps, also on Dask);
``drawing``, ``widget`` (notebook 05's draw-a-digit widget); ``tf1``, ``tf1_extra``,
``convert``, ``migration`` (the original TensorFlow 1 code, checkpoints, notebook 04).
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
