"""The fast training path of the LSTM and the GRU computes exactly what Keras computes.

(Training step by step against the plain step, for all three cells: tests/test_fast_rnn.py;
the gradients in the order of the trainable variables, for all three cells: here.)
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import batch
from rnn_helpers import fast
from rnn_helpers.fast import forward_backward
from rnn_helpers.model import RNN, OutputLayer, gated_rnn_variables, rnn_variables
from rnn_helpers.training import make_train_step, train

LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def moved_model(cell, units, seed):
    """``RNN(cell=...)`` (any of the three cells) with every weight moved off its initial
    value (the GRU's recurrent bias, for one, starts at zero), so that every term of the
    gradient counts."""
    model = RNN(num_hidden_units=units, seed=seed, cell=cell)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def keras_reference(model, cell):
    """A plain Keras LSTM / GRU + Dense model holding the same weights as ``model``."""
    timesteps, features = model.input_shape[1:]
    units = model.get_layer("rnn").units
    classes = model.output_shape[-1]
    reference = keras.Sequential(
        [keras.Input((timesteps, features)), LAYERS[cell](units), keras.layers.Dense(classes)]
    )
    reference.set_weights(model.get_weights())
    return reference


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("n,n_split", [(20, 1), (20, 2), (7, 2), (9, 3)])
def test_outputs_and_gradients_match_keras(cell, n, n_split):
    model = moved_model(cell, 32, seed=n)
    x, y = batch(n, seed=n_split)
    reference = keras_reference(model, cell)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        logits = reference(x)
        expected_loss = loss_fn(y, logits)
    expected_grads = tape.gradient(expected_loss, reference.trainable_variables)
    found, variables = rnn_variables(model)
    assert found == cell
    loss, accuracy, grads = forward_backward(cell, variables, tf.constant(x), tf.constant(y), n_split)
    np.testing.assert_allclose(float(loss), float(expected_loss), rtol=1e-6)
    expected_accuracy = np.mean(np.argmax(logits, 1) == np.argmax(y, 1))
    assert float(accuracy) == pytest.approx(expected_accuracy)
    assert len(grads) == len(expected_grads) == 5
    for got, want in zip(grads, expected_grads, strict=True):
        want = np.asarray(want)
        assert got.shape == want.shape
        scale = np.abs(want).max()
        assert scale > 0
        np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=2e-6 * scale)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_fast_gradients_come_in_the_order_of_the_trainable_variables(cell):
    model = moved_model(cell, 12, seed=4)
    x, y = batch(10, seed=4)
    with tf.GradientTape() as tape:
        expected_loss = keras.losses.CategoricalCrossentropy(from_logits=True)(y, model(x))
    expected = tape.gradient(expected_loss, model.trainable_variables)
    found, variables = rnn_variables(model)
    loss, gradients = fast.gradients(found, variables, model.trainable_variables, x, y)
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-6)
    for got, want in zip(gradients, expected, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-6 * np.abs(want).max())


def test_an_unknown_cell_is_refused():
    model = moved_model("gru", 8, seed=1)
    x, y = batch(6)
    _, variables = rnn_variables(model)
    with pytest.raises(ValueError, match="the fast step knows 'rnn', 'lstm', 'gru'"):
        forward_backward("transformer", variables, tf.constant(x), tf.constant(y), 2)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_fast_trained_model_saves_and_reloads_as_a_keras_model(cell, tmp_path):
    model = RNN(num_hidden_units=16, seed=7, cell=cell)
    x, y = batch(60, seed=7)
    before = model.get_weights()
    train(model, x, y, x[:20], y[:20], epochs=1, batch_size=20, seed=1, fast=True, log=None)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded.get_layer("rnn"), LAYERS[cell])
    assert isinstance(reloaded.get_layer("output"), OutputLayer)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))
    assert rnn_variables(reloaded)[0] == cell  # and can be trained further, fast


@pytest.mark.parametrize(
    "layer",
    [
        keras.layers.GRU(8, reset_after=False),
        keras.layers.LSTM(8, dropout=0.1),
        keras.layers.GRU(8, recurrent_dropout=0.1),
        keras.layers.LSTM(8, activation="relu"),
        keras.layers.GRU(8, recurrent_activation="hard_sigmoid"),
        keras.layers.LSTM(8, use_bias=False),
        keras.layers.GRU(8, go_backwards=True),
    ],
    ids=["gru-reset-before", "lstm-dropout", "gru-recurrent-dropout", "lstm-relu", "gru-hard-sigmoid",
         "lstm-no-bias", "gru-backwards"],
)  # fmt: skip
def test_other_gated_layers_take_the_plain_step(layer):
    inputs = keras.Input((28, 28))
    model = keras.Model(inputs, OutputLayer(10, name="output")(layer(inputs)))
    assert gated_rnn_variables(model) is None and rnn_variables(model) is None
    optimizer = keras.optimizers.Adam()
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    make_train_step(model, optimizer, loss_fn)  # the plain step trains it
    with pytest.raises(ValueError, match="use fast=False for this model"):
        make_train_step(model, optimizer, loss_fn, fast=True)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_cell_of_the_tutorial_takes_the_fast_step(cell):
    model = RNN(num_hidden_units=8, cell=cell)
    assert rnn_variables(model)[0] == cell
    x, y = batch(8)
    step = make_train_step(
        model, keras.optimizers.Adam(), keras.losses.CategoricalCrossentropy(True), fast=True
    )
    loss, accuracy, norm = step(x, y)
    assert np.isfinite(float(loss)) and 0 <= float(accuracy) <= 1 and float(norm) > 0
