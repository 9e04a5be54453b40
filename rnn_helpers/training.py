"""The original tutorial's training on TensorFlow 2: the training step, the epoch loop, and
what they record.

Notebook 01 writes the step and the loop out in its cells; :func:`make_train_step` and
:func:`train` are the same code for the other notebooks and the sweeps'
experiments (``tests/test_notebook_code.py`` checks that the notebook's cells and these
give identical results). Per epoch: reshuffle the training set with ``randomize``, cut it
into ``len(y) // batch_size`` mini-batches with ``get_next_batch``, take one optimiser step
per batch, print the batch loss and accuracy every ``display_freq`` iterations, then
evaluate on the whole validation set. :class:`History` keeps the numbers, writes them for
TensorBoard when given a folder, and stops a run that diverges or does not learn, saying
what to change.

Shapes: images ``(N, T, F)`` (``T = 28`` rows of ``F = 28`` pixels), one-hot labels
``(N, C)``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import fast as fast_steps
from .batching import get_next_batch, randomize
from .evaluation import evaluate
from .model import rnn_variables


class TrainingDiverged(FloatingPointError):
    """The loss or the gradient became NaN or infinite during training."""


class TrainingNotLearning(RuntimeError):
    """After an epoch the network is no better than chance, or far worse than untrained."""


#: Before checking that a network learns, at least this many optimiser steps are taken.
STEPS_BEFORE_JUDGING = 300


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate the optimiser's next step uses (its schedule read at its step count)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


@dataclass
class History:
    """Per-epoch metrics of a training run (lists indexed by epoch - 1), the logged
    iterations, and the checks that stop a run which is not learning.

    Feed it with :meth:`add_batch` after every optimiser step and :meth:`end_epoch` after
    every validation. ``train_loss`` / ``train_accuracy`` average the mini-batches of the
    epoch, measured as each batch was trained on; ``val_loss`` / ``val_accuracy`` are
    measured on the whole validation set after the epoch; ``learning_rate`` is the rate of
    the epoch's last step.

    Args (of the constructor):
        optimizer: the optimiser that trains the network (its learning rate is recorded).
        n_classes: classes of the task (chance accuracy is ``1 / n_classes``).
        display_freq: iterations ``0, display_freq, 2 * display_freq, ...`` of every epoch
            are kept in ``logged`` (and written for TensorBoard).
        log_dir: a folder for TensorBoard's event files (``train/`` and ``validation/``
            inside it), or None for none. Per epoch: ``epoch_loss`` and ``epoch_accuracy``
            in both, ``learning_rate`` in ``train/``; per logged iteration, in ``train/``:
            ``batch_loss`` and ``gradient_norm`` (the global norm before clipping), by step.
    """

    optimizer: Any = None
    n_classes: int = 10
    display_freq: int = 100
    log_dir: str | os.PathLike[str] | None = None
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    logged: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    _losses: list[float] = field(default_factory=list, repr=False)
    _accuracies: list[float] = field(default_factory=list, repr=False)
    _started: float = field(default_factory=time.perf_counter, repr=False)
    _writers: dict[str, Any] = field(default_factory=dict, repr=False)

    def _advice(self) -> str:
        if self.optimizer is None:
            return "Try a smaller learning rate."
        rate = current_learning_rate(self.optimizer)
        return (
            f"Try a smaller learning_rate (it was {rate:.3g} at this point; e.g. {rate / 10:.3g}; the "
            "original used 0.001), and keep gradient clipping on (clip_norm = 1.0)."
        )

    def _write(self, run: str, scalars: dict[str, float], step: int) -> None:
        if self.log_dir is None:
            return
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(os.path.join(os.fspath(self.log_dir), run))
        with self._writers[run].as_default(step=step):
            for tag, value in scalars.items():
                tf.summary.scalar(tag, value)

    def add_batch(self, iteration: int, loss, accuracy, gradient_norm=None) -> None:
        """Record one optimiser step's batch ``loss``, ``accuracy`` and (optionally) the global
        norm of its gradients before clipping (numbers or tensors).

        Raises:
            TrainingDiverged: the loss or the gradient norm is NaN or infinite; names the
                epoch and iteration.
        """
        loss, accuracy = float(loss), float(accuracy)
        norm = None if gradient_norm is None else float(gradient_norm)
        self.steps += 1
        for what, value in (("loss", loss), ("gradient norm", norm)):
            if value is not None and not math.isfinite(value):
                raise TrainingDiverged(
                    f"The {what} became {value} at epoch {len(self.epoch) + 1}, iteration {iteration} "
                    f"(step {self.steps}): training diverged. {self._advice()}"
                )
        self._losses.append(loss)
        self._accuracies.append(accuracy)
        if iteration % self.display_freq == 0:
            entry = {"epoch": len(self.epoch) + 1, "iteration": iteration, "loss": loss, "accuracy": accuracy}
            if norm is not None:
                entry["gradient_norm"] = norm
            self.logged.append(entry)
            scalars = {"batch_loss": loss} if norm is None else {"batch_loss": loss, "gradient_norm": norm}
            self._write("train", scalars, self.steps)

    def end_epoch(self, val_loss: float, val_accuracy: float) -> None:
        """Close an epoch with its validation loss and accuracy.

        Raises:
            TrainingNotLearning: the validation loss is more than twice an untrained
                network's (``ln n_classes``), or, after at least
                :data:`STEPS_BEFORE_JUDGING` steps, the validation accuracy is below 1.5×
                chance while the loss has not fallen below an untrained network's.
        """
        self.epoch.append(len(self.epoch) + 1)
        self.train_loss.append(float(np.mean(self._losses)) if self._losses else float("nan"))
        self.train_accuracy.append(float(np.mean(self._accuracies)) if self._accuracies else float("nan"))
        self.val_loss.append(float(val_loss))
        self.val_accuracy.append(float(val_accuracy))
        if self.optimizer is not None:
            self.learning_rate.append(current_learning_rate(self.optimizer))
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._started)
        self._started = now
        self._losses, self._accuracies = [], []
        self._write_epoch()
        self._judge(val_loss, val_accuracy)

    def _write_epoch(self) -> None:
        epoch = self.epoch[-1]
        rate = {"learning_rate": self.learning_rate[-1]} if self.learning_rate else {}
        self._write("train", {"epoch_loss": self.train_loss[-1], "epoch_accuracy": self.train_accuracy[-1],
                              **rate}, epoch)  # fmt: skip
        self._write(
            "validation", {"epoch_loss": self.val_loss[-1], "epoch_accuracy": self.val_accuracy[-1]}, epoch
        )
        for writer in self._writers.values():
            writer.flush()

    def _judge(self, val_loss: float, val_accuracy: float) -> None:
        untrained = math.log(self.n_classes)
        chance = 1.0 / self.n_classes
        epoch = self.epoch[-1]
        if val_loss > 2 * untrained:
            raise TrainingNotLearning(
                f"After epoch {epoch} the validation loss is {val_loss:.3g}, far above the "
                f"{untrained:.2f} of an untrained network (accuracy {val_accuracy:.1%}): training has "
                f"diverged. {self._advice()}"
            )
        if (
            self.steps >= STEPS_BEFORE_JUDGING
            and val_accuracy < 1.5 * chance
            and val_loss >= 0.95 * untrained
        ):
            raise TrainingNotLearning(
                f"After epoch {epoch} ({self.steps} steps) the validation accuracy is {val_accuracy:.1%}, "
                f"no better than chance ({chance:.0%}): the network is not learning. {self._advice()} "
                "A learning rate far too small looks the same: then try a larger one."
            )

    def close(self) -> None:
        """Close TensorBoard's event files (they are flushed after every epoch anyway)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def as_dict(self) -> dict[str, list]:
        """The per-epoch lists and the logged iterations, for metrics.json."""
        names = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate",
                 "epoch_seconds", "logged")  # fmt: skip
        return {name: list(getattr(self, name)) for name in names}


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; optionally make TensorFlow's ops deterministic.

    Deterministic ops cost little on a CPU and make the same seed give the same metrics on
    the same machine.
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


