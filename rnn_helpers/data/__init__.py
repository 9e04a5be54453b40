"""The data files underneath ``load_data``: IDX files, their digests, where they are and how
they are downloaded. NumPy and the standard library only; nothing here knows about networks.

* :mod:`~rnn_helpers.data.datasets`: what each dataset is (file names, MD5 digests of the
  decompressed files, mirrors, class names);
* :mod:`~rnn_helpers.data.idx`: a strict reader of the IDX format MNIST comes in;
* :mod:`~rnn_helpers.data.files`: where the files are looked for, and the digest check
  every file passes each time it is read;
* :mod:`~rnn_helpers.data.download`: verified downloads from a list of mirrors.

Every problem ends in an error that names the file and says how to fix it:
:class:`DataFileError` (damaged, altered or misplaced), :class:`DataNotFoundError` (nowhere
to be found), :class:`DownloadError` (no mirror delivered a verified copy).
"""

from .datasets import DATASETS, DatasetSpec, class_names, get_dataset
from .download import DownloadError
from .files import DataNotFoundError, default_cache_dir, locate_files, read_verified
from .idx import DataFileError, read_idx

__all__ = [
    "DATASETS",
    "DataFileError",
    "DataNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "class_names",
    "default_cache_dir",
    "get_dataset",
    "locate_files",
    "read_idx",
    "read_verified",
]
