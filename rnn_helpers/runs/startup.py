"""Start TensorFlow without its C++ start-up chatter in notebook outputs, with the thread
layout that suits this small RNN where that was measured to help.

Importing TensorFlow and looking for accelerators makes its C++ core write log lines
("Could not find cuda drivers...", "All log messages before absl::InitializeLog()...")
straight to the process's standard error. Jupyter kernels forward that stream into the
notebook, where the lines clutter the page and change from machine to machine.
``start_tensorflow`` raises TensorFlow's log threshold, imports it and discovers its
devices while the operating-system-level standard error points to ``/dev/null``, then
restores it and returns a one-line description of the devices instead.

Threads: on a CPU with at most two cores (and no GPU), it runs each TensorFlow operation
on one thread, two operations at a time (:func:`configure_cpu_threads`). On two cores
that made every training step here faster (``benchmarks/train_speed.py --all`` measures
it); on more cores TensorFlow's own defaults are kept, since nothing there showed
the narrower setting to help. The environment variables ``TF_NUM_INTRAOP_THREADS`` and
``TF_NUM_INTEROP_THREADS`` always win: when either is set, nothing is changed.
"""

from __future__ import annotations

import contextlib
import os
import sys

#: The layout is applied on machines with at most this many usable cores (where it was measured).
SMALL_CPU_CORES = 2
THREAD_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


@contextlib.contextmanager
def muted_stderr():
    """Point the process's standard error (file descriptor 2) at /dev/null inside the block."""
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


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_cpu_threads(intra_op: int = 1, inter_op: int = 2) -> bool:
    """Run each TensorFlow operation on ``intra_op`` threads, ``inter_op`` operations at a time.

    It only takes effect before TensorFlow has run anything; returns False (and changes
    nothing) when it is too late, or when a GPU is present.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return False
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # TensorFlow is already running: threads can no longer change
        return False
    return True


def start_tensorflow(quiet: bool = True) -> str:
    """Import TensorFlow (muting its start-up messages when ``quiet``) and describe its devices.

    On a CPU-only machine with at most :data:`SMALL_CPU_CORES` cores, and unless
    ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` are set, it also applies
    :func:`configure_cpu_threads` (see the module docstring for why).

    Returns e.g. ``"TensorFlow 2.21.0 on CPU (2 cores: one thread per operation, two
    operations at a time)"`` or ``"TensorFlow 2.21.0 on 1 GPU(s)"``. Python-level warnings
    and errors are not affected; only the C++ core's log lines written while starting up
    are dropped.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with muted_stderr() if quiet else contextlib.nullcontext():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        cores = usable_cores()
        from_env = any(os.environ.get(name) for name in THREAD_ENV)
        threads = not gpus and not from_env and cores <= SMALL_CPU_CORES and configure_cpu_threads()
    if gpus:
        where = f"{len(gpus)} GPU(s)"
    elif threads:
        where = f"CPU ({cores} cores: one thread per operation, two operations at a time)"
    elif from_env:
        where = f"CPU ({cores} cores, threads as set in {' / '.join(THREAD_ENV)})"
    else:
        where = f"CPU ({cores} cores, TensorFlow's default threads)"
    return f"TensorFlow {tf.__version__} on {where}"
