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
   graph of 28 small steps; going back in time, ``da_t = dh_t * (1 - h_t**2)`` (one
   ``TanhGrad`` operation) and ``dh_{t-1} = da_t @ W_h.T``; the weight gradients
   ``dW_x``, ``dW_h``, ``db_h`` are then one large matmul (or sum) each over all
   timesteps, instead of 28 small ones.
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

The same is written out for the gated cells, Keras's ``LSTM`` and ``GRU`` as
:func:`rnn_helpers.model.RNN` builds them, in :mod:`rnn_helpers.fast_gated`;
:func:`fast_rnn_variables` tells which of the three a model is, and every function here
takes the matching path (``tests/test_fast_gated.py`` checks those against Keras).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from .fast_gated import (
    column_sums,
    gated_rnn_variables,
    gru_half_forward_backward,
    lstm_gradients_in_keras_order,
    lstm_half_forward_backward,
    output_layer_forward_backward,
    time_major,
)
from .model import vanilla_rnn_variables


def _half_forward_backward(variables, x, y, batch_total):
    """Loss, correct count and gradients of ``sum(loss) / batch_total`` for one part of a batch."""
    W_x, W_h, b_h, W, b = variables
    T = x.shape[1]
    H = W_h.shape[0]
    part = tf.shape(x)[0]
    x_time_major = time_major(x)  # (T*part, F)
    # one (part, H) tensor per timestep, split off in one operation
    projected = tf.unstack(tf.reshape(tf.matmul(x_time_major, W_x) + b_h, [T, part, H]))

    states = [tf.tanh(projected[0])]  # h_1; h_0 = 0 so h_0 @ W_h vanishes
    for t in range(1, T):
        states.append(tf.tanh(projected[t] + tf.matmul(states[-1], W_h)))
    loss_sum, correct, dW, db, dh = output_layer_forward_backward(states[-1], W, b, y, batch_total)
    d_pre = [None] * T
    for t in range(T - 1, -1, -1):
        # TanhGrad(y=h_t, dy=dh_t) is dh_t * (1 - h_t**2): the derivative of tanh from its output
        d_pre[t] = tf.raw_ops.TanhGrad(y=states[t], dy=dh)
        if t > 0:  # dh_0 is never used
            dh = tf.matmul(d_pre[t], W_h, transpose_b=True)
    H_all = tf.stack(states)  # (T, part, H): h_1 .. h_T
    DA = tf.stack(d_pre)  # (T, part, H)
    DA_flat = tf.reshape(DA, [-1, H])
    dW_x = tf.matmul(x_time_major, DA_flat, transpose_a=True)
    # dW_h = sum_t h_{t-1}^T da_t; with h_0 = 0 only t = 2..T contribute
    dW_h = tf.matmul(tf.reshape(H_all[:-1], [-1, H]), tf.reshape(DA[1:], [-1, H]), transpose_a=True)
    db_h = column_sums(DA_flat)
    return loss_sum, correct, (dW_x, dW_h, db_h, dW, db)


#: One part of a batch, forward and backward, per cell (see :func:`fast_rnn_variables`).
_HALF_FORWARD_BACKWARD = {
    "rnn": _half_forward_backward,
    "lstm": lstm_half_forward_backward,
    "gru": gru_half_forward_backward,
}


def fast_rnn_variables(model: keras.Model) -> tuple[str, list] | None:
    """``(cell, variables)`` when the fast step can train ``model``, else None.

    ``cell`` is ``"rnn"`` with ``[W_x, W_h, b_h, W, b]`` for the plain vanilla RNN
    (:func:`rnn_helpers.model.vanilla_rnn_variables`), or ``"lstm"`` / ``"gru"`` with
    ``[kernel, recurrent_kernel, bias, W, b]`` for the gated networks of
    :func:`rnn_helpers.model.RNN` (:func:`rnn_helpers.fast_gated.gated_rnn_variables`).
    """
    variables = vanilla_rnn_variables(model)
    if variables is not None:
        return "rnn", variables
    return gated_rnn_variables(model)


