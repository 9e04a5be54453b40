"""Backpropagation through time for the gated cells, Keras's ``LSTM`` and ``GRU``, written out by hand.

The same technique as :mod:`rnn_helpers.fast.rnn` uses for the vanilla RNN, applied to
the two gated layers that :func:`rnn_helpers.model.RNN` builds with ``cell="lstm"`` and
``cell="gru"``:

* the input projection of all timesteps is one ``(T*B, F) @ (F, nH)`` matmul (``n = 4``
  gates for the LSTM, 3 for the GRU), bias included;
* the recurrence is unrolled into a flat graph of 28 small steps, one
  ``(B, H) @ (H, nH)`` matmul and a handful of element-wise operations each;
* going back in time, each step carries ``dh`` (and the LSTM's ``dc``) through one matmul
  with the transposed recurrent kernel and the gates' derivatives: for the GRU a few
  element-wise products, whose factors that do not depend on the incoming gradient are
  computed for all timesteps at once, in large operations, before that loop; for the LSTM
  TensorFlow's fused ``LSTMBlockCellGrad`` operation, which does the element-wise part of
  a step in one go (its gates come in the order ``i, c, f, o``; the weight gradients are
  put back in Keras's order once per batch);
* the weight gradients are one large matmul each over all timesteps (the bias gradients
  too: a column sum is a matmul with a row of ones).

Keras's equations (``keras.layers.LSTMCell`` / ``GRUCell``, ``implementation=2``), gate
order as in their kernels. LSTM, gates ``i, f, c, o``::

    z = x_t @ K + h_{t-1} @ R + b
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_c)
    c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)

GRU with ``reset_after=True`` (Keras's default), gates ``z, r, h``, bias ``[b_in, b_rec]``::

    x = x_t @ K + b_in;  inner = h_{t-1} @ R + b_rec
    z, r = sigmoid(x_z + inner_z), sigmoid(x_r + inner_r)
    hh = tanh(x_h + r * inner_h);  h_t = z * h_{t-1} + (1 - z) * hh

Both start from ``h_0 = c_0 = 0``, so the first step skips ``h_0 @ R``. The GRU's older
``reset_after=False`` form (reset gate applied before the recurrent matmul) is not written
out here: such a layer trains with the plain step.

Each function below handles one part of a batch (shapes: ``B`` examples, ``T`` steps,
``F`` features, ``H`` units, ``C`` classes; ``x`` is ``(B, T, F)``, ``y`` one-hot ``(B, C)``);
:func:`rnn_helpers.fast.step.forward_backward` splits the batch into independent parts and
adds up their gradients.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .common import column_sums, output_layer_forward_backward, time_major


def lstm_part_forward_backward(variables, x, y, batch_total):
    """Loss sum, correct count and gradients of ``sum(loss) / batch_total`` for one part of
    a batch through Keras's ``LSTM``: ``(loss_sum, correct, (dK, dR, db_rnn, dW, db))``,
    the first three with their gate columns in the order ``i, c, f, o``
    (:func:`lstm_gradients_in_keras_order` puts them back)."""
    K, R, bias, W, b = variables
    T = x.shape[1]
    H = R.shape[0]
    part = tf.shape(x)[0]
    x_time_major = time_major(x)
    projected = tf.unstack(tf.reshape(tf.matmul(x_time_major, K) + bias, [T, part, 4 * H]))

    gates_i, gates_f, gates_g, gates_o, cells, cells_tanh, states = [], [], [], [], [], [], []
    for t in range(T):
        z = projected[t] if t == 0 else projected[t] + tf.matmul(states[-1], R)
        z_i, z_f, z_g, z_o = tf.split(z, 4, axis=1)
        i, f, g, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_g), tf.sigmoid(z_o)
        c = i * g if t == 0 else f * cells[-1] + i * g  # c_0 = 0
        c_tanh = tf.tanh(c)
        states.append(o * c_tanh)
        for store, value in zip(
            (gates_i, gates_f, gates_g, gates_o, cells, cells_tanh), (i, f, g, o, c, c_tanh), strict=True
        ):
            store.append(value)
    loss_sum, correct, dW, db, dh = output_layer_forward_backward(states[-1], W, b, y, batch_total)

    # Going back, one step is TensorFlow's fused LSTMBlockCellGrad (the element-wise part in
    # one operation; it writes its gates in the order i, c, f, o) and one matmul. With dc_t
    # the gradient reaching c_t, it computes the pre-activation gradients
    #   dz_i = dc * g * i(1-i),  dz_f = dc * c_{t-1} * f(1-f),  dz_g = dc * i * (1-g^2),
    #   dz_o = dh * tanh(c) * o(1-o),  where dc = dc_{t+1} * f_{t+1} + dh * o * (1 - tanh(c)^2).
    R_icfo_T = tf.gather(tf.transpose(R), _icfo(H))  # rows, which are cheaper to gather than columns
    # the operation checks the shapes of the input, the weights and the bias, and reads nothing else of them
    unused_x = tf.zeros([part, x.shape[2]])
    unused_w, unused_b = tf.zeros([x.shape[2] + H, 4 * H]), tf.zeros([4 * H])
    no_peephole = tf.zeros([H])
    zeros = tf.zeros_like(states[0])
    dz = [None] * T
    dc_carry = zeros
    for t in range(T - 1, -1, -1):
        dc_carry, dz[t], _, _, _ = tf.raw_ops.LSTMBlockCellGrad(
            x=unused_x, cs_prev=cells[t - 1] if t > 0 else zeros, h_prev=states[t - 1] if t > 0 else zeros,
            w=unused_w, wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=unused_b,
            i=gates_i[t], cs=cells[t], f=gates_f[t], o=gates_o[t], ci=gates_g[t], co=cells_tanh[t],
            cs_grad=dc_carry, h_grad=dh, use_peephole=False,
        )  # fmt: skip
        if t > 0:  # the gradients reaching h_0 and c_0 are never used
            dh = tf.matmul(dz[t], R_icfo_T)
    DZ = tf.stack(dz)  # (T, part, 4H), gates i, c, f, o
    DZ_flat = tf.reshape(DZ, [-1, 4 * H])
    dK = tf.matmul(x_time_major, DZ_flat, transpose_a=True)
    # dR = sum_t h_{t-1}^T dz_t; with h_0 = 0 only t = 2..T contribute
    H_all = tf.stack(states)
    dR = tf.matmul(tf.reshape(H_all[:-1], [-1, H]), tf.reshape(DZ[1:], [-1, 4 * H]), transpose_a=True)
    d_bias = column_sums(DZ_flat)
    return loss_sum, correct, (dK, dR, d_bias, dW, db)


def _icfo(units: int) -> np.ndarray:
    """The columns of an ``i, f, c, o`` gate layout in the order ``i, c, f, o`` (and back)."""
    return np.concatenate([np.arange(gate * units, (gate + 1) * units) for gate in (0, 2, 1, 3)])


def lstm_gradients_in_keras_order(gradients: list) -> list:
    """The gradients of :func:`lstm_part_forward_backward` (added up over the parts of a
    batch) with the kernel's, recurrent kernel's and bias's columns put back in Keras's
    gate order ``i, f, c, o``: once per batch, rather than once per part."""
    dK, dR, d_bias, dW, db = gradients
    icfo = _icfo(dR.shape[0])
    return [*(tf.gather(g, icfo, axis=-1) for g in (dK, dR, d_bias)), dW, db]


def gru_part_forward_backward(variables, x, y, batch_total):
    """Loss sum, correct count and gradients of ``sum(loss) / batch_total`` for one part of
    a batch through Keras's ``GRU(reset_after=True)``: ``(loss_sum, correct, (dK, dR,
    d_bias, dW, db))``, ``d_bias`` shaped ``(2, 3H)`` like the layer's bias."""
    K, R, bias, W, b = variables
    T = x.shape[1]
    H = R.shape[0]
    part = tf.shape(x)[0]
    b_in, b_rec = bias[0], bias[1]
    x_time_major = time_major(x)
    projected = tf.reshape(tf.matmul(x_time_major, K) + b_in, [T, part, 3 * H])
    x_zr, x_h = tf.split(projected, [2 * H, H], axis=-1)
    x_zr, x_h = tf.unstack(x_zr), tf.unstack(x_h)

    gates_z, gates_r, candidates, inners_h, states = [], [], [], [], []
    for t in range(T):
        if t == 0:  # h_0 = 0: the recurrent projection is its bias alone
            inner_zr = b_rec[: 2 * H]
            inner_h = tf.broadcast_to(b_rec[2 * H :], [part, H])
        else:
            inner = tf.nn.bias_add(tf.matmul(states[-1], R), b_rec)
            inner_zr, inner_h = tf.split(inner, [2 * H, H], axis=1)
        z, r = tf.split(tf.sigmoid(x_zr[t] + inner_zr), 2, axis=1)
        hh = tf.tanh(x_h[t] + r * inner_h)
        states.append((1 - z) * hh if t == 0 else hh + z * (states[-1] - hh))
        for store, value in zip((gates_z, gates_r, candidates, inners_h), (z, r, hh, inner_h), strict=True):
            store.append(value)
    loss_sum, correct, dW, db, dh = output_layer_forward_backward(states[-1], W, b, y, batch_total)

    # With dh_t the gradient reaching h_t, the pre-activation gradients are
    #   da_h = dh * (1-z)(1-hh^2)           (of x_h + r * inner_h)
    #   da_z = dh * (h_{t-1} - hh) z(1-z),  da_r = da_h * inner_h r(1-r),  d inner_h = da_h * r
    # and dh_{t-1} = dh * z + [da_z, da_r, d inner_h] @ R^T. The factors, for all timesteps:
    Z, Rg, HH, Inner_h = (tf.stack(v) for v in (gates_z, gates_r, candidates, inners_h))
    H_all = tf.stack(states)
    H_prev = tf.concat([tf.zeros_like(H_all[:1]), H_all[:-1]], 0)
    to_candidate = tf.unstack((1 - Z) * (1 - HH * HH))
    factors = tf.unstack(tf.concat([(H_prev - HH) * Z * (1 - Z), Inner_h * Rg * (1 - Rg), Rg], -1))
    carry = tf.unstack(Z)

    d_inner = [None] * T
    d_candidate = [None] * T
    for t in range(T - 1, -1, -1):
        da_h = dh * to_candidate[t]
        d_candidate[t] = da_h
        d_inner[t] = tf.concat([dh, da_h, da_h], 1) * factors[t]
        if t > 0:  # the gradient reaching h_0 is never used
            dh = dh * carry[t] + tf.matmul(d_inner[t], R, transpose_b=True)
    D_inner = tf.stack(d_inner)  # (T, part, 3H): gradient of h_{t-1} @ R + b_rec
    D_inner_flat = tf.reshape(D_inner, [-1, 3 * H])
    # the input projection's gradient: the same for z and r, da_h for the candidate
    D_in_flat = tf.reshape(tf.concat([D_inner[..., : 2 * H], tf.stack(d_candidate)], -1), [-1, 3 * H])
    dK = tf.matmul(x_time_major, D_in_flat, transpose_a=True)
    # dR = sum_t h_{t-1}^T d inner_t; with h_0 = 0 only t = 2..T contribute
    dR = tf.matmul(tf.reshape(H_all[:-1], [-1, H]), tf.reshape(D_inner[1:], [-1, 3 * H]), transpose_a=True)
    d_bias = tf.stack([column_sums(D_in_flat), column_sums(D_inner_flat)])
    return loss_sum, correct, (dK, dR, d_bias, dW, db)
