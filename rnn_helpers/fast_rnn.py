"""A faster way to train the tutorial's vanilla RNN: same mathematics, less overhead.

The notebook's model is ``SimpleRNN(num_hidden_units)`` followed by a linear output layer::

    h_0 = 0
    h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b_h)        for t = 1 .. T
    logits = h_T @ W + b
    loss = mean over the batch of softmax_cross_entropy(y, logits)

With 128 hidden units this network is tiny: one training step is about 0.3 GFLOP, and on a
CPU most of the time of ``model.fit`` or of a ``tf.GradientTape`` step goes into overhead,
not arithmetic. :func:`make_fast_train_step` returns a drop-in replacement for the plain
``tf.GradientTape`` train step, ``step(x_batch, y_batch) -> (loss, accuracy)``, that trains
*the same model, with the same optimiser and the same batches*, with less overhead:

1. **Hand-written backpropagation through time.** The input projection of all timesteps
   is one ``(T*B, F) @ (F, H)`` matmul; the recurrence is unrolled in Python into a flat
   graph of 28 small steps; going back in time, ``da_t = dh_t * (1 - h_t**2)`` and
   ``dh_{t-1} = da_t @ W_h.T``; the weight gradients ``dW_x``, ``dW_h``, ``db_h`` are then
   one large matmul (or sum) each over all timesteps, instead of 28 small ones.
   Two products known to be zero are skipped (``h_0 @ W_h`` and the unused ``dh_0``);
   nothing else is left out.
2. **Two independent halves.** Each batch is split in two halves whose forward and
   backward passes do not depend on each other, so with one thread per operation and two
   operations at a time (:func:`rnn_helpers.startup.configure_cpu_threads`) both cores of
   a small CPU are busy; a single 100×128 @ 128×128 matmul is faster on one thread than
   split over two. The gradient of the batch's mean loss is the sum of the two halves'
   contributions.

The optimiser is any Keras optimiser (Adam, with its learning-rate schedule and gradient
clipping, in the notebooks); it receives exactly the gradients ``tf.GradientTape`` would
compute, to float32 rounding (``tests/test_fast_rnn.py`` checks this against
``keras.layers.SimpleRNN``). Precision stays float32 throughout.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from .model import vanilla_rnn_variables


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


def fast_gradients(model: keras.Model, x_batch, y_batch, n_split: int = 2):
    """Loss and gradients of one batch, computed by hand: ``(loss, gradients)`` with the
    gradients in the order of ``model.trainable_variables`` (as ``tape.gradient`` returns
    them), so the two can be compared directly.

    Raises:
        ValueError: ``model`` is not the plain vanilla RNN of :func:`rnn_helpers.model.RNN`.
    """
    variables = _variables_of(model)
    x_batch, y_batch = tf.convert_to_tensor(x_batch, tf.float32), tf.convert_to_tensor(y_batch, tf.float32)
    loss, _, gradients = forward_backward(variables, x_batch, y_batch, n_split)
    by_id = {id(v): g for v, g in zip(variables, gradients, strict=True)}
    return loss, [by_id[id(v)] for v in model.trainable_variables]


def make_fast_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer, n_split: int = 2):
    """The fast counterpart of :func:`rnn_helpers.training.make_train_step`.

    Returns a compiled function ``step(x_batch, y_batch) -> (loss, accuracy)`` that takes
    one optimiser step of ``model`` with the hand-written gradients of
    :func:`forward_backward`. Loss and accuracy are those of the batch before the update.

    Raises:
        ValueError: ``model`` is not the plain vanilla RNN of :func:`rnn_helpers.model.RNN`.
    """
    variables = _variables_of(model)
    trainable = list(model.trainable_variables)
    order = [next(i for i, t in enumerate(trainable) if t is v) for v in variables]
    optimizer.build(trainable)  # Adam's moments must exist before the step is traced

    @tf.function
    def traced_step(x_batch, y_batch):
        # Read every weight once, up front: the update of a weight must never overtake a
        # read of it (the gradient of W, for instance, does not depend on reading W).
        weights = [tf.convert_to_tensor(v) for v in variables]
        loss, accuracy, gradients = forward_backward(weights, x_batch, y_batch, n_split)
        by_variable = [None] * len(trainable)
        for position, gradient in zip(order, gradients, strict=True):
            by_variable[position] = gradient
        with tf.control_dependencies([loss, accuracy, *weights]):
            optimizer.apply_gradients(zip(by_variable, trainable, strict=True))
        return loss, accuracy

    graphs: dict[tuple, Callable] = {}

    def step(x_batch, y_batch):
        # The traced graph of each batch shape is called directly: a tf.function call with
        # NumPy arguments spends about 0.15 ms matching them to a graph, a tenth of a step.
        x_batch = tf.convert_to_tensor(x_batch, tf.float32)
        y_batch = tf.convert_to_tensor(y_batch, tf.float32)
        shapes = (tuple(x_batch.shape), tuple(y_batch.shape))
        if shapes not in graphs:
            graphs[shapes] = traced_step.get_concrete_function(x_batch, y_batch)
        return graphs[shapes](x_batch, y_batch)

    return step


def _variables_of(model: keras.Model) -> list:
    variables = vanilla_rnn_variables(model)
    if variables is None:
        raise ValueError(
            "The fast step only trains the plain vanilla RNN built by rnn_helpers.model.RNN "
            "(cell='rnn'); use the plain train step for this model."
        )
    return variables
