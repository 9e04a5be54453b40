"""The fast training step: one batch's loss and gradients by hand, then the optimiser's update.

:func:`make_train_step` returns a drop-in replacement for the plain ``tf.GradientTape`` step
of notebook 01, ``step(x_batch, y_batch) -> (loss, accuracy, gradient_norm)``, which trains
*the same model, with the same optimiser and the same batches*, with less overhead:

1. **Hand-written backpropagation through time** (:mod:`rnn_helpers.fast.rnn`,
   :mod:`rnn_helpers.fast.gated`): big matmuls over all timesteps instead of many small ones.
2. **Independent parts.** Each batch is split in two halves whose forward and backward
   passes do not depend on each other, so with one thread per operation and two operations
   at a time (``rnn_helpers.runs.startup.configure_cpu_threads``) both cores of a small CPU
   are busy; a single 100x128 @ 128x128 matmul is faster on one thread than split over two.
   The gradient of the batch's mean loss is the sum of the parts' contributions.

Nothing here knows how a Keras model is put together: the caller names the cell
(``"rnn"``, ``"lstm"`` or ``"gru"``) and hands over its weights in the cell's order
(``[W_x, W_h, b_h, W, b]`` for the vanilla RNN, ``[kernel, recurrent_kernel, bias, W, b]``
for the gated cells), as :func:`rnn_helpers.model.rnn_variables` finds them in a model.
The gradients are those ``tf.GradientTape`` computes, to float32 rounding
(``tests/test_fast_rnn.py`` and ``tests/test_fast_gated.py`` check them against Keras).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from .common import direct_call, in_trainable_order
from .gated import gru_part_forward_backward, lstm_gradients_in_keras_order, lstm_part_forward_backward
from .rnn import rnn_part_forward_backward

#: One part of a batch, forward and backward, per cell.
PART_FORWARD_BACKWARD = {
    "rnn": rnn_part_forward_backward,
    "lstm": lstm_part_forward_backward,
    "gru": gru_part_forward_backward,
}


def forward_backward(cell: str, weights: Sequence, x, y, n_split: int = 2):
    """Mean loss, accuracy and gradients (in the order of ``weights``) for one batch.

    Args:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        weights: the cell's weights and the output layer's, as tensors or variables, in the
            cell's order (see the module docstring).
        x: ``(B, T, F)`` float32 inputs; y: ``(B, C)`` one-hot labels.
        n_split: independent parts the batch is split into (1 = no split).

    Returns:
        ``(loss, accuracy, gradients)``: scalars, and one gradient per weight, same shapes.
    """
    if cell not in PART_FORWARD_BACKWARD:
        known = ", ".join(map(repr, PART_FORWARD_BACKWARD))
        raise ValueError(f"cell={cell!r}: the fast step knows {known}.")
    part = PART_FORWARD_BACKWARD[cell]
    batch = x.shape[0]
    batch_total = tf.cast(tf.shape(x)[0], tf.float32)
    if n_split > 1 and batch is not None and batch >= n_split:
        sizes = [batch // n_split + (1 if i < batch % n_split else 0) for i in range(n_split)]
        parts = [
            part(weights, xp, yp, batch_total)
            for xp, yp in zip(tf.split(x, sizes), tf.split(y, sizes), strict=True)
        ]
    else:
        parts = [part(weights, x, y, batch_total)]
    loss = tf.add_n([p[0] for p in parts]) / batch_total
    accuracy = tf.add_n([p[1] for p in parts]) / batch_total
    gradients = [tf.add_n([p[2][i] for p in parts]) for i in range(len(parts[0][2]))]
    if cell == "lstm":
        gradients = lstm_gradients_in_keras_order(gradients)
    return loss, accuracy, gradients


def gradients(cell: str, variables: Sequence, trainable: Sequence, x_batch, y_batch, n_split: int = 2):
    """Loss and gradients of one batch, computed by hand: ``(loss, gradients)``, the gradients
    in the order of ``trainable`` (a model's ``trainable_variables``, as ``tape.gradient``
    returns them), so the two can be compared directly."""
    x_batch = tf.convert_to_tensor(x_batch, tf.float32)
    y_batch = tf.convert_to_tensor(y_batch, tf.float32)
    loss, _, found = forward_backward(cell, variables, x_batch, y_batch, n_split)
    return loss, in_trainable_order(trainable, variables, found)


def make_train_step(
    cell: str, variables: Sequence, trainable: Sequence, optimizer, n_split: int = 2
) -> Callable:
    """A compiled ``step(x_batch, y_batch) -> (loss, accuracy, gradient_norm)`` that takes one
    optimiser step with the hand-written gradients of :func:`forward_backward`.

    Args:
        cell, variables: the cell and its weights (as Keras variables), as for
            :func:`forward_backward`.
        trainable: all the model's trainable variables, in the order the optimiser updates
            them (``model.trainable_variables``); the same variables as ``variables``.
        optimizer: any Keras optimiser (its schedule and clipping apply as usual).
        n_split: independent parts per batch.

    Loss and accuracy are those of the batch before the update; ``gradient_norm`` is the
    global norm of the gradients before any clipping.
    """
    trainable = list(trainable)
    optimizer.build(trainable)  # Adam's moments must exist before the step is traced

    @tf.function
    def traced_step(x_batch, y_batch):
        # Read every weight once, up front: the update of a weight must never overtake a
        # read of it (the gradient of W, for instance, does not depend on reading W).
        weights = [tf.convert_to_tensor(v) for v in variables]
        loss, accuracy, found = forward_backward(cell, weights, x_batch, y_batch, n_split)
        ordered = in_trainable_order(trainable, variables, found)
        with tf.control_dependencies([loss, accuracy, *weights]):
            optimizer.apply_gradients(zip(ordered, trainable, strict=True))
        return loss, accuracy, tf.linalg.global_norm(ordered)

    graphs: dict[tuple, Callable] = {}

    def step(x_batch, y_batch):
        # Each batch shape's traced graph is called directly, with the captured weights and
        # optimiser state passed as they are: calling a tf.function with NumPy arguments
        # spends about 0.15 ms matching them to a graph and flattening them, an eighth of a step.
        x_batch = tf.constant(x_batch, tf.float32)
        y_batch = tf.constant(y_batch, tf.float32)
        shapes = (tuple(x_batch.shape), tuple(y_batch.shape))
        if shapes not in graphs:
            graphs[shapes] = direct_call(traced_step.get_concrete_function(x_batch, y_batch))
        return graphs[shapes](x_batch, y_batch)

    return step
