"""The training loop of the original tutorial, on TensorFlow 2.

Per epoch: reshuffle the training set (``randomize``), cut it into
``n_train // batch_size`` mini-batches (``get_next_batch``), take one optimiser step on
each with a compiled (``tf.function``) train step, print the batch loss and accuracy every
``display_freq`` iterations, then evaluate on the whole validation set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
import tensorflow as tf

from .augmentation import random_shift
from .batching import get_next_batch
from .evaluation import evaluate
from .fast_rnn import FastRNNSteps, vanilla_rnn_variables


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
) -> keras.optimizers.Optimizer:
    """Adam, as in the original, optionally with a learning-rate schedule, gradient clipping,
    weight decay and weight averaging.

    Args:
        learning_rate: the initial learning rate.
        lr_schedule: ``"constant"`` (the original) or ``"cosine"``: the rate falls from
            ``learning_rate`` to zero along half a cosine over ``total_steps`` steps, so
            that the last epochs take ever smaller, less noisy steps.
        total_steps: number of optimiser steps of the whole run (needed for ``"cosine"``).
        clip_norm: if given, every gradient is rescaled to a norm of at most this value
            before the update (Keras's ``clipnorm``), which stops the rare huge gradient
            of a recurrent network from undoing what it has learned.
        weight_decay: if > 0, AdamW: every step also shrinks each weight by
            ``learning_rate * weight_decay`` times itself (decoupled weight decay), which
            keeps the weights small (a regulariser).
        ema_momentum: if given (e.g. 0.999), the optimiser also keeps an exponential moving
            average of the weights, ``average = m * average + (1 - m) * weights`` after
            every step: an average over roughly the last ``1 / (1 - m)`` steps, which
            smooths out the noise of the last updates. :func:`train` evaluates with it and
            leaves it in the model at the end (see :func:`averaged_weights`).
    """
    if lr_schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule={lr_schedule!r}: use one of {', '.join(map(repr, SCHEDULES))}.")
    rate: float | keras.optimizers.schedules.LearningRateSchedule = learning_rate
    if lr_schedule == "cosine":
        if not total_steps or total_steps < 1:
            raise ValueError("lr_schedule='cosine' needs total_steps, the number of steps of the run.")
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
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


@contextmanager
def averaged_weights(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> Iterator[None]:
    """Inside the ``with`` block the model holds the optimiser's moving average of its
    weights; afterwards its own weights are back. Does nothing when the optimiser keeps no
    average (``ema_momentum`` was not set) or has not been built yet.
    """
    # Keras keeps the average in this attribute (one variable per trainable variable, in the
    # order the optimiser was built with) and offers no public read of it.
    averages = getattr(optimizer, "_model_variables_moving_average", None) if optimizer.use_ema else None
    if not averages:
        yield
        return
    variables = list(model.trainable_variables)
    if len(variables) != len(averages):
        raise ValueError(
            f"The optimiser averages {len(averages)} variables but the model has {len(variables)}: "
            "use the optimiser that trained this model."
        )
    saved = [keras.ops.copy(v.value) for v in variables]
    try:
        for variable, average in zip(variables, averages, strict=True):
            variable.assign(average)
        yield
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)


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


def smooth_labels(y: np.ndarray, label_smoothing: float) -> np.ndarray:
    """Label smoothing: one-hot targets ``y`` become ``(1 - e) * y + e / n_classes``.

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


def format_iteration(iteration: int, loss: float, accuracy: float) -> str:
    """The original's log line, e.g. ``iter 100:	 Loss=0.92,	Training Accuracy=74.0%``."""
    return f"iter {iteration:3d}:\t Loss={loss:.2f},\tTraining Accuracy={accuracy:.01%}"


def format_epoch(epoch: int, loss: float, accuracy: float) -> str:
    """The original's end-of-epoch line with the validation metrics."""
    return f"Epoch: {epoch}, validation loss: {loss:.2f}, validation accuracy: {accuracy:.01%}"


class Trainer:
    """The original tutorial's training loop, one epoch at a time, keeping its state.

    Every epoch the training set is reshuffled (the order ``randomize`` would give with
    the same generator), cut into ``len(y) // batch_size`` mini-batches, and one optimiser
    step is taken per batch. The loss and accuracy of every ``display_freq``-th batch are
    logged in the original's format. With ``augment_shift > 0`` every epoch sees each
    image moved by a fresh random offset of up to that many pixels
    (:func:`rnn_helpers.augmentation.random_shift`, drawn from the same generator).

    The plain vanilla RNN from :func:`rnn_helpers.model.RNN` is trained by
    :class:`rnn_helpers.fast_rnn.FastRNNSteps` (hand-written backpropagation through time,
    many steps per compiled call: the same mathematics, several times faster on a CPU);
    any other model, or ``fast=False``, uses the plain step from :func:`make_train_step`,
    one compiled call per batch, fed by ``get_next_batch``.
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer | None = None,
        *,
        learning_rate: float = 0.001,
        batch_size: int = 100,
        display_freq: int = 100,
        seed: int | None = None,
        augment_shift: int = 0,
        fast: bool = True,
        log: Callable[[str], None] | None = print,
    ):
        self.optimizer = optimizer or keras.optimizers.Adam(learning_rate=learning_rate)
        self.batch_size = batch_size
        self.display_freq = display_freq
        self.augment_shift = augment_shift
        self.rng = np.random.default_rng(seed)
        self.say = log or (lambda line: None)
        self.epoch = 0
        self.global_step = 0
        self.logged: list[dict[str, float]] = []
        self.fast = fast and vanilla_rnn_variables(model) is not None
        if self.fast:
            self._steps = FastRNNSteps(model, self.optimizer, batch_size)
        else:
            self._step = make_train_step(
                model, self.optimizer, keras.losses.CategoricalCrossentropy(from_logits=True)
            )
        self._tensors: tuple[np.ndarray, np.ndarray, tf.Tensor, tf.Tensor] | None = None

    def _as_tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
        """The training arrays as tensors, converted once and reused while they stay the same."""
        if self._tensors is None or self._tensors[0] is not x or self._tensors[1] is not y:
            self._tensors = (x, y, tf.constant(x, tf.float32), tf.constant(y, tf.float32))
        return self._tensors[2], self._tensors[3]

    def _chunks(self, x: np.ndarray, y: np.ndarray, num_tr_iter: int):
        """Yield ``(first_iteration, losses, accuracies)`` chunk by chunk through one epoch."""
        order = self.rng.permutation(len(y))  # exactly what randomize(x, y, self.rng) would use
        if self.fast:
            x_all, y_all = self._as_tensors(x, y)
            order_tensor = tf.constant(order, tf.int32)
            for first in range(0, num_tr_iter, self.display_freq):
                count = min(self.display_freq, num_tr_iter - first)
                losses, accuracies = self._steps(x_all, y_all, order_tensor, first, count)
                yield first, losses.numpy(), accuracies.numpy()
            return
        x_shuffled, y_shuffled = x[order], y[order]
        for iteration in range(num_tr_iter):
            start = iteration * self.batch_size
            x_batch, y_batch = get_next_batch(x_shuffled, y_shuffled, start, start + self.batch_size)
            loss, accuracy = self._step(x_batch, y_batch)
            yield iteration, np.array([float(loss)]), np.array([float(accuracy)])

    def train_epoch(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """One epoch over ``x`` ``(N, timesteps, num_input)`` and one-hot ``y``.

        Returns the mean loss and accuracy of the epoch's batches.

        Raises:
            TrainingDiverged: a batch's loss was NaN or infinite; names its iteration.
        """
        num_tr_iter = len(y) // self.batch_size
        if num_tr_iter == 0:
            raise ValueError(f"batch_size={self.batch_size} is larger than the {len(y)} training examples.")
        if self.augment_shift:
            x = random_shift(x, self.augment_shift, self.rng)
        self.epoch += 1
        self.say(f"Training epoch: {self.epoch}")
        losses, accuracies = [], []
        for first, chunk_losses, chunk_accuracies in self._chunks(x, y, num_tr_iter):
            bad = np.flatnonzero(~np.isfinite(chunk_losses))
            if bad.size:
                iteration = first + int(bad[0])
                rate = float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))
                raise TrainingDiverged(
                    f"The loss became {chunk_losses[bad[0]]} at epoch {self.epoch}, iteration {iteration} "
                    f"(step {self.global_step + int(bad[0]) + 1}): "
                    f"training diverged. Try a smaller learning rate (now {rate:g}; e.g. {rate / 10:g})."
                )
            for offset in range(len(chunk_losses)):
                iteration = first + offset
                self.global_step += 1
                if iteration % self.display_freq == 0:
                    loss, accuracy = float(chunk_losses[offset]), float(chunk_accuracies[offset])
                    self.say(format_iteration(iteration, loss, accuracy))
                    self.logged.append(
                        {"epoch": self.epoch, "iteration": iteration, "loss": loss, "accuracy": accuracy}
                    )
            losses.append(chunk_losses)
            accuracies.append(chunk_accuracies)
        return float(np.concatenate(losses).mean()), float(np.concatenate(accuracies).mean())


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
    augment_shift: int = 0,
    label_smoothing: float = 0.0,
    fast: bool = True,
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
            If it keeps a moving average of the weights (``make_optimizer(...,
            ema_momentum=...)``), validation uses the averaged weights, and at the end
            the model is left holding them.
        augment_shift: move every training image by a fresh random offset of up to this
            many pixels each epoch (0: no augmentation, as in the original).
        label_smoothing: train towards smoothed targets (:func:`smooth_labels`); the
            validation loss is still measured against the true one-hot labels.
        fast: train the plain vanilla RNN with the faster, equivalent path of
            :mod:`rnn_helpers.fast_rnn` (other models always use the plain step).
        log: where progress lines go (``print``); ``None`` for silence.

    Raises:
        TrainingDiverged: the loss became NaN or infinite; names the iteration.
    """
    trainer = Trainer(
        model,
        optimizer,
        learning_rate=learning_rate,
        batch_size=batch_size,
        display_freq=display_freq,
        seed=seed,
        augment_shift=augment_shift,
        fast=fast,
        log=log,
    )
    history = History()
    targets = smooth_labels(y_train, label_smoothing)
    for _ in range(epochs):
        started = time.perf_counter()
        train_loss, train_accuracy = trainer.train_epoch(x_train, targets)
        with averaged_weights(model, trainer.optimizer):
            val_loss, val_accuracy = evaluate(model, x_valid, y_valid)
        history.epoch.append(trainer.epoch)
        history.train_loss.append(train_loss)
        history.train_accuracy.append(train_accuracy)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        history.epoch_seconds.append(time.perf_counter() - started)
        trainer.say(format_epoch(trainer.epoch, val_loss, val_accuracy))
    history.logged = trainer.logged
    if trainer.optimizer.use_ema:
        trainer.optimizer.finalize_variable_values(model.trainable_variables)
    return history
