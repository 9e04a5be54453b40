"""The vanilla RNN of the tutorial, built from Keras 3 pieces.

The original (TensorFlow 1) built it from ``tf.get_variable`` calls and
``tf.contrib.rnn.BasicRNNCell`` unrolled by ``static_rnn``. Here:

* :func:`weight_variable` and :func:`bias_variable` create the output layer's variables
  with the original's initialisers (truncated normal, stddev 0.01; zeros);
* :class:`OutputLayer` is the original's ``tf.matmul(current_state, W) + b``;
* :func:`RNN` wires ``keras.layers.SimpleRNN`` (the same tanh recurrence as
  ``BasicRNNCell``) to that output layer and returns a ``keras.Model`` that maps
  ``(batch, timesteps, num_input)`` images to ``(batch, n_classes)`` logits.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
from keras import ops


def weight_variable(shape: tuple[int, ...], name: str = "W", seed: int | None = None) -> keras.Variable:
    """A weight variable drawn from a truncated normal with stddev 0.01, as in the original.

    Args:
        shape: e.g. ``(num_hidden_units, n_classes)``.
        name: variable name.
        seed: seed of the initialiser; ``None`` follows Keras's global seed
            (``keras.utils.set_random_seed``).

    Returns:
        A trainable ``keras.Variable`` of that shape, float32.
    """
    initializer = keras.initializers.TruncatedNormal(mean=0.0, stddev=0.01, seed=seed)
    return keras.Variable(initializer(shape, dtype="float32"), name=name, trainable=True)


def bias_variable(shape: tuple[int, ...], name: str = "b") -> keras.Variable:
    """A bias variable that starts at zero, as in the original. Returns a ``keras.Variable``."""
    return keras.Variable(keras.initializers.Zeros()(shape, dtype="float32"), name=name, trainable=True)


#: The recurrent layers ``RNN(cell=...)`` can use; all return the last hidden state.
CELLS = {
    "rnn": lambda units, name: keras.layers.SimpleRNN(units, activation="tanh", name=name),
    "lstm": lambda units, name: keras.layers.LSTM(units, name=name),
    "gru": lambda units, name: keras.layers.GRU(units, name=name),
}


@keras.saving.register_keras_serializable(package="rnn_helpers")
class OutputLayer(keras.layers.Layer):
    """``logits = state @ W + b``: the original tutorial's output layer.

    ``W`` comes from :func:`weight_variable`, ``b`` from :func:`bias_variable`. Apart
    from those initialisers it is a ``keras.layers.Dense`` without activation.
    """

    def __init__(self, units: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.seed = seed

    def build(self, input_shape):
        self.W = weight_variable((int(input_shape[-1]), self.units), name="W", seed=self.seed)
        self.b = bias_variable((self.units,), name="b")

    def call(self, state):
        return ops.matmul(state, self.W) + self.b

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "seed": self.seed}


def RNN(  # noqa: N802 (the original tutorial's name)
    timesteps: int = 28,
    num_input: int = 28,
    num_hidden_units: int = 128,
    n_classes: int = 10,
    seed: int | None = None,
    cell: str = "rnn",
) -> keras.Model:
    """Build the tutorial's vanilla RNN classifier (or the same network with a gated cell).

    The image is read as ``timesteps`` rows of ``num_input`` pixels. At each row ``x_t``
    the hidden state is updated as ``h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b_h)``,
    starting from ``h_0 = 0``; the last state ``h_T`` goes through :class:`OutputLayer`.

    Args:
        timesteps: rows per image (sequence length).
        num_input: pixels per row (features per step).
        num_hidden_units: size of the hidden state.
        n_classes: number of output classes.
        seed: seed for the output layer's initial weights (the recurrent layer follows
            Keras's global seed).
        cell: ``"rnn"`` (default: the vanilla tanh cell), or the gated ``"lstm"`` or
            ``"gru"`` with the same number of units, the same output layer, trained the
            same way. The recurrent layer is named ``"rnn"`` in every case.

    Returns:
        A ``keras.Model`` from images ``(batch, timesteps, num_input)`` to
        logits ``(batch, n_classes)``. Apply a softmax to get class probabilities.
    """
    if cell not in CELLS:
        raise ValueError(f"cell={cell!r}: choose one of {', '.join(map(repr, CELLS))}.")
    inputs = keras.Input(shape=(timesteps, num_input), name="X")
    current_state = CELLS[cell](num_hidden_units, name="rnn")(inputs)
    logits = OutputLayer(n_classes, seed=seed, name="output")(current_state)
    return keras.Model(inputs, logits, name="vanilla_rnn" if cell == "rnn" else f"{cell}_rnn")


def load_trained_model(model_dir: str | os.PathLike[str]) -> keras.Model:
    """Load ``model.keras`` from a folder written by notebook 01 (or that file itself).

    Raises:
        FileNotFoundError: there is no saved model there; says how to make one.
        ValueError: the file holds some other model than the tutorial's vanilla RNN.
    """
    path = Path(model_dir).expanduser()
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(
            f"No saved model at {path}. Run notebook 01 with -p output_dir {path.parent} first, "
            "or set model_dir = None to train the model here."
        )
    model = keras.models.load_model(path)
    names = {layer.name: layer for layer in model.layers}
    if not (
        isinstance(names.get("rnn"), keras.layers.SimpleRNN) and isinstance(names.get("output"), OutputLayer)
    ):
        raise ValueError(f"{path} does not hold the tutorial's vanilla RNN (layers 'rnn' and 'output').")
    return model
