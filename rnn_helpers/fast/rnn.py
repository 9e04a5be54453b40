"""Backpropagation through time for the vanilla RNN, written out for speed.

The network (``SimpleRNN`` with a tanh, then the tutorial's output layer)::

    h_0 = 0
    h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b_h)        for t = 1 .. T
    logits = h_T @ W + b
    loss = mean over the batch of softmax_cross_entropy(y, logits)

and its gradients, going back in time from ``dh_T = d loss / d h_T``::

    da_t = dh_t * (1 - h_t**2)          the gradient of the pre-activation (tanh's derivative)
    dh_{t-1} = da_t @ W_h.T
    dW_x = sum_t x_t.T @ da_t,  dW_h = sum_t h_{t-1}.T @ da_t,  db_h = sum_t da_t (over the batch too)

What makes it fast (notebook 06 derives it step by step and measures it): the input
projection of all ``T`` steps is **one** ``(T*B, F) @ (F, H)`` matmul, and each weight
gradient is **one** large matmul over all steps instead of ``T`` small ones; the 28 steps
are unrolled into a flat graph; two products known to be zero are skipped (``h_0 @ W_h``
and the unused ``dh_0``). Nothing else is left out.
"""

from __future__ import annotations

import tensorflow as tf

from .common import column_sums, output_layer_forward_backward, time_major


def rnn_part_forward_backward(weights, x, y, batch_total):
    """Forward and backward pass of the vanilla RNN for one part of a batch.

    Args:
        weights: ``[W_x (F, H), W_h (H, H), b_h (H,), W (H, C), b (C,)]`` as tensors.
        x: inputs ``(B, T, F)``; y: one-hot labels ``(B, C)``.
        batch_total: the size of the whole batch this part belongs to (a scalar).

    Returns:
        ``(loss_sum, correct, (dW_x, dW_h, db_h, dW, db))``: the summed loss and correct
        count over this part, and the gradients of ``sum(loss) / batch_total``, each of the
        shape of its weight.
    """
    W_x, W_h, b_h, W, b = weights
    T = x.shape[1]
    H = W_h.shape[0]
    part = tf.shape(x)[0]
    x_time_major = time_major(x)  # (T*B, F)
    # one (B, H) tensor per timestep, split off in one operation
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
    H_all = tf.stack(states)  # (T, B, H): h_1 .. h_T
    DA = tf.stack(d_pre)  # (T, B, H)
    DA_flat = tf.reshape(DA, [-1, H])  # (T*B, H)
    dW_x = tf.matmul(x_time_major, DA_flat, transpose_a=True)
    # dW_h = sum_t h_{t-1}^T da_t; with h_0 = 0 only t = 2..T contribute
    dW_h = tf.matmul(tf.reshape(H_all[:-1], [-1, H]), tf.reshape(DA[1:], [-1, H]), transpose_a=True)
    db_h = column_sums(DA_flat)
    return loss_sum, correct, (dW_x, dW_h, db_h, dW, db)
