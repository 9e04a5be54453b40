"""Look inside a trained vanilla RNN: its hidden state and its prediction, row by row.

Everything here reads the weights of a model built by :func:`rnn_helpers.model.RNN` and
recomputes the recurrence with NumPy in **one pass over the 28 rows**, keeping every
intermediate state ``h_1 .. h_28`` instead of only the last one::

    h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b_h)       (h_0 = 0)
    p_t = softmax(h_t @ W + b)                         the prediction after t rows

Applying the output layer to ``h_t`` answers "what would the network say if the image
stopped after row t?". That is 28 matrix products for the whole test set, not 28 model
calls on growing prefixes of the image.
"""

from __future__ import annotations

import keras
import numpy as np

from .model import vanilla_rnn_variables


def rnn_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """``W_x``, ``W_h``, ``b_h``, ``W``, ``b`` of a model from :func:`rnn_helpers.model.RNN`, as arrays.

    Raises:
        ValueError: the model is not the plain vanilla RNN (e.g. an LSTM or GRU cell).
    """
    variables = vanilla_rnn_variables(model)
    if variables is None:
        raise ValueError(
            "Only the vanilla RNN built by rnn_helpers.model.RNN(cell='rnn') can be looked inside."
        )
    return dict(
        zip(("W_x", "W_h", "b_h", "W", "b"), (np.asarray(v, np.float32) for v in variables), strict=True)
    )


def hidden_states(model: keras.Model, x: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """All hidden states ``h_1 .. h_T`` for images ``x`` ``(N, T, F)`` (or ``(N, T*F)``).

    Returns a float32 array ``(N, T, num_hidden_units)``; its last step equals the state
    the model classifies.
    """
    weights = rnn_weights(model)
    timesteps, features = model.input_shape[1:]
    x = np.asarray(x, dtype=np.float32).reshape(len(x), timesteps, features)
    units = weights["W_h"].shape[0]
    states = np.empty((len(x), timesteps, units), np.float32)
    for start in range(0, len(x), batch_size):
        chunk = x[start : start + batch_size]
        h = np.zeros((len(chunk), units), np.float32)
        for t in range(timesteps):
            h = np.tanh(chunk[:, t] @ weights["W_x"] + h @ weights["W_h"] + weights["b_h"])
            states[start : start + len(chunk), t] = h
    return states


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed stably."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def stepwise_probabilities(model: keras.Model, x: np.ndarray, states: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities after each row: ``(N, T, n_classes)``, from one pass over the rows.

    ``states`` may be passed when :func:`hidden_states` was already computed.
    """
    weights = rnn_weights(model)
    states = hidden_states(model, x) if states is None else states
    return softmax(states @ weights["W"] + weights["b"])


def accuracy_by_rows(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy if the network had to answer after ``k`` rows, for ``k = 1 .. T``.

    Args:
        probabilities: ``(N, T, n_classes)`` from :func:`stepwise_probabilities`.
        labels: integer ``(N,)`` or one-hot ``(N, n_classes)`` labels.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    return (probabilities.argmax(axis=2) == labels[:, None]).mean(axis=0)


def pca_2d(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project ``points`` ``(N, D)`` on their two principal components (NumPy SVD).

    Returns ``(projected (N, 2), explained variance ratio of the two components)``.
    """
    centred = points - points.mean(axis=0)
    _, singular_values, components = np.linalg.svd(centred, full_matrices=False)
    variance = singular_values**2
    return centred @ components[:2].T, variance[:2] / variance.sum()


def recurrent_spectrum(model: keras.Model) -> np.ndarray:
    """Eigenvalues (complex) of the recurrent matrix ``W_h``.

    Magnitudes above 1 let some directions of the state grow from step to step (and their
    gradients explode); well below 1, they fade (and gradients vanish).
    """
    return np.linalg.eigvals(rnn_weights(model)["W_h"].astype(np.float64))


def decision_rows(probabilities: np.ndarray) -> np.ndarray:
    """For each image, the number of rows after which the predicted class never changes again.

    Returns integers in ``1 .. T``: 1 means the first row's answer was already the final
    one; ``T`` means the answer changed at the very last row.
    """
    answers = probabilities.argmax(axis=2)  # (N, T)
    differs = answers != answers[:, -1:]
    timesteps = answers.shape[1]
    # last row whose answer differs from the final one, plus one (0 when none differs)
    last_different = np.where(differs.any(axis=1), timesteps - np.argmax(differs[:, ::-1], axis=1), 0)
    return last_different + 1
