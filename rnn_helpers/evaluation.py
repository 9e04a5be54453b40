"""Evaluate a model on a whole dataset, in large batches, and summarise its predictions."""

from __future__ import annotations

import keras
import numpy as np


def predict_logits(model: keras.Model, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Logits of ``model`` for every example of ``x``, computed ``batch_size`` at a time.

    Returns a float32 array ``(len(x), n_classes)``.
    """
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    # predict_on_batch runs the model's compiled prediction function (built once, kept
    # with the model) directly on arrays, without a tf.data pipeline.
    chunks = [model.predict_on_batch(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return np.concatenate(chunks).astype(np.float32, copy=False)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example cross-entropy between ``softmax(logits)`` and one-hot ``labels`` (float64)."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    log_probabilities = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(labels * log_probabilities).sum(axis=1)


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on all of ``x`` (one-hot ``y``).

    Returns ``(loss, accuracy)`` as Python floats; accuracy is a fraction in [0, 1].
    """
    if len(x) == 0:
        raise ValueError("Cannot evaluate on an empty set.")
    logits = predict_logits(model, x, batch_size)
    loss = float(softmax_cross_entropy(logits, y).mean())
    accuracy = float(np.mean(logits.argmax(axis=1) == y.argmax(axis=1)))
    return loss, accuracy


def confusion_matrix(cls_true: np.ndarray, cls_pred: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """``counts[i, j]`` = how many examples of true class ``i`` were predicted as ``j``."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(cls_true), np.asarray(cls_pred)), 1)
    return counts
