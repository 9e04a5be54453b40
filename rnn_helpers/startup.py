"""Start TensorFlow without its C++ start-up chatter in notebook outputs.

Importing TensorFlow and looking for accelerators makes its C++ core write log lines
("Could not find cuda drivers...", "All log messages before absl::InitializeLog()...")
straight to the process's standard error. Jupyter kernels forward that stream into the
notebook, where the lines clutter the page and change from machine to machine.
``start_tensorflow`` raises TensorFlow's log threshold, imports it and discovers its
devices while the operating-system-level standard error points to ``/dev/null``, then
restores it and returns a one-line description of the devices instead. On a CPU it also
sets the thread layout that suits this small RNN best
(:func:`rnn_helpers.fast_rnn.configure_cpu_threads`), which is only possible this early.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def _muted_stderr():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_tensorflow(quiet: bool = True) -> str:
    """Import TensorFlow (muting its start-up messages when ``quiet``) and describe its devices.

    Returns e.g. ``"TensorFlow 2.21.0 on CPU (...)"`` or ``"TensorFlow 2.21.0 on 1 GPU(s)"``.
    Python-level warnings and errors are not affected; only the C++ core's log lines
    written while starting up are dropped.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _muted_stderr() if quiet else contextlib.nullcontext():
        import tensorflow as tf

        from .fast_rnn import configure_cpu_threads

        gpus = tf.config.list_physical_devices("GPU")
        threads = configure_cpu_threads() if not gpus else False
    where = f"{len(gpus)} GPU(s)" if gpus else "CPU"
    if threads:
        where += " (one thread per operation, two operations at a time)"
    return f"TensorFlow {tf.__version__} on {where}"