SCHEDULES = ("constant", "cosine")


def make_optimizer(
    learning_rate: float = 0.001,
    *,
    lr_schedule: str = "constant",
    total_steps: int | None = None,
    clip_norm: float | None = None,
    weight_decay: float = 0.0,
    ema_momentum: float | None = None,
    warmup_steps: int = 0,
) -> keras.optimizers.Optimizer:
    """Adam, as in the original, optionally with a learning-rate schedule, gradient clipping,
    weight decay and weight averaging. Notebook 01 builds the first three itself, with the
    same Keras calls.

    Args:
        learning_rate: the initial learning rate.
        lr_schedule: ``"constant"`` (the original) or ``"cosine"``: the rate falls from
            ``learning_rate`` to zero along half a cosine over ``total_steps`` steps, so
            that the last epochs take ever smaller, less noisy steps.
        total_steps: number of optimiser steps of the whole run (needed for ``"cosine"``).
        clip_norm: if given, each variable's gradient is rescaled to a norm of at most this
            value before the update (Keras's ``clipnorm``), which stops the rare huge
            gradient of a recurrent network from undoing what it has learned.
        weight_decay: if > 0, AdamW: every step also shrinks each weight by
            ``learning_rate * weight_decay`` times itself (decoupled weight decay).
        ema_momentum: if given (e.g. 0.999), the optimiser also keeps an exponential moving
            average of the weights, ``average = m * average + (1 - m) * weights`` after
            every step: roughly the last ``1 / (1 - m)`` steps. :func:`train` evaluates with
            it and leaves it in the model at the end (see :func:`averaged_weights`).
        warmup_steps: if > 0, the rate first rises linearly from 0 to ``learning_rate`` over
            this many steps (a warm-up), then follows ``lr_schedule`` over the steps left.
    """
    if lr_schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule={lr_schedule!r}: use one of {', '.join(map(repr, SCHEDULES))}.")
    rate = learning_rate_schedule(learning_rate, lr_schedule, total_steps, warmup_steps)
    options: dict = {"learning_rate": rate, "clipnorm": clip_norm}
    if ema_momentum is not None:
        if not 0.0 < ema_momentum < 1.0:
            raise ValueError(
                f"ema_momentum={ema_momentum!r}: it must lie strictly between 0 and 1, e.g. 0.999."
            )
        options.update(use_ema=True, ema_momentum=ema_momentum)
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay!r}: it must be >= 0 (0 switches it off).")
    if weight_decay > 0:
        return keras.optimizers.AdamW(weight_decay=weight_decay, **options)
    return keras.optimizers.Adam(**options)


