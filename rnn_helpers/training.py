"""The original tutorial's training loop on TensorFlow 2, and the pieces it is made of.

Notebook 01 writes the loop out in a cell; :func:`train` runs exactly the same loop for
the other notebooks and the sweeps (``tests/test_model_training.py`` checks the two give
identical histories). Per epoch: reshuffle the training set with ``randomize``, cut it
into ``len(y) // batch_size`` mini-batches with ``get_next_batch``, take one optimiser step
per batch, print the batch loss and accuracy every ``display_freq`` iterations, then
evaluate on the whole validation set. :class:`History` keeps the numbers and stops a run
that diverges or does not learn, saying what to change.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from .augmentation import random_shift
from .batching import get_next_batch, randomize
from .evaluation import evaluate
from .fast_rnn import fast_rnn_variables, make_fast_train_step


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite during training."""


class TrainingNotLearning(RuntimeError):
    """After an epoch the network is no better than chance, or far worse than untrained."""


#: Before checking that a network learns, at least this many optimiser steps are taken.
STEPS_BEFORE_JUDGING = 300


@dataclass
class History:
    """Per-epoch metrics of a training run (lists indexed by epoch - 1), the logged
    iterations, and the checks that stop a run which is not learning.

    Feed it with :meth:`add_batch` after every optimiser step and :meth:`end_epoch` after
    every validation. ``train_loss`` / ``train_accuracy`` average the mini-batches of the
    epoch, measured as each batch was trained on; ``val_loss`` / ``val_accuracy`` are
    measured on the whole validation set after the epoch.

    Args (of the constructor):
        n_classes: classes of the task (chance accuracy is ``1 / n_classes``).
        display_freq: iterations ``0, display_freq, 2 * display_freq, ...`` of every epoch
            are kept in ``logged``.
        learning_rate: only for the advice in error messages.
    """

    n_classes: int = 10
    display_freq: int = 100
    learning_rate: float | None = None
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    logged: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    _losses: list[float] = field(default_factory=list, repr=False)
    _accuracies: list[float] = field(default_factory=list, repr=False)
    _started: float = field(default_factory=time.perf_counter, repr=False)

    def _advice(self) -> str:
        if self.learning_rate is None:
            return "Try a smaller learning rate."
        return (
            f"Try a smaller learning_rate (now {self.learning_rate:g}; e.g. {self.learning_rate / 10:g}; "
            "the original used 0.001), and keep gradient clipping on (clip_norm = 1.0)."
        )

    def add_batch(self, iteration: int, loss, accuracy) -> None:
        """Record one optimiser step's batch ``loss`` and ``accuracy`` (numbers or tensors).

        Raises:
            TrainingDiverged: the loss is NaN or infinite; names the epoch and iteration.
        """
        loss, accuracy = float(loss), float(accuracy)
        self.steps += 1
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"The loss became {loss} at epoch {len(self.epoch) + 1}, iteration {iteration} "
                f"(step {self.steps}): training diverged. {self._advice()}"
            )
        self._losses.append(loss)
        self._accuracies.append(accuracy)
        if iteration % self.display_freq == 0:
            self.logged.append(
                {"epoch": len(self.epoch) + 1, "iteration": iteration, "loss": loss, "accuracy": accuracy}
            )

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
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._started)
        self._started = now
        self._losses, self._accuracies = [], []
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

    def as_dict(self) -> dict[str, list]:
        """The per-epoch lists and the logged iterations, for metrics.json."""
        names = (
            "epoch",
            "train_loss",
            "train_accuracy",
            "val_loss",
            "val_accuracy",
            "epoch_seconds",
            "logged",
        )
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

    Notebook 01 defines the same function in a cell, to show it; this one serves the other
    notebooks and :func:`train`.
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


def format_iteration(iteration: int, loss, accuracy) -> str:
    """The original's log line, e.g. ``iter 100:	 Loss=0.92,	Training Accuracy=74.0%``."""
    loss, accuracy = float(loss), float(accuracy)
    return f"iter {iteration:3d}:\t Loss={loss:.2f},\tTraining Accuracy={accuracy:.01%}"


def format_epoch(epoch: int, loss: float, accuracy: float) -> str:
    """The original's end-of-epoch line with the validation metrics."""
    return f"Epoch: {epoch}, validation loss: {loss:.2f}, validation accuracy: {accuracy:.01%}"