def forward_backward(variables, x, y, n_split: int = 2, cell: str = "rnn"):
    """Mean loss, accuracy and gradients (in the order of ``variables``) for one batch.

    Args:
        variables: the network's weights as tensors, or the variables themselves:
            ``[W_x, W_h, b_h, W, b]`` for the vanilla RNN, ``[kernel, recurrent_kernel,
            bias, W, b]`` for the LSTM and GRU (see :func:`fast_rnn_variables`).
        x: ``(batch, T, F)`` float32 inputs; y: ``(batch, n_classes)`` one-hot labels.
        n_split: independent parts the batch is split into (1 = no split).
        cell: ``"rnn"`` (default), ``"lstm"`` or ``"gru"``.
    """
    if cell not in _HALF_FORWARD_BACKWARD:
        known = ", ".join(map(repr, _HALF_FORWARD_BACKWARD))
        raise ValueError(f"cell={cell!r}: the fast path knows {known}.")
    half = _HALF_FORWARD_BACKWARD[cell]
    batch = x.shape[0]
    batch_total = tf.cast(tf.shape(x)[0], tf.float32)
    if n_split > 1 and batch is not None and batch >= n_split:
        sizes = [batch // n_split + (1 if i < batch % n_split else 0) for i in range(n_split)]
        parts = [
            half(variables, xp, yp, batch_total)
            for xp, yp in zip(tf.split(x, sizes), tf.split(y, sizes), strict=True)
        ]
    else:
        parts = [half(variables, x, y, batch_total)]
    loss = tf.add_n([p[0] for p in parts]) / batch_total
    accuracy = tf.add_n([p[1] for p in parts]) / batch_total
    gradients = [tf.add_n([p[2][i] for p in parts]) for i in range(len(parts[0][2]))]
    if cell == "lstm":
        gradients = lstm_gradients_in_keras_order(gradients)
    return loss, accuracy, gradients


def fast_gradients(model: keras.Model, x_batch, y_batch, n_split: int = 2):
    """Loss and gradients of one batch, computed by hand: ``(loss, gradients)`` with the
    gradients in the order of ``model.trainable_variables`` (as ``tape.gradient`` returns
    them), so the two can be compared directly.

    Raises:
        ValueError: ``model`` is none of the networks of :func:`rnn_helpers.model.RNN`
            that the fast path knows (see :func:`fast_rnn_variables`).
    """
    cell, variables = _variables_of(model)
    x_batch, y_batch = tf.convert_to_tensor(x_batch, tf.float32), tf.convert_to_tensor(y_batch, tf.float32)
    loss, _, gradients = forward_backward(variables, x_batch, y_batch, n_split, cell)
    return loss, in_trainable_order(model, variables, gradients)


def make_fast_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer, n_split: int = 2):
    """The fast counterpart of :func:`rnn_helpers.training.make_train_step`.

    Returns a compiled function ``step(x_batch, y_batch) -> (loss, accuracy)`` that takes
    one optimiser step of ``model`` with the hand-written gradients of
    :func:`forward_backward`. Loss and accuracy are those of the batch before the update.

    Raises:
        ValueError: ``model`` is none of the networks of :func:`rnn_helpers.model.RNN`
            that the fast path knows (see :func:`fast_rnn_variables`).
    """
    cell, variables = _variables_of(model)
    trainable = list(model.trainable_variables)
    optimizer.build(trainable)  # Adam's moments must exist before the step is traced

    @tf.function
    def traced_step(x_batch, y_batch):
        # Read every weight once, up front: the update of a weight must never overtake a
        # read of it (the gradient of W, for instance, does not depend on reading W).
        weights = [tf.convert_to_tensor(v) for v in variables]
        loss, accuracy, gradients = forward_backward(weights, x_batch, y_batch, n_split, cell)
        gradients = in_trainable_order(model, variables, gradients)
        with tf.control_dependencies([loss, accuracy, *weights]):
            optimizer.apply_gradients(zip(gradients, trainable, strict=True))
        return loss, accuracy

    graphs: dict[tuple, Callable] = {}

    def step(x_batch, y_batch):
        # Each batch shape's traced graph is called directly, with the captured weights and
        # optimiser state passed as they are: calling a tf.function with NumPy arguments
        # spends about 0.15 ms matching them to a graph and flattening them, an eighth of a step.
        x_batch = tf.constant(x_batch, tf.float32)
        y_batch = tf.constant(y_batch, tf.float32)
        shapes = (tuple(x_batch.shape), tuple(y_batch.shape))
        if shapes not in graphs:
            graphs[shapes] = _direct_call(traced_step.get_concrete_function(x_batch, y_batch))
        return graphs[shapes](x_batch, y_batch)

    return step


def _direct_call(concrete) -> Callable:
    """``concrete(x, y)`` without the argument matching of a ``ConcreteFunction`` call.

    ``ConcreteFunction._call_flat`` (TensorFlow's own next step once the arguments are
    matched) takes the arguments already flattened, and saves about 45 microseconds a call;
    it is not public API, so without it the public call is used. ``tests/test_fast_rnn.py``
    checks that both give the same results.
    """
    call_flat = getattr(concrete, "_call_flat", None)
    if call_flat is None:
        return concrete
    captured = concrete.captured_inputs
    return lambda x_batch, y_batch: call_flat([x_batch, y_batch], captured)


def in_trainable_order(model: keras.Model, variables: list, gradients: list) -> list:
    """``gradients`` (one per entry of ``variables``) in the order of ``model.trainable_variables``."""
    by_variable = {id(v): g for v, g in zip(variables, gradients, strict=True)}
    return [by_variable[id(v)] for v in model.trainable_variables]


def _variables_of(model: keras.Model) -> tuple[str, list]:
    found = fast_rnn_variables(model)
    if found is None:
        raise ValueError(
            "The fast step only trains the plain vanilla RNN, LSTM or GRU built by rnn_helpers.model.RNN "
            "(cell='rnn', 'lstm' or 'gru', with Keras's default activations, no dropout, and for the GRU "
            "reset_after=True); use the plain train step for this model."
        )
    return found
