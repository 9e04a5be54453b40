"""The fast training path computes exactly what Keras computes, only faster."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnn_helpers.fast.step as fast_step
from conftest import batch
from rnn_helpers.fast import forward_backward
from rnn_helpers.model import RNN, rnn_variables, vanilla_rnn_variables
from rnn_helpers.runs.startup import configure_cpu_threads
from rnn_helpers.training import make_train_step, train

LOSS = keras.losses.CategoricalCrossentropy(from_logits=True)


def keras_reference(model):
    """A plain keras SimpleRNN + Dense model holding the same weights as ``model``."""
    timesteps, features = model.input_shape[1:]
    units = model.get_layer("rnn").units
    classes = model.output_shape[-1]
    reference = keras.Sequential(
        [keras.Input((timesteps, features)), keras.layers.SimpleRNN(units), keras.layers.Dense(classes)]
    )
    reference.set_weights(model.get_weights())
    return reference


@pytest.mark.parametrize("n,n_split", [(20, 1), (20, 2), (7, 2), (9, 3)])
def test_outputs_and_gradients_match_keras_simple_rnn(n, n_split):
    model = RNN(num_hidden_units=32, seed=0)
    x, y = batch(n)
    reference = keras_reference(model)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        logits = reference(x)
        expected_loss = loss_fn(y, logits)
    expected_grads = tape.gradient(expected_loss, reference.trainable_variables)
    variables = vanilla_rnn_variables(model)
    loss, accuracy, grads = forward_backward("rnn", variables, tf.constant(x), tf.constant(y), n_split)
    np.testing.assert_allclose(float(loss), float(expected_loss), rtol=1e-6)
    expected_accuracy = np.mean(np.argmax(logits, 1) == np.argmax(y, 1))
    assert float(accuracy) == pytest.approx(expected_accuracy)
    for got, want in zip(grads, expected_grads, strict=True):
        want = np.asarray(want)
        scale = np.abs(want).max()
        assert scale > 0
        np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=2e-6 * scale)


def test_forward_matches_the_model_output():
    model = RNN(num_hidden_units=16, seed=1)
    x, y = batch(5)
    logits = np.asarray(model(x))
    loss, _, _ = forward_backward("rnn", vanilla_rnn_variables(model), tf.constant(x), tf.constant(y))
    expected = -np.mean(np.sum(y * (logits - np.log(np.exp(logits).sum(1, keepdims=True))), axis=1))
    assert float(loss) == pytest.approx(expected, rel=1e-5)


ADAM = lambda: keras.optimizers.Adam(0.003)  # noqa: E731
ADAM_COSINE_CLIPNORM = lambda: keras.optimizers.Adam(  # noqa: E731
    keras.optimizers.schedules.CosineDecay(0.003, 30), clipnorm=0.5
)
SGD_MOMENTUM = lambda: keras.optimizers.SGD(0.05, momentum=0.9)  # noqa: E731


@pytest.mark.parametrize(
    "cell,make_optimizer",
    [
        ("rnn", ADAM),
        ("rnn", ADAM_COSINE_CLIPNORM),
        ("rnn", SGD_MOMENTUM),
        ("lstm", ADAM),
        ("lstm", ADAM_COSINE_CLIPNORM),
        ("gru", ADAM),
        ("gru", ADAM_COSINE_CLIPNORM),
    ],
    ids=["rnn-adam", "rnn-adam-cosine-clipnorm", "rnn-sgd-momentum", "lstm-adam", "lstm-adam-cosine-clipnorm",
         "gru-adam", "gru-adam-cosine-clipnorm"],
)  # fmt: skip
def test_fast_training_follows_the_plain_training_step_by_step(cell, make_optimizer):
    """Same initial weights, optimiser and batch order: the same training, step by step.

    (This also catches a weight update overtaking a read of that weight within a step.)
    """
    x, y = batch(200, seed=3)
    results = {}
    initial = RNN(num_hidden_units=24, seed=2, cell=cell).get_weights()
    for fast in (True, False):
        model = RNN(num_hidden_units=24, seed=2, cell=cell)
        model.set_weights(initial)
        optimizer = make_optimizer()
        history = train(
            model, x, y, x[:40], y[:40], epochs=3, batch_size=20, display_freq=4, seed=5,
            optimizer=optimizer, fast=fast, log=None,
        )  # fmt: skip
        results[fast] = (history, model.get_weights())
    (fast_history, fast_weights), (plain_history, plain_weights) = results[True], results[False]
    # the weights did move: 30 steps of training happened
    assert max(np.abs(a - b).max() for a, b in zip(fast_weights, initial, strict=True)) > 1e-3
    # the two paths compute the same gradients in a different order of float32 operations:
    # after 30 steps they agree to rounding, and no prediction has flipped
    np.testing.assert_allclose(fast_history.train_loss, plain_history.train_loss, rtol=1e-4)
    np.testing.assert_allclose(fast_history.train_accuracy, plain_history.train_accuracy, rtol=1e-4)
    np.testing.assert_allclose(fast_history.val_loss, plain_history.val_loss, rtol=1e-4)
    # Adam moves every weight by about its learning rate (0.003) a step, whatever the size of
    # the gradient, so a float32 rounding difference in a gradient near zero can move a weight
    # by a small part of a step: allowed, a thousandth of one step (3e-6)
    for a, b in zip(fast_weights, plain_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=max(2e-5 * np.abs(b).max(), 1e-3 * 0.003))
    fast_logged, plain_logged = fast_history.logged, plain_history.logged
    assert [e["iteration"] for e in fast_logged] == [e["iteration"] for e in plain_logged] == [0, 4, 8] * 3
    np.testing.assert_allclose([e["loss"] for e in fast_logged], [e["loss"] for e in plain_logged], rtol=1e-4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_direct_call_of_the_fast_step_is_the_public_call(cell, monkeypatch):
    """The step calls its traced graph through ``direct_call`` (TensorFlow's flat call);
    the public ``ConcreteFunction`` call, its fallback, must train identically, also when
    the batch size changes (a second graph) and when given float64 NumPy arrays."""
    assert hasattr(tf.function(lambda: 0).get_concrete_function(), "_call_flat")  # the direct path is tested
    x, y = batch(70, seed=4)
    initial = RNN(num_hidden_units=16, seed=1, cell=cell).get_weights()
    runs = {}
    for direct in (True, False):
        if not direct:
            monkeypatch.setattr(fast_step, "direct_call", lambda concrete: concrete)
        model = RNN(num_hidden_units=16, seed=1, cell=cell)
        model.set_weights(initial)
        step = make_train_step(model, keras.optimizers.Adam(0.01), LOSS, fast=True)
        outputs = [step(x[:30], y[:30]), step(x[30:60].astype(np.float64), y[30:60]), step(x[60:], y[60:])]
        runs[direct] = ([float(v) for triple in outputs for v in triple], model.get_weights())
    (direct_out, direct_weights), (public_out, public_weights) = runs[True], runs[False]
    assert direct_out == public_out
    for a, b in zip(direct_weights, public_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert max(np.abs(a - b).max() for a, b in zip(direct_weights, initial, strict=True)) > 1e-3


def test_only_the_plain_vanilla_rnn_takes_the_fast_path():
    assert vanilla_rnn_variables(RNN(num_hidden_units=8)) is not None
    lstm = keras.Sequential([keras.Input((28, 28)), keras.layers.LSTM(8), keras.layers.Dense(10)])
    assert vanilla_rnn_variables(lstm) is None
    dropout = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.SimpleRNN(8, dropout=0.1), keras.layers.Dense(10)]
    )
    assert vanilla_rnn_variables(dropout) is None and rnn_variables(lstm) is None
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="only trains the plain vanilla RNN"):
        make_train_step(lstm, optimizer, LOSS, fast=True)
    x, y = batch(30)
    history = train(lstm, x, y, x, y, epochs=1, batch_size=10, log=None)  # the plain step trains it
    assert np.isfinite(history.train_loss[0]) and 0 <= history.train_accuracy[0] <= 1


def test_threads_cannot_change_once_tensorflow_runs():
    tf.constant(1.0) + 1.0  # TensorFlow is running by now
    assert configure_cpu_threads() is False


def test_without_the_flat_call_the_fast_step_says_so_and_uses_the_public_call():
    from rnn_helpers.fast.common import direct_call

    class Public:  # a ConcreteFunction of a TensorFlow without _call_flat
        def __call__(self, x, y):
            return x + y

    with pytest.warns(RuntimeWarning, match="has no _call_flat any more"):
        call = direct_call(Public())
    assert call(1, 2) == 3
