"""The training loop of the original tutorial, on TensorFlow 2.

Per epoch: reshuffle the training set (``randomize``), cut it into
``n_train // batch_size`` mini-batches (``get_next_batch``), take one optimiser step on
each with a compiled (``tf.function``) train step, print the batch loss and accuracy every
``display_freq`` iterations, then evaluate on the whole validation set.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
import tensorflow as tf

from .batching import get_next_batch, randomize
from .evaluation import evaluate


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite during training."""


@dataclass
class History:
    """Per-epoch metrics of a training run (lists indexed by epoch - 1) and the logged iterations.

    ``train_loss`` / ``train_accuracy`` average the mini-batches of the epoch, measured as
    each batch was trained on; ``val_loss`` / ``val_accuracy`` are measured on the whole
    validation set after the epoch.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    logged: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, list]:
        return asdict(self)


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; optionally make TensorFlow's ops deterministic.

    Deterministic ops cost little on a CPU and make the same seed give the same metrics on
    the same machine.
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
        tf.config.experimental.enable_op_determinism()


def make_train_step(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, loss_fn: keras.losses.Loss
) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A compiled function ``step(x_batch, y_batch) -> (loss, accuracy)`` that takes one
    optimiser step. Loss and accuracy are those of the batch before the update.
    """

    @tf.function
    def train_step(x_batch, y_batch):
        with tf.GradientTape() as tape:
            logits = model(x_batch, training=True)
            loss = loss_fn(y_batch, logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        correct = tf.equal(tf.argmax(logits, axis=1), tf.argmax(y_batch, axis=1))
        return loss, tf.reduce_mean(tf.cast(correct, tf.float32))

    return train_step


def format_iteration(iteration: int, loss: float, accuracy: float) -> str:
    """The original's log line, e.g. ``iter 100:	 Loss=0.92,	Training Accuracy=74.0%``."""
    return f"iter {iteration:3d}:\t Loss={loss:.2f},\tTraining Accuracy={accuracy:.01%}"


def format_epoch(epoch: int, loss: float, accuracy: float) -> str:
    """The original's end-of-epoch line with the validation metrics."""
    return f"Epoch: {epoch}, validation loss: {loss:.2f}, validation accuracy: {accuracy:.01%}"


def train(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int = 100,
    display_freq: int = 100,
    learning_rate: float = 0.001,
    seed: int | None = None,
    optimizer: keras.optimizers.Optimizer | None = None,
    log: Callable[[str], None] | None = print,
) -> History:
    """Train ``model`` with the original tutorial's loop and return its :class:`History`.

    Args:
        model: maps ``(batch, timesteps, num_input)`` to logits (e.g. from :func:`RNN`).
        x_train, y_train: training images ``(N, timesteps, num_input)`` and one-hot labels.
        x_valid, y_valid: the validation set, evaluated whole after every epoch.
        epochs: passes over the training set.
        batch_size: examples per step; each epoch runs ``N // batch_size`` steps.
        display_freq: log the batch loss and accuracy every this many iterations.
        learning_rate: Adam's learning rate (ignored when ``optimizer`` is given).
        seed: seeds the shuffling; ``None`` shuffles differently every run.
        optimizer: a Keras optimiser; default ``keras.optimizers.Adam(learning_rate)``.
        log: where progress lines go (``print``); ``None`` for silence.

    Raises:
        TrainingDiverged: the loss became NaN or infinite; names the iteration.
    """
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=learning_rate)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    step = make_train_step(model, optimizer, loss_fn)
    rng = np.random.default_rng(seed)
    num_tr_iter = len(y_train) // batch_size
    history = History()
    say = log or (lambda line: None)
    global_step = 0
    for epoch in range(1, epochs + 1):
        say(f"Training epoch: {epoch}")
        started = time.perf_counter()
        x_shuffled, y_shuffled = randomize(x_train, y_train, rng)
        losses = np.empty(num_tr_iter, np.float32)
        accuracies = np.empty(num_tr_iter, np.float32)
        for iteration in range(num_tr_iter):
            global_step += 1
            start = iteration * batch_size
            x_batch, y_batch = get_next_batch(x_shuffled, y_shuffled, start, start + batch_size)
            loss, accuracy = step(x_batch, y_batch)
            losses[iteration], accuracies[iteration] = float(loss), float(accuracy)
            if not math.isfinite(losses[iteration]):
                raise TrainingDiverged(
                    f"The loss became {losses[iteration]} at epoch {epoch}, iteration {iteration} "
                    f"(step {global_step}): training diverged. Try a smaller learning rate "
                    f"(now {float(optimizer.learning_rate):g}; e.g. "
                    f"{float(optimizer.learning_rate) / 10:g})."
                )
            if iteration % display_freq == 0:
                say(format_iteration(iteration, losses[iteration], accuracies[iteration]))
                history.logged.append(
                    {
                        "epoch": epoch,
                        "iteration": iteration,
                        "loss": float(losses[iteration]),
                        "accuracy": float(accuracies[iteration]),
                    }
                )
        val_loss, val_accuracy = evaluate(model, x_valid, y_valid)
        history.epoch.append(epoch)
        history.train_loss.append(float(losses.mean()))
        history.train_accuracy.append(float(accuracies.mean()))
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        history.epoch_seconds.append(time.perf_counter() - started)
        say(format_epoch(epoch, val_loss, val_accuracy))
    return history
