"""The original TensorFlow 1 tutorial, running today beside the port: its graph code, the
comparison with the Keras port, and checkpoint conversion both ways (notebook 04).

* :mod:`~rnn_helpers.tf1.original` (``python -m rnn_helpers.tf1``): the original graph code on
  TensorFlow 2.21 through ``tf.compat.v1``, in a process of its own (it needs the legacy
  Keras, ``tf-keras``: the project's ``tf1`` extra);
* :mod:`~rnn_helpers.tf1.migration`: that process run from Python, and the TensorFlow 2
  counterpart of its training loop, for step-by-step comparisons;
* :mod:`~rnn_helpers.tf1.convert` (``python -m rnn_helpers.tf1.convert``): TF1 checkpoints to
  Keras models and back.

This module itself uses only the standard library, so that both sides of the process
boundary can ask whether the TensorFlow 1 code can run here before TensorFlow starts.
"""

from __future__ import annotations

import importlib.util

#: How to install what the TensorFlow 1 code needs; every message about it ends with this.
INSTALL_HINT = 'pip install -e ".[tf1]" (or just the package: pip install "tf-keras~=2.21.0")'


class TF1Unavailable(RuntimeError):
    """The TensorFlow 1 code cannot run here: ``tf-keras`` is missing or does not match
    TensorFlow, or the process already runs Keras 3. The message says what to do."""


def tf1_available() -> bool:
    """Whether ``tf-keras`` is installed, so that :mod:`rnn_helpers.tf1.original` can run."""
    return importlib.util.find_spec("tf_keras") is not None
