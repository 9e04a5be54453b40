"""Convert the original tutorial's TensorFlow 1 checkpoints to the Keras port, and back.

The original graph (``BasicRNNCell`` unrolled by ``static_rnn``, output layer ``W``, ``b``)
saved with ``tf.compat.v1.train.Saver`` keeps four variables::

    rnn/basic_rnn_cell/kernel   (num_input + H, H)   [W_x; W_h] stacked: it multiplies concat([x_t, h_{t-1}])
    rnn/basic_rnn_cell/bias     (H,)                 b_h
    W                           (H, n_classes)
    b                           (n_classes,)

(plus Adam's slots and ``beta1_power`` / ``beta2_power``, which are not converted).
``rnn_helpers.model.RNN`` keeps the same numbers as ``SimpleRNN``'s ``kernel`` (``W_x``),
``recurrent_kernel`` (``W_h``) and ``bias`` (``b_h``), and ``OutputLayer``'s ``W`` and ``b``.

Reading and writing the checkpoint needs only TensorFlow 2 (no ``tf-keras``), so this
module runs in the same process as the rest of the project::

    python -m rnn_helpers.tf1.convert to-keras ckpt/model model.keras
    python -m rnn_helpers.tf1.convert to-tf1 model.keras converted/model

Neither overwrites anything without ``--force``: not an existing ``.keras`` file, and not a
folder's ``checkpoint`` index that names another checkpoint. A damaged or truncated
checkpoint or model file is named as such.

TensorFlow 1.0 to 1.4 named the cell's variables ``weights`` and ``biases``; those are
recognised too, as is any name scope around them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

if __name__ == "__main__":  # run as a command: TensorFlow's C++ start-up lines are muted
    from ..runs.startup import muted_stderr

    with muted_stderr():
        import tensorflow

        tensorflow.config.list_physical_devices()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..model import RNN, OutputLayer, load_trained_model  # noqa: E402

#: The names ``Saver`` gives the original graph's variables.
TF1_NAMES = {"kernel": "rnn/basic_rnn_cell/kernel", "bias": "rnn/basic_rnn_cell/bias", "W": "W", "b": "b"}
#: The weights of the vanilla RNN, in the Keras port's terms.
WEIGHT_KEYS = ("W_x", "W_h", "b_h", "W", "b")


class CheckpointError(ValueError):
    """A checkpoint or model does not hold the tutorial's vanilla RNN; the message says what is wrong."""