def learning_rate_schedule(
    learning_rate: float, lr_schedule: str, total_steps: int | None, warmup_steps: int = 0
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate of :func:`make_optimizer`: a number, or a Keras schedule of the step."""
    if warmup_steps < 0 or (warmup_steps and (not total_steps or warmup_steps >= total_steps)):
        raise ValueError(
            f"warmup_steps={warmup_steps}: it must be >= 0 and fewer than the run's {total_steps} steps."
        )
    if lr_schedule == "constant" and not warmup_steps:
        return learning_rate
    if not total_steps or total_steps < 1:
        raise ValueError(f"lr_schedule={lr_schedule!r} needs total_steps, the number of steps of the run.")
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    # Keras's warm-up: from initial_learning_rate (0) up to warmup_target, then the cosine
    # from there down to alpha times it (alpha = 1: it stays there, the constant rate)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total_steps - warmup_steps, warmup_target=learning_rate, warmup_steps=warmup_steps,
        alpha=1.0 if lr_schedule == "constant" else 0.0,
    )  # fmt: skip


@contextmanager
def averaged_weights(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> Iterator[None]:
    """Inside the ``with`` block the model holds the optimiser's moving average of its
    weights; afterwards its own weights are back. Does nothing when the optimiser keeps no
    average (``ema_momentum`` was not set).

    Only public Keras API: ``finalize_variable_values`` writes the average into the
    variables, and the saved values are put back afterwards.
    """
    if not optimizer.use_ema or not optimizer.built:
        yield
        return
    variables = list(model.trainable_variables)
    saved = [keras.ops.copy(v.value) for v in variables]
    try:
        optimizer.finalize_variable_values(variables)
        yield
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)


def keep_averaged_weights(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
    """After training with a weight average (``ema_momentum``), leave the average in the model.

    Does nothing for an optimiser without one.
    """
    if optimizer.use_ema:
        optimizer.finalize_variable_values(model.trainable_variables)


def make_train_step(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss_fn: keras.losses.Loss,
    fast: bool = False,
) -> Callable[[Any, Any], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]:
    """A compiled ``step(x_batch, y_batch) -> (loss, accuracy, gradient_norm)`` that takes one
    optimiser step: notebook 01's ``train_step``. Loss and accuracy are those of the batch
    before the update, ``gradient_norm`` the global norm of the gradients before clipping.

    ``fast=True`` takes the hand-written step of :mod:`rnn_helpers.fast` instead (the same
    mathematics, less overhead; ``loss_fn`` must then be the softmax cross-entropy it writes
    out). It trains the vanilla RNN, LSTM and GRU of :func:`rnn_helpers.model.RNN`.

    Raises:
        ValueError: ``fast=True`` for a model the fast step does not know.
    """
    if fast:
        found = rnn_variables(model)
        if found is None:
            raise ValueError(
                "The fast step only trains the plain vanilla RNN, LSTM or GRU built by "
                "rnn_helpers.model.RNN (Keras's default activations, no dropout, for the GRU "
                "reset_after=True); use fast=False for this model."
            )
        cell, variables = found
        return fast_steps.make_train_step(cell, variables, model.trainable_variables, optimizer)

    @tf.function
    def train_step(x_batch, y_batch):
        with tf.GradientTape() as tape:
            logits = model(x_batch, training=True)
            loss = loss_fn(y_batch, logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        correct = tf.equal(tf.argmax(logits, axis=1), tf.argmax(y_batch, axis=1))
        return loss, tf.reduce_mean(tf.cast(correct, tf.float32)), tf.linalg.global_norm(gradients)

    return train_step


def smooth_labels(y: np.ndarray, label_smoothing: float) -> np.ndarray:
    """Label smoothing: one-hot targets ``y`` ``(N, C)`` become ``(1 - e) * y + e / C``.

    With ``e = 0.1`` and 10 classes the right class's target is 0.91 and every other
    class's 0.01, so the network is never pushed towards infinitely confident logits; a
    mild regulariser. ``e = 0`` returns ``y`` itself. The true class (the largest target)
    is unchanged, so accuracies are counted as before.

    Raises:
        ValueError: ``label_smoothing`` is not in [0, 1).
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing={label_smoothing!r}: it must be >= 0 and < 1, e.g. 0.1.")
    if label_smoothing == 0:
        return y
    return ((1.0 - label_smoothing) * y + label_smoothing / y.shape[-1]).astype(y.dtype)


def format_iteration(iteration: int, loss, accuracy) -> str:
    """The original's log line, e.g. ``iter 100:	 Loss=0.92,	Training Accuracy=74.0%``."""
    return f"iter {iteration:3d}:\t Loss={float(loss):.2f},\tTraining Accuracy={float(accuracy):.01%}"


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
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    label_smoothing: float = 0.0,
    fast: bool = False,
    log_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = print,
) -> History:
    """Train ``model`` with notebook 01's loop and return its :class:`History`.

    Args:
        model: maps ``(batch, timesteps, num_input)`` to logits (e.g. from :func:`RNN`).
        x_train, y_train: training images ``(N, T, F)`` and one-hot labels ``(N, C)``.
        x_valid, y_valid: the validation set, evaluated whole after every epoch.
        epochs, batch_size, display_freq: as in notebook 01 (``N // batch_size`` steps an epoch).
        learning_rate: Adam's learning rate (ignored when ``optimizer`` is given).
        seed: seeds the shuffling (and the augmentation); ``None`` differs every run.
        optimizer: a Keras optimiser; default ``keras.optimizers.Adam(learning_rate)``. If it
            keeps a moving average of the weights (``make_optimizer(..., ema_momentum=...)``),
            validation uses the averaged weights, and at the end the model holds them.
        augment: ``augment(images, rng) -> images`` applied to the shuffled training images
            every epoch (e.g. from :func:`rnn_helpers.augmentation.make_augment`); None: none.
        label_smoothing: train towards smoothed targets (:func:`smooth_labels`); the
            validation loss is still measured against the true one-hot labels.
        fast: train with the hand-written step of :mod:`rnn_helpers.fast` (see
            :func:`make_train_step`); notebook 01 trains with the plain one (False).
        log_dir: a folder for TensorBoard's event files (see :class:`History`).
        log: where progress lines go (``print``); ``None`` for silence.

    Raises:
        TrainingDiverged, TrainingNotLearning: see :class:`History`.
    """
    say = log or (lambda line: None)
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=learning_rate)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    train_step = make_train_step(model, optimizer, loss_fn, fast)
    num_tr_iter = len(y_train) // batch_size
    if num_tr_iter == 0:
        raise ValueError(f"batch_size={batch_size} is larger than the {len(y_train)} training examples.")
    y_train = smooth_labels(y_train, label_smoothing)

    # The loop below is notebook 01's section 6, line for line (plus the augmentation and
    # the weight average, which are off there).
    rng = np.random.default_rng(seed)
    history = History(optimizer, y_train.shape[1], display_freq, log_dir=log_dir)
    try:  # a run that stops with an error leaves its logged iterations in the event files too
        for epoch in range(epochs):
            say(f"Training epoch: {epoch + 1}")
            x_train, y_train = randomize(x_train, y_train, rng)
            x_epoch = augment(x_train, rng) if augment is not None else x_train
            for iteration in range(num_tr_iter):
                start, end = iteration * batch_size, (iteration + 1) * batch_size
                x_batch, y_batch = get_next_batch(x_epoch, y_train, start, end)
                loss_batch, acc_batch, gradient_norm = train_step(x_batch, y_batch)
                history.add_batch(iteration, loss_batch, acc_batch, gradient_norm)
                if iteration % display_freq == 0:
                    say(format_iteration(iteration, loss_batch, acc_batch))
            with averaged_weights(model, optimizer):
                loss_valid, acc_valid = evaluate(model, x_valid, y_valid)
            history.end_epoch(loss_valid, acc_valid)
            say(format_epoch(epoch + 1, loss_valid, acc_valid))
    finally:
        history.close()
    keep_averaged_weights(model, optimizer)
    return history
