"""Building blocks every fast step shares: the time-major layout, column sums as a matmul,
the output layer's forward and backward pass, and the direct call of a traced graph.

Shapes: ``B`` examples in a part of a batch, ``T`` timesteps (rows), ``F`` features per
step (pixels per row), ``H`` hidden units, ``C`` classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf


def time_major(x):
    """``(B, T, F)`` -> ``(T*B, F)``, timestep by timestep: row ``t*B + i`` is example ``i`` at step ``t``."""
    return tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, x.shape[2]])


def column_sums(matrix):
    """``reduce_sum(matrix, 0)`` of an ``(N, K)`` matrix, shape ``(K,)``, as a ``(1, N) @ (N, K)``
    matmul: on a CPU several times faster than TensorFlow's column reduction for tall matrices."""
    return tf.matmul(tf.ones([1, tf.shape(matrix)[0]], matrix.dtype), matrix)[0]


def output_layer_forward_backward(h_last, W, b, y, batch_total):  # noqa: N803 (the tutorial's names)
    """The output layer ``logits = h_T @ W + b`` and its softmax cross-entropy, forward and back.

    Args:
        h_last: the last hidden state, ``(B, H)``.
        W, b: the output layer's weights ``(H, C)`` and bias ``(C,)``.
        y: one-hot labels ``(B, C)``.
        batch_total: the size of the whole batch (a scalar), when this part is one of several.

    Returns:
        ``(loss_sum, correct, dW, db, dh)``: the summed loss over this part and the number of
        correct answers (scalars), and the gradients of ``sum(loss) / batch_total`` with
        respect to ``W`` ``(H, C)``, ``b`` ``(C,)`` and ``h_last`` ``(B, H)``.
    """
    logits = tf.matmul(h_last, W) + b
    loss_sum = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1)), tf.float32))
    d_logits = (tf.nn.softmax(logits) - y) / batch_total  # (B, C)
    dW = tf.matmul(h_last, d_logits, transpose_a=True)
    db = tf.reduce_sum(d_logits, 0)
    dh = tf.matmul(d_logits, W, transpose_b=True)
    return loss_sum, correct, dW, db, dh


def in_trainable_order(trainable: Sequence, variables: Sequence, gradients: Sequence) -> list:
    """``gradients`` (one per entry of ``variables``) in the order of ``trainable`` (a model's
    ``trainable_variables``, the order an optimiser expects)."""
    by_variable = {id(v): g for v, g in zip(variables, gradients, strict=True)}
    return [by_variable[id(v)] for v in trainable]


def direct_call(concrete) -> Callable:
    """``concrete(x, y)`` without the argument matching of a ``ConcreteFunction`` call.

    ``ConcreteFunction._call_flat`` (TensorFlow's own next step once the arguments are
    matched) takes the arguments already flattened and saves about 45 microseconds a call.
    It is not public API: where it is missing, this says so once (a warning) and returns the
    public call. ``tests/test_fast_rnn.py`` checks that both give the same results.
    """
    call_flat = getattr(concrete, "_call_flat", None)
    if call_flat is None:
        import warnings

        warnings.warn(
            "TensorFlow's ConcreteFunction has no _call_flat any more: the fast step uses the public "
            "call, about 45 microseconds slower per batch (same results).",
            RuntimeWarning,
            stacklevel=2,
        )
        return concrete
    captured = concrete.captured_inputs
    return lambda x_batch, y_batch: call_flat([x_batch, y_batch], captured)