def resolve_checkpoint(path: str | os.PathLike[str]) -> str:
    """The checkpoint prefix for ``path``: a prefix (``ckpt/model``), a folder with a ``checkpoint``
    file (its latest checkpoint), or one of the checkpoint's files (``model.index``, ``model.data-...``).

    Raises:
        FileNotFoundError: nothing there is a TensorFlow checkpoint; says what to give.
    """
    text = os.fspath(Path(path).expanduser())
    if os.path.isdir(text):
        latest = tf.train.latest_checkpoint(text)
        if latest is None:
            raise FileNotFoundError(
                f"{path} is a folder without a 'checkpoint' file: give the checkpoint's prefix "
                "(e.g. ckpt/model for ckpt/model.index)."
            )
        text = latest
    for suffix in (".index", ".meta"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    if ".data-" in os.path.basename(text):
        text = text[: text.rindex(".data-")]
    if not os.path.isfile(text + ".index"):
        raise FileNotFoundError(
            f"No TensorFlow checkpoint at {path}: expected {text}.index beside its .data files "
            "(what tf.compat.v1.train.Saver().save(sess, prefix) writes)."
        )
    return text


def _damaged(prefix: str, error: Exception) -> str:
    first = str(getattr(error, "message", error)).strip().splitlines()[0][:200]
    return (
        f"The checkpoint {prefix} (its .index and .data-* files) cannot be read: it is damaged, "
        f"truncated or incomplete ({type(error).__name__}: {first}). Save it again from the original "
        "graph (tf.compat.v1.train.Saver), or copy it again."
    )


def _model_variable_names(shapes: Mapping[str, list[int]]) -> list[str]:
    """Names that are not an optimiser's slot (``<variable>/<slot>``) nor Adam's ``beta*_power``."""
    names = sorted(shapes)
    slots = {n for n in names for other in names if n != other and n.startswith(other + "/")}
    return [
        n for n in names if n not in slots and not n.split("/")[-1].startswith(("beta1_power", "beta2_power"))
    ]


def _find_names(shapes: Mapping[str, list[int]]) -> dict[str, str]:
    """Which checkpoint variables are the cell's kernel and bias and the output's ``W`` and ``b``."""
    names = _model_variable_names(shapes)
    found: dict[str, str] = {}
    for key, endings in (("kernel", ("basic_rnn_cell/kernel", "basic_rnn_cell/weights")),
                         ("bias", ("basic_rnn_cell/bias", "basic_rnn_cell/biases"))):  # fmt: skip
        matches = [n for n in names if n.endswith(endings)]
        if len(matches) != 1:
            what = "no variable" if not matches else f"{len(matches)} variables ({', '.join(matches)})"
            raise CheckpointError(
                f"The checkpoint has {what} named .../basic_rnn_cell/{endings[0].split('/')[-1]}, the "
                f"BasicRNNCell's {key}; its variables are: {', '.join(names) or 'none'}. "
                "Pass names={...} to say which is which."
            )
        found[key] = matches[0]
    hidden = shapes[found["kernel"]][1]
    others = [n for n in names if n not in found.values()]
    for key, rank in (("W", 2), ("b", 1)):
        exact = [n for n in others if n.split("/")[-1] == key and len(shapes[n]) == rank]
        if not exact:
            exact = [n for n in others if len(shapes[n]) == rank and (rank == 1 or shapes[n][0] == hidden)]
        if len(exact) != 1:
            raise CheckpointError(
                f"Cannot tell which variable is the output layer's {key} among "
                f"{', '.join(others) or 'none'}. "
                "Pass names={...} to say which is which."
            )
        found[key] = exact[0]
    return found


def read_tf1_checkpoint(
    checkpoint: str | os.PathLike[str], names: Mapping[str, str] | None = None
) -> dict[str, np.ndarray]:
    """Read the original graph's weights from a ``tf.compat.v1.train.Saver`` checkpoint.

    Args:
        checkpoint: its prefix, folder or one of its files (see :func:`resolve_checkpoint`).
        names: the checkpoint's names for ``kernel``, ``bias``, ``W`` and ``b`` where they are
            not the original's (default: found by name and shape).

    Returns:
        ``W_x`` ``(num_input, H)``, ``W_h`` ``(H, H)``, ``b_h`` ``(H,)``, ``W`` ``(H, n_classes)``,
        ``b`` ``(n_classes,)``, float32: the cell's kernel split into its input and recurrent parts.

    Raises:
        FileNotFoundError: no checkpoint there.
        CheckpointError: it does not hold the original graph's variables, or their shapes disagree.
    """
    prefix = resolve_checkpoint(checkpoint)
    try:
        shapes = dict(tf.train.list_variables(prefix))
    except Exception as error:  # noqa: BLE001 (a damaged file fails in many ways, IndexError among them)
        raise CheckpointError(_damaged(prefix, error)) from None
    if names is None:
        names = _find_names(shapes)
    else:
        unknown = [f"{key}={name!r}" for key, name in names.items() if name not in shapes]
        if unknown or set(names) != set(TF1_NAMES):
            raise CheckpointError(
                f"names must give kernel, bias, W and b, each a variable of the checkpoint; "
                f"not found: {', '.join(unknown) or 'none'}; its variables: {', '.join(sorted(shapes))}."
            )
    try:
        reader = tf.train.load_checkpoint(prefix)
        values = {key: np.asarray(reader.get_tensor(name)) for key, name in names.items()}
    except Exception as error:  # noqa: BLE001 (a damaged file fails in many ways, IndexError among them)
        raise CheckpointError(_damaged(prefix, error)) from None
    kernel, bias, w, b = values["kernel"], values["bias"], values["W"], values["b"]
    hidden = bias.shape[0] if bias.ndim == 1 else -1
    if not (
        kernel.ndim == 2
        and kernel.shape[1] == hidden
        and kernel.shape[0] > hidden
        and w.shape == (hidden, b.shape[0] if b.ndim == 1 else -1)
    ):
        raise CheckpointError(
            f"The shapes do not fit the tutorial's RNN: kernel {kernel.shape} (needs (num_input + H, H)), "
            f"bias {bias.shape} (H,), W {w.shape} (H, n_classes), b {b.shape} (n_classes,)."
        )
    num_input = kernel.shape[0] - hidden
    return {
        "W_x": kernel[:num_input].astype(np.float32),
        "W_h": kernel[num_input:].astype(np.float32),
        "b_h": bias.astype(np.float32),
        "W": w.astype(np.float32),
        "b": b.astype(np.float32),
    }


def _vanilla_layers(model: keras.Model) -> tuple[keras.layers.SimpleRNN, OutputLayer]:
    rnn, output = (next((la for la in model.layers if la.name == name), None) for name in ("rnn", "output"))
    if not (isinstance(rnn, keras.layers.SimpleRNN) and isinstance(output, OutputLayer)):
        raise CheckpointError(
            f"The model {model.name!r} is not the tutorial's vanilla RNN: it needs a SimpleRNN layer named "
            "'rnn' and an OutputLayer named 'output' (rnn_helpers.model.RNN(cell='rnn'))."
        )
    return rnn, output


def get_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """The vanilla RNN's weights ``W_x``, ``W_h``, ``b_h``, ``W``, ``b`` as NumPy arrays."""
    rnn, output = _vanilla_layers(model)
    w_x, w_h, b_h = rnn.get_weights()
    w, b = output.get_weights()
    return {"W_x": w_x, "W_h": w_h, "b_h": b_h, "W": w, "b": b}


def set_weights(model: keras.Model, weights: Mapping[str, np.ndarray]) -> None:
    """Load ``W_x``, ``W_h``, ``b_h``, ``W``, ``b`` into a model from :func:`rnn_helpers.model.RNN`.

    Raises:
        CheckpointError: a weight is missing, or its shape does not fit the model; names it.
    """
    rnn, output = _vanilla_layers(model)
    missing = [key for key in WEIGHT_KEYS if key not in weights]
    if missing:
        raise CheckpointError(f"Weights lack {', '.join(missing)}: give W_x, W_h, b_h, W and b.")
    current = get_weights(model)
    for key in WEIGHT_KEYS:
        if np.shape(weights[key]) != current[key].shape:
            raise CheckpointError(
                f"Weight {key} has shape {np.shape(weights[key])} but the model needs {current[key].shape}."
            )
    rnn.set_weights([np.asarray(weights[k], np.float32) for k in ("W_x", "W_h", "b_h")])
    output.set_weights([np.asarray(weights[k], np.float32) for k in ("W", "b")])


def checkpoint_to_keras(
    checkpoint: str | os.PathLike[str], timesteps: int = 28, names: Mapping[str, str] | None = None
) -> keras.Model:
    """A Keras model of :func:`rnn_helpers.model.RNN` holding a TF1 checkpoint's weights.

    ``num_input``, the number of hidden units and of classes come from the checkpoint's
    shapes; ``timesteps`` (rows per image) is not stored in it and is 28 for MNIST.
    The model computes the same logits as the original graph, to float32 rounding (the
    two add the same products in a different order).
    """
    weights = read_tf1_checkpoint(checkpoint, names)
    num_input, hidden = weights["W_x"].shape
    model = RNN(timesteps, num_input, hidden, weights["W"].shape[1], seed=0)
    set_weights(model, weights)
    return model


def _load_model(model: keras.Model | str | os.PathLike[str]) -> keras.Model:
    if isinstance(model, keras.Model):
        return model
    path = Path(model).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"No saved Keras model at {model} (a .keras file, e.g. notebook 01's model.keras)."
        )
    try:
        return load_trained_model(path, *_input_shape(path))
    except ValueError as error:
        raise CheckpointError(str(error)) from None


