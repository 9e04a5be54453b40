"""Whether the original TensorFlow 1 code can run here: the project's ``tf1`` extra.

``tf.compat.v1``'s ``BasicRNNCell`` needs ``tf-keras`` (Keras 2), which the ``tf1`` extra
installs. This module uses the standard library only, so that :mod:`rnn_helpers.tf1` can
ask before TensorFlow starts and :mod:`rnn_helpers.migration` can ask from a process that
runs Keras 3.
"""

from __future__ import annotations

import importlib.util

#: How to install what the TensorFlow 1 code needs; every message about it ends with this.
INSTALL_HINT = 'pip install -e ".[tf1]" (or just the package: pip install "tf-keras~=2.21.0")'


def tf1_available() -> bool:
    """Whether ``tf-keras`` is installed, so that :mod:`rnn_helpers.tf1` can run."""
    return importlib.util.find_spec("tf_keras") is not None