def choose_train_step(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, loss_fn: keras.losses.Loss, fast: bool = True
) -> tuple[Callable, bool]:
    """The step :func:`train` uses: ``(step, is_fast)``.

    The fast step (:func:`rnn_helpers.fast_rnn.make_fast_train_step`) when ``fast`` and
    ``model`` is the plain vanilla RNN, LSTM or GRU of :func:`rnn_helpers.model.RNN`
    (:func:`rnn_helpers.fast_rnn.fast_rnn_variables`); else the plain :func:`make_train_step`.
    """
    if fast and fast_rnn_variables(model) is not None:
        return make_fast_train_step(model, optimizer), True
    return make_train_step(model, optimizer, loss_fn), False


def keep_averaged_weights(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
    """After training with a weight average (``ema_momentum``), leave the average in the model.

    Does nothing for an optimiser without one.
    """
    if optimizer.use_ema:
        optimizer.finalize_variable_values(model.trainable_variables)


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
    """Train ``model`` with the original tutorial's loop (notebook 01's cell) and return its
    :class:`History`.

    Args:
        model: maps ``(batch, timesteps, num_input)`` to logits (e.g. from :func:`RNN`).
        x_train, y_train: training images ``(N, timesteps, num_input)`` and one-hot labels.
        x_valid, y_valid: the validation set, evaluated whole after every epoch.
        epochs: passes over the training set.
        batch_size: examples per step; each epoch runs ``N // batch_size`` steps.
        display_freq: log the batch loss and accuracy every this many iterations.
        learning_rate: Adam's learning rate (ignored when ``optimizer`` is given).
        seed: seeds the shuffling (and the shifts); ``None`` differs every run.
        optimizer: a Keras optimiser; default ``keras.optimizers.Adam(learning_rate)``.
            If it keeps a moving average of the weights (``make_optimizer(...,
            ema_momentum=...)``), validation uses the averaged weights, and at the end
            the model is left holding them.
        augment_shift: move every training image by a fresh random offset of up to this
            many pixels each epoch (0: no augmentation, as in the original).
        label_smoothing: train towards smoothed targets (:func:`smooth_labels`); the
            validation loss is still measured against the true one-hot labels.
        fast: train the plain vanilla RNN, LSTM or GRU of :func:`rnn_helpers.model.RNN`
            with the faster, equivalent step of :mod:`rnn_helpers.fast_rnn` (other models
            always use the plain step).
        log: where progress lines go (``print``); ``None`` for silence.

    Raises:
        TrainingDiverged: the loss became NaN or infinite; names the iteration.
        TrainingNotLearning: after an epoch the network is no better than chance, or far
            worse than untrained (see :meth:`History.end_epoch`).
    """
    say = log or (lambda line: None)
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=learning_rate)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    step, _ = choose_train_step(model, optimizer, loss_fn, fast)
    num_tr_iter = len(y_train) // batch_size
    if num_tr_iter == 0:
        raise ValueError(f"batch_size={batch_size} is larger than the {len(y_train)} training examples.")
    rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    y_targets = smooth_labels(y_train, label_smoothing)
    rng = np.random.default_rng(seed)

    # The loop below is notebook 01's section 6, line for line.
    history = History(n_classes=y_train.shape[1], display_freq=display_freq, learning_rate=rate)
    for epoch in range(1, epochs + 1):
        say(f"Training epoch: {epoch}")
        x_epoch = random_shift(x_train, augment_shift, rng) if augment_shift else x_train
        x_epoch, y_epoch = randomize(x_epoch, y_targets, rng)
        for iteration in range(num_tr_iter):
            start = iteration * batch_size
            x_batch, y_batch = get_next_batch(x_epoch, y_epoch, start, start + batch_size)
            loss_batch, acc_batch = step(x_batch, y_batch)
            history.add_batch(iteration, loss_batch, acc_batch)
            if iteration % display_freq == 0:
                say(format_iteration(iteration, loss_batch, acc_batch))
        with averaged_weights(model, optimizer):
            loss_valid, acc_valid = evaluate(model, x_valid, y_valid)
        history.end_epoch(loss_valid, acc_valid)
        say(format_epoch(epoch, loss_valid, acc_valid))
    keep_averaged_weights(model, optimizer)
    return history
