"""Looking inside the RNN: per-row states and predictions, early-exit accuracy, PCA, spectrum."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from rnn_helpers.inside import (
    accuracy_by_rows,
    hidden_states,
    pca_2d,
    recurrent_spectrum,
    rnn_weights,
    stepwise_probabilities,
)
from rnn_helpers.model import RNN
from rnn_helpers.plotting import (
    plot_accuracy_by_rows,
    plot_hidden_state,
    plot_prediction_over_rows,
    plot_projection,
    plot_spectrum,
)


@pytest.fixture(scope="module")
def model():
    m = RNN(timesteps=28, num_input=28, num_hidden_units=16, n_classes=10, seed=0)
    # make the output layer non-trivial so that probabilities differ between rows
    out = m.get_layer("output")
    out.W.assign(np.random.default_rng(0).normal(size=(16, 10)).astype(np.float32))
    return m


X = np.random.default_rng(1).random((50, 28, 28), dtype=np.float32)


def test_hidden_states_end_where_the_model_ends(model):
    states = hidden_states(model, X, batch_size=7)  # several chunks, the last one partial
    assert states.shape == (50, 28, 16) and states.dtype == np.float32
    w = rnn_weights(model)
    np.testing.assert_allclose(states[:, -1] @ w["W"] + w["b"], np.asarray(model(X)), rtol=1e-4, atol=1e-5)
    # the state after k rows is the final state of the image cut after k rows
    prefix = keras.Sequential([keras.Input((5, 28)), keras.layers.SimpleRNN(16)])
    prefix.set_weights(model.get_layer("rnn").get_weights())
    np.testing.assert_allclose(states[:, 4], np.asarray(prefix(X[:, :5])), rtol=1e-4, atol=1e-5)
    assert np.array_equal(hidden_states(model, X.reshape(50, 784)), hidden_states(model, X))


def test_stepwise_probabilities_and_early_accuracy(model):
    probabilities = stepwise_probabilities(model, X)
    assert probabilities.shape == (50, 28, 10)
    np.testing.assert_allclose(probabilities.sum(axis=2), 1.0, rtol=1e-5)
    final = probabilities[:, -1].argmax(1)
    np.testing.assert_array_equal(final, np.asarray(model(X)).argmax(1))
    accuracy = accuracy_by_rows(probabilities, final)  # "labels" = the final answers
    assert accuracy.shape == (28,) and accuracy[-1] == 1.0
    one_hot = np.eye(10)[final]
    np.testing.assert_array_equal(accuracy_by_rows(probabilities, one_hot), accuracy)
    same = stepwise_probabilities(model, X, states=hidden_states(model, X))
    np.testing.assert_array_equal(same, probabilities)


def test_accuracy_by_rows_counts_correct_answers():
    probabilities = np.zeros((4, 2, 3))
    probabilities[:, 0, 0] = 1  # after row 1 everyone says class 0
    probabilities[[0, 1, 2], 1, [0, 1, 2]] = 1  # after row 2 they say 0, 1, 2 and 0
    probabilities[3, 1, 0] = 1
    np.testing.assert_allclose(accuracy_by_rows(probabilities, np.array([0, 1, 2, 2])), [0.25, 0.75])


def test_pca_2d_finds_the_main_directions():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 5)) * np.array([10.0, 3.0, 0.1, 0.1, 0.1])
    projected, ratio = pca_2d(points)
    assert projected.shape == (500, 2)
    assert ratio[0] > 0.85 and ratio[1] > 0.05 and ratio.sum() > 0.99
    np.testing.assert_allclose(np.abs(np.corrcoef(projected[:, 0], points[:, 0])[0, 1]), 1.0, atol=1e-3)


def test_recurrent_spectrum(model):
    eigenvalues = recurrent_spectrum(model)
    assert eigenvalues.shape == (16,)
    # Keras initialises W_h as an orthogonal matrix: every eigenvalue on the unit circle
    np.testing.assert_allclose(np.abs(eigenvalues), 1.0, atol=1e-5)


def test_plots(model):
    probabilities = stepwise_probabilities(model, X[:3])
    states = hidden_states(model, X[: 200 // 4])
    figures = [
        plot_prediction_over_rows(X[:3], probabilities, [1, 2, 3]),
        plot_accuracy_by_rows(np.linspace(0.1, 0.9, 28)),
        plot_hidden_state(states[0], X[0]),
        plot_projection(pca_2d(states[:, -1])[0], np.arange(50) % 10, [f"c{i}" for i in range(10)]),
        plot_spectrum({"before": recurrent_spectrum(model), "after": 0.5 * recurrent_spectrum(model)}),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in figures[0].axes]
    assert "true: 1" in titles and any("final answer" in t for t in titles)
    legend = [t.get_text() for t in figures[4].axes[0].get_legend().get_texts()]
    assert legend[1].startswith("before (largest |λ| = 1.00)") and "0.50" in legend[2]


def test_decision_rows():
    from rnn_helpers.inside import decision_rows

    answers = np.array([[0, 0, 0, 0], [1, 0, 1, 0], [2, 2, 2, 1], [3, 1, 1, 1]])
    probabilities = np.eye(4)[answers]  # (4 images, 4 rows, 4 classes)
    assert decision_rows(probabilities).tolist() == [1, 4, 4, 2]


def test_only_the_vanilla_rnn_can_be_looked_inside():
    with pytest.raises(ValueError, match="Only the vanilla RNN"):
        hidden_states(RNN(num_hidden_units=4, cell="gru"), X[:2])
