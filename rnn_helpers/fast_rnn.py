"""A faster way to train the tutorial's vanilla RNN: same mathematics, less overhead.

The notebook's model is ``SimpleRNN(num_hidden_units)`` followed by a linear output layer::

    h_0 = 0
    h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b_h)        for t = 1 .. T
    logits = h_T @ W + b
    loss = mean over the batch of softmax_cross_entropy(y, logits)

With 128 hidden units this network is tiny: one training step is about 0.3 GFLOP, and on a
CPU most of the time of ``model.fit`` or of a ``tf.GradientTape`` step goes into overhead,
not arithmetic. :class:`FastRNNSteps` trains *the same model, with the same optimiser and
the same batches*, but removes that overhead:

1. **Hand-written backpropagation through time.** The input projection of all timesteps
   is one ``(T*B, F) @ (F, H)`` matmul; the recurrence is unrolled in Python into a flat
   graph of 28 small steps; going back in time, ``da_t = dh_t * (1 - h_t**2)`` and
   ``dh_{t-1} = da_t @ W_h.T``; the weight gradients ``dW_x``, ``dW_h``, ``db_h`` are then
   one large matmul (or sum) each over all timesteps, instead of 28 small ones.
   Two products known to be zero are skipped (``h_0 @ W_h`` and the unused ``dh_0``);
   nothing else is left out.
2. **Many steps per call.** A ``tf.while_loop`` inside one ``tf.function`` runs a whole
   chunk of optimiser steps (e.g. ``display_freq`` of them); each batch is gathered from
   the data tensor through the epoch's shuffled order, so Python is not involved per step.
3. **Two independent halves.** Each batch is split in two halves whose forward and
   backward passes do not depend on each other, so with one thread per operation and two
   operations at a time (:func:`configure_cpu_threads`) both CPU cores are busy; a single
   100×128 @ 128×128 matmul is faster on one thread than split over two. The gradient of
   the batch's mean loss is the sum of the two halves' contributions.

The optimiser is any Keras optimiser (Adam, with its learning-rate schedule and gradient
clipping, in the notebooks); it receives exactly the gradients ``tf.GradientTape`` would
compute, to float32 rounding (``tests/test_fast_rnn.py`` checks this against
``keras.layers.SimpleRNN``). Precision stays float32 throughout.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .model import OutputLayer


def configure_cpu_threads(intra_op: int = 1, inter_op: int = 2) -> bool:
    """Run each TensorFlow operation on one thread, ``inter_op`` operations at a time.

    This is the fastest setting found for this small RNN on a 2-core CPU (Keras's own
    ``fit`` also gets faster with it). It only takes effect before TensorFlow has run
    anything; returns False (and changes nothing) when it is too late or a GPU is present.
    """
    if tf.config.list_physical_devices("GPU"):
        return False
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # TensorFlow is already running: threads can no longer change
        return False
    return True


def vanilla_rnn_variables(model: keras.Model) -> list | None:
    """``[W_x, W_h, b_h, W, b]`` of a model built by :func:`rnn_helpers.model.RNN`, else None.

    Only a plain ``Input -> SimpleRNN(tanh, with bias, no dropout) -> OutputLayer`` model
    qualifies; anything else is trained by the generic ``tf.GradientTape`` step.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(layers) != 2:
        return None
    rnn, out = layers
    if not (isinstance(rnn, keras.layers.SimpleRNN) and isinstance(out, OutputLayer)):
        return None
    plain = (
        rnn.activation is keras.activations.tanh
        and rnn.use_bias
        and not rnn.return_sequences
        and not rnn.go_backwards
        and not rnn.stateful
        and rnn.dropout == 0
        and rnn.recurrent_dropout == 0
    )
    if not plain:
        return None
    return [rnn.cell.kernel, rnn.cell.recurrent_kernel, rnn.cell.bias, out.W, out.b]


def _half_forward_backward(variables, x, y, batch_total):
    """Loss, correct count and gradients of ``sum(loss) / batch_total`` for one part of a batch."""
    W_x, W_h, b_h, W, b = variables
    T, F = x.shape[1], x.shape[2]
    H = W_h.shape[0]
    part = tf.shape(x)[0]
    x_time_major = tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, F])  # (T*part, F)
    projected = tf.reshape(tf.matmul(x_time_major, W_x) + b_h, [T, part, H])

    states = [tf.tanh(projected[0])]  # h_1; h_0 = 0 so h_0 @ W_h vanishes
    for t in range(1, T):
        states.append(tf.tanh(projected[t] + tf.matmul(states[-1], W_h)))
    H_all = tf.stack(states)  # (T, part, H): h_1 .. h_T
    h_last = states[-1]
    logits = tf.matmul(h_last, W) + b

    loss_sum = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1)), tf.float32))

    d_logits = (tf.nn.softmax(logits) - y) / batch_total
    dW = tf.matmul(h_last, d_logits, transpose_a=True)
    db = tf.reduce_sum(d_logits, 0)
    dh = tf.matmul(d_logits, W, transpose_b=True)
    tanh_grad = 1.0 - tf.square(H_all)
    d_pre = [None] * T
    for t in range(T - 1, -1, -1):
        d_pre[t] = dh * tanh_grad[t]
        if t > 0:  # dh_0 is never used
            dh = tf.matmul(d_pre[t], W_h, transpose_b=True)
    DA = tf.stack(d_pre)  # (T, part, H)
    DA_flat = tf.reshape(DA, [-1, H])
    dW_x = tf.matmul(x_time_major, DA_flat, transpose_a=True)
    # dW_h = sum_t h_{t-1}^T da_t; with h_0 = 0 only t = 2..T contribute
    dW_h = tf.matmul(tf.reshape(H_all[:-1], [-1, H]), tf.reshape(DA[1:], [-1, H]), transpose_a=True)
    db_h = tf.reduce_sum(DA_flat, 0)
    return loss_sum, correct, (dW_x, dW_h, db_h, dW, db)