def _input_shape(path: Path) -> tuple[int, int, int]:
    """(timesteps, num_input, n_classes) the model in ``path`` was saved with: what it is checked against."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        layers = config["config"]["layers"]
        shape = layers[0]["config"]["batch_shape"]
        units = next(la["config"]["units"] for la in layers if la["config"].get("name") == "output")
        return int(shape[1]), int(shape[2]), int(units)
    except Exception:  # noqa: BLE001 (any damage is reported by the loader's own check)
        return 28, 28, 10


def check_free(path: Path, force: bool, what: str) -> None:
    """Refuse to overwrite ``path`` (an existing file) unless ``force``."""
    if path.exists() and not force:
        raise FileExistsError(
            f"{path} already exists: {what}. Give another name, or add --force to replace it."
        )


def check_checkpoint_folder(prefix: Path, force: bool) -> None:
    """Refuse to write the checkpoint ``prefix`` into a folder whose ``checkpoint`` index names
    another checkpoint, or over an existing one, unless ``force``."""
    index = prefix.parent / "checkpoint"
    if index.is_file() and not force:
        named = [
            line.split(":", 1)[1].strip().strip('"') for line in index.read_text().splitlines() if ":" in line
        ]
        others = sorted({name for name in named if Path(name).name != prefix.name})
        if others:
            raise FileExistsError(
                f"{prefix.parent} already holds the checkpoint {others[0]}, and its 'checkpoint' index "
                f"would be rewritten to name {prefix.name} instead. Write into another folder, or add "
                "--force."
            )
    check_free(prefix.with_name(prefix.name + ".index"), force, "a checkpoint of that name exists")


def keras_to_checkpoint(
    model: keras.Model | str | os.PathLike[str], prefix: str | os.PathLike[str], force: bool = False
) -> str:
    """Write a vanilla RNN's weights as a TF1 checkpoint that the original graph restores.

    The checkpoint holds ``rnn/basic_rnn_cell/kernel`` (``[W_x; W_h]``), ``.../bias``, ``W``
    and ``b`` (no optimiser state: Adam starts afresh if training goes on), plus the
    ``checkpoint`` file naming it as its folder's latest. Files are written to a temporary
    folder first and moved into place when complete.

    Args:
        model: a model from :func:`rnn_helpers.model.RNN` or the path of its ``.keras`` file.
        prefix: the checkpoint's prefix, e.g. ``converted/model`` (folders are created).
        force: overwrite an existing checkpoint of that name, and the folder's ``checkpoint``
            index even when it names another checkpoint.

    Returns:
        The prefix written.

    Raises:
        FileNotFoundError: no model file there.
        FileExistsError: it would overwrite something, and ``force`` is not set.
        CheckpointError: the model is not the tutorial's vanilla RNN, or is damaged.
    """
    target = Path(prefix).expanduser().absolute()
    check_checkpoint_folder(target, force)
    weights = get_weights(_load_model(model))
    values = {
        TF1_NAMES["kernel"]: np.concatenate([weights["W_x"], weights["W_h"]], axis=0),
        TF1_NAMES["bias"]: weights["b_h"],
        TF1_NAMES["W"]: weights["W"],
        TF1_NAMES["b"]: weights["b"],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        names = sorted(values)
        tf.raw_ops.SaveV2(
            prefix=str(staging / target.name),
            tensor_names=names,
            shape_and_slices=[""] * len(names),
            tensors=[tf.constant(values[n], tf.float32) for n in names],
        )
        (staging / "checkpoint").write_text(
            f'model_checkpoint_path: "{target.name}"\nall_model_checkpoint_paths: "{target.name}"\n'
        )
        for file in sorted(staging.iterdir()):
            os.replace(file, target.parent / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def save_keras(model: keras.Model, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Save ``model`` as a ``.keras`` file through a temporary file, so no half-written file is
    left; an existing file is only replaced with ``force``."""
    target = Path(path).expanduser()
    if target.suffix != ".keras":
        raise ValueError(f"{path}: a Keras model file must end in .keras.")
    check_free(target, force, "it would be replaced")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number >= 1 (rows per image; 28 for MNIST)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rnn_helpers.tf1.convert",
        description="Convert the original tutorial's TF1 checkpoints (tf.compat.v1.train.Saver) to the "
        "Keras model of rnn_helpers.model.RNN, and back.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    to_keras = commands.add_parser("to-keras", help="TF1 checkpoint -> .keras model file")
    to_keras.add_argument("checkpoint", help="checkpoint prefix (ckpt/model), its folder or one of its files")
    to_keras.add_argument("output", help="the .keras file to write")
    to_keras.add_argument("--timesteps", type=_positive, default=28, help="rows per image (default 28)")
    to_tf1 = commands.add_parser("to-tf1", help=".keras model file -> TF1 checkpoint")
    to_tf1.add_argument(
        "model", help="a .keras file of rnn_helpers.model.RNN (e.g. notebook 01's model.keras)"
    )
    to_tf1.add_argument("prefix", help="the checkpoint prefix to write, e.g. converted/model")
    for command in (to_keras, to_tf1):
        command.add_argument("--force", action="store_true", help="replace what is already there")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m rnn_helpers.tf1.convert``: convert one way or the other; exit status 2 on an error."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "to-keras":
            check_free(Path(args.output).expanduser(), args.force, "it would be replaced")
            model = checkpoint_to_keras(args.checkpoint, timesteps=args.timesteps)
            written = save_keras(model, args.output, force=args.force)
            shapes = ", ".join(f"{k} {v.shape}" for k, v in get_weights(model).items())
            print(f"Wrote {written} ({shapes}).")
        else:
            written = keras_to_checkpoint(args.model, args.prefix, force=args.force)
            print(f"Wrote the TF1 checkpoint {written} (.index, .data-00000-of-00001, checkpoint).")
    except (FileNotFoundError, FileExistsError, CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
