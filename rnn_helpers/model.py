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


#: The recurrent layers ``RNN(cell=...)`` can use; all return the last hidden state. Each is
#: unrolled over the 28 rows (``unroll=True``, the counterpart of TensorFlow 1's
#: ``static_rnn``): a flat graph of 28 steps instead of a loop, which trains faster on a CPU.
CELLS = {
    "rnn": lambda units, name, **options: keras.layers.SimpleRNN(
        units, activation="tanh", unroll=True, name=name, **options
    ),
    "lstm": lambda units, name, **options: keras.layers.LSTM(units, unroll=True, name=name, **options),
    "gru": lambda units, name, **options: keras.layers.GRU(units, unroll=True, name=name, **options),
}

#: How the recurrent matrix ``W_h`` may start: Keras's default, an orthogonal matrix (every
#: eigenvalue on the unit circle), or the identity (as in Le, Jaitly and Hinton's IRNN: at the
#: start the state is carried over unchanged, plus the new row's input).
RECURRENT_INITIALIZERS = ("orthogonal", "identity")


@keras.saving.register_keras_serializable(package="rnn_helpers")
class OutputLayer(keras.layers.Layer):
    """``logits = state @ W + b``: the original tutorial's output layer.

    Either give it the variables to use, ``OutputLayer(W=W, b=b)`` (as the original
    passed ``weights`` and ``biases`` into ``RNN``), or the number of classes,
    ``OutputLayer(units)``, and it creates ``W`` with :func:`weight_variable` and ``b``
    with :func:`bias_variable`. Apart from those initialisers it is a
    ``keras.layers.Dense`` without activation.
    """

    def __init__(
        self,
        units: int | None = None,
        seed: int | None = None,
        *,
        W: keras.Variable | None = None,  # noqa: N803 (the original's names)
        b: keras.Variable | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (W is None) != (b is None):
            raise ValueError("Give OutputLayer both W and b, or neither.")
        if W is not None:
            if units is not None and units != W.shape[-1]:
                raise ValueError(f"units={units} but W has {W.shape[-1]} columns.")
            units = int(W.shape[-1])
            self.W, self.b = W, b
        if units is None:
            raise ValueError("OutputLayer needs the number of classes (units) or the variables W and b.")
        self.units = units
        self.seed = seed

    def build(self, input_shape):
        if not hasattr(self, "W"):
            self.W = weight_variable((int(input_shape[-1]), self.units), name="W", seed=self.seed)
            self.b = bias_variable((self.units,), name="b")
        elif self.W.shape[0] != input_shape[-1]:
            raise ValueError(f"W has {self.W.shape[0]} rows but the state has {input_shape[-1]} units.")

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
    recurrent_initializer: str = "orthogonal",
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
        recurrent_initializer: how the recurrent matrix starts, one of
            :data:`RECURRENT_INITIALIZERS` (``"orthogonal"``, Keras's default, or
            ``"identity"``).

    Returns:
        A ``keras.Model`` from images ``(batch, timesteps, num_input)`` to
        logits ``(batch, n_classes)``. Apply a softmax to get class probabilities.
    """
    if cell not in CELLS:
        raise ValueError(f"cell={cell!r}: choose one of {', '.join(map(repr, CELLS))}.")
    if recurrent_initializer not in RECURRENT_INITIALIZERS:
        known = ", ".join(map(repr, RECURRENT_INITIALIZERS))
        raise ValueError(f"recurrent_initializer={recurrent_initializer!r}: choose one of {known}.")
    options = (
        {} if recurrent_initializer == "orthogonal" else {"recurrent_initializer": recurrent_initializer}
    )
    inputs = keras.Input(shape=(timesteps, num_input), name="X")
    current_state = CELLS[cell](num_hidden_units, name="rnn", **options)(inputs)
    logits = OutputLayer(n_classes, seed=seed, name="output")(current_state)
    return keras.Model(inputs, logits, name="vanilla_rnn" if cell == "rnn" else f"{cell}_rnn")


def _recurrent_and_output(model: keras.Model):
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(layers) != 2 or not isinstance(layers[1], OutputLayer):
        return None, None
    return layers


def vanilla_rnn_variables(model: keras.Model) -> list | None:
    """``[W_x, W_h, b_h, W, b]`` of a vanilla RNN built by :func:`RNN`, else None.

    Only a plain ``Input -> SimpleRNN(tanh, with bias, no dropout) -> OutputLayer`` model
    qualifies: the network of the tutorial, whose equations the fast training step and
    the helpers that look inside it (``rnn_helpers.inside``) write out by hand.
    """
    rnn, out = _recurrent_and_output(model)
    if not isinstance(rnn, keras.layers.SimpleRNN):
        return None
    plain = (
        rnn.activation is keras.activations.tanh
        and rnn.use_bias
        and not rnn.return_sequences
        and not rnn.go_backwards
        and not rnn.stateful
        and rnn.dropout == 0
        and rnn.recurrent_dropout == 0
    )
    if not plain:
        return None
    return [rnn.cell.kernel, rnn.cell.recurrent_kernel, rnn.cell.bias, out.W, out.b]


def gated_rnn_variables(model: keras.Model) -> tuple[str, list] | None:
    """``(cell, [kernel, recurrent_kernel, bias, W, b])`` of a gated network built by
    :func:`RNN` (``cell`` is ``"lstm"`` or ``"gru"``), else None.

    Only a plain ``Input -> LSTM | GRU -> OutputLayer`` model qualifies, with Keras's
    default activations (tanh, and the sigmoid for the gates), biases, no dropout, no
    masking, returning the last state only; for the GRU also ``reset_after=True``.
    """
    rnn, out = _recurrent_and_output(model)
    if isinstance(rnn, keras.layers.LSTM):
        cell = "lstm"
    elif isinstance(rnn, keras.layers.GRU) and rnn.cell.reset_after:
        cell = "gru"
    else:
        return None
    plain = (
        rnn.cell.activation is keras.activations.tanh
        and rnn.cell.recurrent_activation is keras.activations.sigmoid
        and rnn.cell.use_bias
        and not rnn.return_sequences
        and not rnn.return_state
        and not rnn.go_backwards
        and not rnn.stateful
        and rnn.cell.dropout == 0
        and rnn.cell.recurrent_dropout == 0
        and not getattr(rnn, "zero_output_for_mask", False)
    )
    if not plain:
        return None
    return cell, [rnn.cell.kernel, rnn.cell.recurrent_kernel, rnn.cell.bias, out.W, out.b]


def rnn_variables(model: keras.Model) -> tuple[str, list] | None:
    """``(cell, variables)`` of a network built by :func:`RNN`, in the order the hand-written
    steps of :mod:`rnn_helpers.fast` take them, else None.

    ``cell`` is ``"rnn"`` with ``[W_x, W_h, b_h, W, b]`` for the plain vanilla RNN, or
    ``"lstm"`` / ``"gru"`` with ``[kernel, recurrent_kernel, bias, W, b]``.
    """
    variables = vanilla_rnn_variables(model)
    if variables is not None:
        return "rnn", variables
    return gated_rnn_variables(model)


def model_file(model_dir: str | os.PathLike[str]) -> Path:
    """``<model_dir>/model.keras`` for a notebook-01 output folder, else ``model_dir`` itself."""
    path = Path(model_dir).expanduser()
    return path / "model.keras" if path.is_dir() else path


def load_trained_model(
    model_dir: str | os.PathLike[str], timesteps: int = 28, num_input: int = 28, n_classes: int = 10
) -> keras.Model:
    """Load ``model.keras`` from a folder written by notebook 01 (or that file itself).

    The model must be the tutorial's vanilla RNN, reading ``timesteps`` rows of
    ``num_input`` pixels into ``n_classes`` logits.

    Raises:
        FileNotFoundError: there is no saved model there; says how to make one.
        ValueError: the file cannot be read as a Keras model (damaged, or not a model), holds
            some other model than the tutorial's vanilla RNN, or one of another shape.
    """
    path = model_file(model_dir)
    if not path.is_file():
        raise FileNotFoundError(
            f"No saved model at {path}. Run notebook 01 with -p output_dir {path.parent} first, "
            "or set model_dir = None to train the model here."
        )
    try:
        model = keras.models.load_model(path)
    except Exception as error:  # noqa: BLE001 (Keras raises many kinds, some misleading)
        raise ValueError(
            f"{path} exists but cannot be read as a Keras model ({type(error).__name__}): it is damaged, "
            "truncated or not a model file. Run notebook 01 again to write a fresh one."
        ) from None
    names = {layer.name: layer for layer in model.layers}
    if not (
        isinstance(names.get("rnn"), keras.layers.SimpleRNN) and isinstance(names.get("output"), OutputLayer)
    ):
        raise ValueError(f"{path} does not hold the tutorial's vanilla RNN (layers 'rnn' and 'output').")
    shape_in, shape_out = tuple(model.input_shape[1:]), model.output_shape[-1]
    if shape_in != (timesteps, num_input) or shape_out != n_classes:
        raise ValueError(
            f"{path} holds a vanilla RNN for inputs of {shape_in[0]}x{shape_in[-1]} and {shape_out} classes, "
            f"but here the images are {timesteps}x{num_input} with {n_classes} classes. Give the folder "
            "of a notebook-01 run on the same dataset, or set model_dir = None to train one here."
        )
    return model