def forward_backward(variables, x, y, n_split: int = 2):
    """Mean loss, accuracy and gradients ``[dW_x, dW_h, db_h, dW, db]`` for one batch.

    Args:
        variables: ``[W_x, W_h, b_h, W, b]`` as tensors, or the variables themselves
            (see :func:`vanilla_rnn_variables`).
        x: ``(batch, T, F)`` float32 inputs; y: ``(batch, n_classes)`` one-hot labels.
        n_split: independent parts the batch is split into (1 = no split).
    """
    batch = x.shape[0]
    batch_total = tf.cast(tf.shape(x)[0], tf.float32)
    if n_split > 1 and batch is not None and batch >= n_split:
        sizes = [batch // n_split + (1 if i < batch % n_split else 0) for i in range(n_split)]
        parts = [
            _half_forward_backward(variables, xp, yp, batch_total)
            for xp, yp in zip(tf.split(x, sizes), tf.split(y, sizes), strict=True)
        ]
    else:
        parts = [_half_forward_backward(variables, x, y, batch_total)]
    loss = tf.add_n([p[0] for p in parts]) / batch_total
    accuracy = tf.add_n([p[1] for p in parts]) / batch_total
    gradients = [tf.add_n([p[2][i] for p in parts]) for i in range(5)]
    return loss, accuracy, gradients


class FastRNNSteps:
    """Runs chunks of optimiser steps of a vanilla RNN in one compiled call.

    ``steps(x_all, y_all, order, first, count)`` takes ``count`` steps on the batches
    ``order[(first + i) * batch_size : (first + i + 1) * batch_size]`` of the tensors
    ``x_all`` / ``y_all`` and returns the loss and accuracy of each batch (measured before
    its update), exactly like ``count`` calls of a ``tf.GradientTape`` train step would.
    """

    def __init__(
        self, model: keras.Model, optimizer: keras.optimizers.Optimizer, batch_size: int, n_split: int = 2
    ):
        variables = vanilla_rnn_variables(model)
        if variables is None:
            raise ValueError("FastRNNSteps only trains the plain vanilla RNN built by rnn_helpers.model.RNN.")
        self.variables = variables
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.n_split = n_split
        # The optimiser's slots (Adam's moments) must exist before the loop is traced.
        optimizer.build(model.trainable_variables)
        self._trainable = list(model.trainable_variables)
        positions = {id(v): i for i, v in enumerate(self._trainable)}
        self._order = [positions[id(v)] for v in variables]
        self._state = [*self._trainable, *optimizer.variables]
        self._run = tf.function(self._steps, reduce_retracing=True)

    def _steps(self, x_all, y_all, order, first, count):
        batch_size = self.batch_size
        losses = tf.TensorArray(tf.float32, size=count)
        accuracies = tf.TensorArray(tf.float32, size=count)

        def body(i, losses, accuracies):
            # a slice of static length keeps every shape known to TensorFlow
            indices = tf.slice(order, [(first + i) * batch_size], [batch_size])
            x_batch, y_batch = tf.gather(x_all, indices), tf.gather(y_all, indices)
            # Read every weight once, up front: the update of a weight must never overtake a
            # read of it (the gradient of W, for instance, does not depend on reading W).
            weights = [tf.convert_to_tensor(v) for v in self.variables]
            loss, accuracy, gradients = forward_backward(weights, x_batch, y_batch, self.n_split)
            by_variable = [None] * len(self._trainable)
            for position, gradient in zip(self._order, gradients, strict=True):
                by_variable[position] = gradient
            with tf.control_dependencies([loss, accuracy, *weights]):
                self.optimizer.apply_gradients(zip(by_variable, self._trainable, strict=True))
            # Every variable the step changed (weights, Adam's moments, the step counter) is
            # read back after its update, and the next step waits for those reads: no step
            # may see a half-applied update.
            updated = [tf.identity(v) for v in self._state]
            with tf.control_dependencies(updated):
                return i + 1, losses.write(i, loss), accuracies.write(i, accuracy)

        # parallel_iterations=1: a step must never read weights before the previous update
        _, losses, accuracies = tf.while_loop(
            lambda i, *_: i < count, body, (0, losses, accuracies), parallel_iterations=1
        )
        return losses.stack(), accuracies.stack()

    def __call__(self, x_all, y_all, order, first: int, count: int):
        return self._run(x_all, y_all, order, tf.constant(first, tf.int32), tf.constant(count, tf.int32))
