"""Run the original TensorFlow 1 code beside the TensorFlow 2 port and compare their numbers.

The TensorFlow 1 code (:mod:`rnn_helpers.tf1.original`) needs legacy Keras (``tf-keras``), which a
process can only choose before TensorFlow starts, while this project uses Keras 3. So
:func:`run_tf1` runs it in a process of its own (``python -m rnn_helpers.tf1 ...``) and
exchanges arrays with it through ``.npz`` files in a folder the caller gives (a temporary
one). :func:`train_like_tf1` is the TensorFlow 2 counterpart of the original's training
loop, built from the project's ``randomize``, ``get_next_batch`` and
:func:`rnn_helpers.training.make_train_step`.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from ..batching import get_next_batch, randomize
from ..training import make_train_step
from . import INSTALL_HINT, TF1Unavailable, tf1_available

#: The folder holding the ``rnn_helpers`` package, for the child process's ``PYTHONPATH``.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class TF1Error(RuntimeError):
    """The TensorFlow 1 process failed; the message carries its error."""


@dataclass
class TF1Run:
    """What one run of ``python -m rnn_helpers.tf1`` printed and returned.

    ``log`` is its standard output (the original's progress lines); ``arrays`` what it
    wrote to its ``--out`` file (e.g. ``step_loss``, ``initial_W_x``, ``test_logits``).
    """

    log: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def weights(self, which: str) -> dict[str, np.ndarray]:
        """``"initial"`` or ``"final"`` weights as ``W_x``, ``W_h``, ``b_h``, ``W``, ``b``."""
        return {key: self.arrays[f"{which}_{key}"] for key in ("W_x", "W_h", "b_h", "W", "b")}


def run_tf1(
    command: Sequence[str],
    folder: str | os.PathLike[str],
    *,
    init: Mapping[str, np.ndarray] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    timeout: float = 600.0,
) -> TF1Run:
    """Run ``python -m rnn_helpers.tf1 COMMAND...`` in its own process and read its results back.

    Args:
        command: the command and its options, e.g. ``["train", "--epochs", "1"]`` or
            ``["evaluate", "ckpt/model"]`` (see ``python -m rnn_helpers.tf1 --help``).
        folder: where the ``.npz`` files exchanged with the process go (``init.npz``,
            ``tf1_out.npz``); a temporary folder, never the repository.
        init: starting weights ``W_x``, ``W_h``, ``b_h``, ``W``, ``b`` for ``train``.
        data_dir: the data folder (``--data-dir``), if not found in the standard places.
        timeout: seconds before the process is stopped.

    Returns:
        A :class:`TF1Run` with the process's printed lines and its arrays.

    Raises:
        TF1Unavailable: ``tf-keras`` is not installed (says how to install it).
        TF1Error: the process failed; its error message is included.
    """
    if not tf1_available():
        raise TF1Unavailable(
            f"The TensorFlow 1 code needs the tf-keras package, which is not installed. {INSTALL_HINT}"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "tf1_out.npz"
    out.unlink(missing_ok=True)
    arguments = [*command, "--out", str(out)]
    if init is not None:
        np.savez(folder / "init.npz", **{k: np.asarray(v, np.float32) for k, v in init.items()})
        arguments += ["--init", str(folder / "init.npz")]
    if data_dir is not None:
        arguments += ["--data-dir", os.fspath(data_dir)]
    environment = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    # The child imports this very copy of rnn_helpers, wherever it lies.
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_ROOT), environment.get("PYTHONPATH", "")) if p
    )
    process = subprocess.run(
        [sys.executable, "-m", "rnn_helpers.tf1", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
    )
    if process.returncode != 0:
        lines = [line for line in process.stderr.strip().splitlines() if line.strip()]
        reason = next(
            (line for line in reversed(lines) if "rror" in line), lines[-1] if lines else "no message"
        )
        kind = TF1Unavailable if "tf-keras" in reason else TF1Error
        raise kind(f"The TensorFlow 1 process failed (exit status {process.returncode}): {reason}")
    with np.load(out) as data:
        arrays = {key: data[key] for key in data.files}
    return TF1Run(log=process.stdout, arrays=arrays)


def make_tf1_adam_step(
    model: keras.Model,
    loss_fn: keras.losses.Loss,
    learning_rate: float = 0.001,
    epsilon: float = 1e-8,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
):
    """Like :func:`rnn_helpers.training.make_train_step`, but the update is TensorFlow 1's Adam.

    ``tf.compat.v1.train.AdamOptimizer`` updates each variable with one fused kernel
    (``ApplyAdam``; here its resource-variable twin ``tf.raw_ops.ResourceApplyAdam``) and
    keeps ``beta_1**t`` and ``beta_2**t`` as running float32 products, multiplied after every
    step; Keras's ``Adam`` computes the same formula from separate operations and the
    powers from the step count. Mathematically the two are the same update; this step exists
    to measure how much of the difference between the frameworks is the optimiser's rounding.

    Returns:
        A compiled ``step(x_batch, y_batch) -> (loss, accuracy, gradient_norm)`` (before the
        update), like the port's step.
    """
    variables = list(model.trainable_variables)
    m_slots = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False) for v in variables]
    v_slots = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False) for v in variables]
    beta_1_power = tf.Variable(beta_1, dtype=tf.float32, trainable=False)
    beta_2_power = tf.Variable(beta_2, dtype=tf.float32, trainable=False)
    settings = {"lr": learning_rate, "beta1": beta_1, "beta2": beta_2, "epsilon": epsilon}
    constants = {name: tf.constant(value, tf.float32) for name, value in settings.items()}

    @tf.function
    def step(x_batch, y_batch):
        with tf.GradientTape() as tape:
            logits = model(x_batch, training=True)
            loss = loss_fn(y_batch, logits)
        gradients = tape.gradient(loss, variables)
        updates = [
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle,
                m=m.handle,
                v=v.handle,
                beta1_power=beta_1_power,
                beta2_power=beta_2_power,
                grad=gradient,
                **constants,
            )  # fmt: skip
            for variable, m, v, gradient in zip(variables, m_slots, v_slots, gradients, strict=True)
        ]
        with tf.control_dependencies(updates):
            beta_1_power.assign(beta_1_power * beta_1)
            beta_2_power.assign(beta_2_power * beta_2)
        correct = tf.equal(tf.argmax(logits, axis=1), tf.argmax(y_batch, axis=1))
        return loss, tf.reduce_mean(tf.cast(correct, tf.float32)), tf.linalg.global_norm(gradients)

    return step


def train_like_tf1(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    epochs: int = 1,
    batch_size: int = 100,
    learning_rate: float = 0.001,
    epsilon: float = 1e-8,
    seed: int | None = 42,
    adam: str = "keras",
) -> tuple[np.ndarray, np.ndarray]:
    """The original's training loop in TensorFlow 2: the same batches in the same order.

    Every epoch shuffles with ``x, y = randomize(x, y, rng)`` (``rng = default_rng(seed)``,
    as :mod:`rnn_helpers.tf1.original` does), cuts ``len(y) // batch_size`` batches with
    ``get_next_batch`` and takes one Adam step on each with
    :func:`rnn_helpers.training.make_train_step`.

    Args:
        model: maps ``(batch, timesteps, num_input)`` images to logits.
        x_train, y_train: images ``(N, timesteps, num_input)`` and one-hot labels.
        epochs, batch_size, learning_rate, seed: as in the TensorFlow 1 run to match.
        epsilon: Adam's epsilon; ``tf.compat.v1.train.AdamOptimizer``'s default is 1e-8,
            Keras's 1e-7.
        adam: ``"keras"`` (``keras.optimizers.Adam``, the port) or ``"tf1"`` (TensorFlow 1's
            fused Adam kernel, :func:`make_tf1_adam_step`, for measuring).

    Returns:
        ``(losses, accuracies)``: every step's batch loss and accuracy (before its update).
    """
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    if adam == "keras":
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate, epsilon=epsilon)
        step = make_train_step(model, optimizer, loss_fn)
    elif adam == "tf1":
        step = make_tf1_adam_step(model, loss_fn, learning_rate=learning_rate, epsilon=epsilon)
    else:
        raise ValueError(f"adam={adam!r}: use 'keras' or 'tf1'.")
    rng = np.random.default_rng(seed)
    losses, accuracies = [], []
    for _ in range(epochs):
        # As the original: each epoch shuffles the previous epoch's order again.
        x_train, y_train = randomize(x_train, y_train, rng)
        for iteration in range(len(y_train) // batch_size):
            start = iteration * batch_size
            x_batch, y_batch = get_next_batch(x_train, y_train, start, start + batch_size)
            loss, accuracy, _ = step(x_batch, y_batch)
            losses.append(float(loss))
            accuracies.append(float(accuracy))
    return np.array(losses, np.float32), np.array(accuracies, np.float32)


def side_by_side(
    columns: Mapping[str, Sequence[float]], rows: int = 10, formats: Mapping[str, str] | None = None
) -> str:
    """A plain-text table of per-step values, one column per run, the step number first.

    ``formats`` gives a column's number format (default ``".7f"``), e.g. ``{"gap": ".1e"}``.
    """
    formats = formats or {}
    names = list(columns)
    width = max(12, *(len(n) for n in names)) + 2
    lines = ["step" + "".join(n.rjust(width) for n in names)]
    for i in range(min(rows, *(len(v) for v in columns.values()))):
        cells = (format(float(columns[n][i]), formats.get(n, ".7f")).rjust(width) for n in names)
        lines.append(f"{i + 1:4d}" + "".join(cells))
    return "\n".join(lines)


def one_step_up(weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every weight moved to the next float32 number above it: the smallest change there is."""
    return {k: np.nextafter(np.asarray(v, np.float32), np.float32(np.inf)) for k, v in weights.items()}


def tf1_source(*names: str) -> str:
    """The source of functions of :mod:`rnn_helpers.tf1.original`, read from its file (not imported)."""
    text = (Path(__file__).parent / "original.py").read_text()
    functions = {node.name: node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}
    unknown = [n for n in names if n not in functions]
    if unknown:
        raise ValueError(f"rnn_helpers.tf1.original has no function {', '.join(unknown)}.")
    return "\n\n".join(ast.get_source_segment(text, functions[n]) for n in names)


def initial_weight_summary(weights: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Numbers that tell initialisers apart: the spread of ``W_x`` and ``W_h``, and the
    largest singular value and spectral radius of ``W_h`` (1 and 1 for an orthogonal matrix).
    """
    w_h = np.asarray(weights["W_h"], np.float64)
    return {
        "W_x largest magnitude": float(np.abs(weights["W_x"]).max()),
        "W_x std": float(np.std(weights["W_x"])),
        "W_h std": float(np.std(w_h)),
        "W_h largest singular value": float(np.linalg.svd(w_h, compute_uv=False)[0]),
        "W_h spectral radius": float(np.abs(np.linalg.eigvals(w_h)).max()),
    }


def plot_step_differences(reference: np.ndarray, gaps: Mapping[str, np.ndarray]) -> Figure:
    """Left: the reference run's per-step losses. Right: each named per-step gap ``|loss - loss'|``
    on a log scale (zeros drawn at 1e-9)."""
    figure = Figure(figsize=(10, 3.6))
    left, right = figure.subplots(1, 2)
    steps = np.arange(1, len(reference) + 1)
    left.plot(steps, reference, color="black", lw=0.8)
    for name, gap in gaps.items():
        right.semilogy(steps[: len(gap)], np.maximum(np.asarray(gap), 1e-9), lw=0.8, label=name)
    left.set(xlabel="step", ylabel="batch loss", title="batch loss, TF1 graph")
    right.set(xlabel="step", ylabel="|difference in batch loss|", title="gaps between runs, step by step")
    right.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.grid(alpha=0.3, which="both")
    figure.tight_layout()
    return figure


def require_tf1() -> None:
    """Check that the TensorFlow 1 code can run here (the ``tf1`` extra, ``tf-keras``).

    Raises:
        TF1Unavailable: ``tf-keras`` is not installed; says how to install it.
    """
    if not tf1_available():
        raise TF1Unavailable(
            f"The original TensorFlow 1 code needs tf-keras, which is not installed: {INSTALL_HINT}"
        )


def exchange_folder() -> Path:
    """A new temporary folder for the ``.npz`` files and checkpoints exchanged with the
    TensorFlow 1 process (never in the project); remove it with :func:`remove_folder`."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="tf1-vs-tf2-"))


def remove_folder(folder: str | os.PathLike[str]) -> bool:
    """Remove a folder of :func:`exchange_folder`; returns True once it is gone."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return not Path(folder).exists()
