"""``python -m rnn_helpers.tf1``: the original TensorFlow 1 code (see :mod:`rnn_helpers.tf1.original`)."""

import os

if __name__ == "__main__":
    # BasicRNNCell needs the legacy Keras, which must be chosen before TensorFlow starts.
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from rnn_helpers.runs.startup import muted_stderr

    with muted_stderr():  # TensorFlow's C++ start-up lines (the original printed none)
        from rnn_helpers.tf1 import original

        original.tf.config.list_physical_devices()
    original.main()  # checks first that the TensorFlow 1 code can run here (tf-keras)
