"""The original TensorFlow 1 code (rnn_helpers.tf1.original, in its own process) against the Keras port,
the checkpoint converter (rnn_helpers.tf1.convert) both ways, and the errors when either cannot work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import leftover_files, require_data
from rnn_helpers import DataNotFoundError, load_data
from rnn_helpers.evaluation import predict_logits
from rnn_helpers.model import RNN
from rnn_helpers.tf1 import INSTALL_HINT, TF1Unavailable, tf1_available
from rnn_helpers.tf1.convert import (
    TF1_NAMES,
    CheckpointError,
    checkpoint_to_keras,
    get_weights,
    keras_to_checkpoint,
    main,
    read_tf1_checkpoint,
    set_weights,
)
from rnn_helpers.tf1.migration import run_tf1, train_like_tf1

ROOT = Path(__file__).resolve().parents[1]
EXTRA = 'pip install -e ".[tf1]"'


def python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``python -c code args`` with this checkout first on the path."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=environment, timeout=120
    )


def write_checkpoint(prefix: Path, values: dict[str, np.ndarray]) -> str:
    """A name-based checkpoint, as tf.compat.v1.train.Saver writes it, holding ``values``."""
    names = sorted(values)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(values[n], tf.float32) for n in names],
    )
    return str(prefix)


def tf1_values(weights: dict[str, np.ndarray], names: dict[str, str] = TF1_NAMES) -> dict[str, np.ndarray]:
    return {
        names["kernel"]: np.concatenate([weights["W_x"], weights["W_h"]]),
        names["bias"]: weights["b_h"],
        names["W"]: weights["W"],
        names["b"]: weights["b"],
    }


# ---------------------------------------------------------------- errors when the TF1 code cannot run


def test_tf1_command_says_how_to_install_tf_keras_when_it_is_missing():
    # tf_keras made unimportable in that process, then `python -m rnn_helpers.tf1 train`.
    code = (
        "import runpy, sys; sys.modules['tf_keras'] = None; "
        "runpy.run_module('rnn_helpers.tf1', run_name='__main__')"
    )
    result = python(code, "train")
    assert result.returncode != 0
    assert "tf-keras" in result.stderr and EXTRA in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, "a plain message, not a traceback"


def test_without_tf_keras_the_tf1_code_says_how_to_install_it_before_anything_runs():
    code = (
        "import sys; sys.modules['tf_keras'] = None\n"
        "import rnn_helpers.tf1 as tf1\n"
        "print(tf1.tf1_available(), 'tensorflow' in sys.modules)\n"  # asked before TensorFlow starts
        "from rnn_helpers.tf1 import original\n"
        "try:\n    original.prepare()\n"
        "except tf1.TF1Unavailable as error:\n    print(type(error).__name__, error)\n"
    )
    result = python(code)
    first, second = result.stdout.strip().splitlines()
    assert first == "False False", result.stdout + result.stderr
    assert second.startswith("TF1Unavailable") and EXTRA in second, result.stdout + result.stderr


def test_run_tf1_says_how_to_install_tf_keras_when_it_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf_keras", None)
    assert not tf1_available()
    with pytest.raises(TF1Unavailable, match=r"tf-keras.*pip install -e \"\.\[tf1\]\""):
        run_tf1(["train"], tmp_path / "exchange")
    assert EXTRA in INSTALL_HINT
    assert leftover_files(tmp_path) == []


@pytest.mark.slow
def test_tf1_refuses_a_process_where_tensorflow_runs_with_keras_3():
    code = (
        "import tensorflow\nfrom rnn_helpers.tf1 import TF1Unavailable, original\n"
        "try:\n    original.prepare()\nexcept TF1Unavailable as error:\n    print(error)"
    )
    result = python(code, TF_USE_LEGACY_KERAS="", TF_CPP_MIN_LOG_LEVEL="3")
    assert "this process started it with Keras 3" in result.stdout, result.stdout + result.stderr
    assert "python -m rnn_helpers.tf1" in result.stdout


# ---------------------------------------------------------------- the converter on its own


def test_converter_moves_the_numbers_exactly_and_splits_the_kernel(tmp_path):
    model = RNN(28, 28, 16, 10, seed=1)
    weights = get_weights(model)
    prefix = keras_to_checkpoint(model, tmp_path / "ckpt" / "model")
    shapes = dict(tf.train.list_variables(prefix))
    assert shapes == {TF1_NAMES["kernel"]: [44, 16], TF1_NAMES["bias"]: [16], "W": [16, 10], "b": [10]}
    kernel = tf.train.load_checkpoint(prefix).get_tensor(TF1_NAMES["kernel"])
    np.testing.assert_array_equal(kernel, np.concatenate([weights["W_x"], weights["W_h"]]))
    back = checkpoint_to_keras(tmp_path / "ckpt")  # the folder: its latest checkpoint
    for key, value in get_weights(back).items():
        np.testing.assert_array_equal(value, weights[key], err_msg=key)
    x = np.random.default_rng(0).random((8, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(predict_logits(back, x), predict_logits(model, x))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "checkpoint",
        "model.data-00000-of-00001",
        "model.index",
    ]


def test_converter_finds_old_names_scopes_and_ignores_adam_slots(tmp_path):
    weights = get_weights(RNN(28, 28, 8, 10, seed=2))
    names = {
        "kernel": "net/rnn/basic_rnn_cell/weights",  # TensorFlow 1.0-1.4 called them weights, biases
        "bias": "net/rnn/basic_rnn_cell/biases",
        "W": "net/W",
        "b": "net/b",
    }
    values = tf1_values(weights, names)
    values.update({f"{n}/Adam-op": np.zeros_like(v) for n, v in list(values.items())})
    values.update({"beta1_power": np.float32(0.9), "beta2_power": np.float32(0.999)})
    read = read_tf1_checkpoint(write_checkpoint(tmp_path / "old", values) + ".index")
    for key, value in read.items():
        np.testing.assert_array_equal(value, weights[key], err_msg=key)


def test_converter_refuses_what_is_not_the_tutorials_rnn(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected .*missing.index"):
        read_tf1_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="without a 'checkpoint' file"):
        read_tf1_checkpoint(tmp_path / "empty")
    dense = {"dense/kernel": np.zeros((4, 3)), "dense/bias": np.zeros(3)}
    other = write_checkpoint(tmp_path / "dense", dense)
    with pytest.raises(CheckpointError, match="no variable named .*/kernel.*: dense/bias, dense/kernel"):
        read_tf1_checkpoint(other)
    weights = get_weights(RNN(28, 28, 8, 10, seed=3))
    bad = tf1_values(weights)
    bad["W"] = np.zeros((9, 10), np.float32)  # 9 rows for 8 hidden units
    with pytest.raises(CheckpointError, match=r"do not fit .*W \(9, 10\)"):
        read_tf1_checkpoint(write_checkpoint(tmp_path / "bad", bad))
    with pytest.raises(CheckpointError, match="lack W_h"):
        set_weights(RNN(28, 28, 8, 10), {k: v for k, v in weights.items() if k != "W_h"})
    with pytest.raises(CheckpointError, match="not the tutorial's vanilla RNN"):
        keras_to_checkpoint(RNN(28, 28, 8, 10, cell="lstm"), tmp_path / "lstm" / "model")
    assert leftover_files(tmp_path / "lstm") == []


def test_converter_command_line(tmp_path, capsys):
    model = RNN(28, 28, 8, 10, seed=4)
    keras_to_checkpoint(model, tmp_path / "ckpt" / "model")
    assert main(["to-keras", str(tmp_path / "ckpt" / "model"), str(tmp_path / "model.keras")]) == 0
    assert "W_x (28, 8)" in capsys.readouterr().out
    loaded = keras.models.load_model(tmp_path / "model.keras")
    for key, value in get_weights(loaded).items():
        np.testing.assert_array_equal(value, get_weights(model)[key], err_msg=key)
    assert main(["to-tf1", str(tmp_path / "model.keras"), str(tmp_path / "back" / "model")]) == 0
    assert "Wrote the TF1 checkpoint" in capsys.readouterr().out
    # failures: a message, exit status 2, nothing written
    before = leftover_files(tmp_path)
    assert main(["to-keras", str(tmp_path / "nothing"), str(tmp_path / "out.keras")]) == 2
    assert "No TensorFlow checkpoint" in capsys.readouterr().err
    assert main(["to-keras", str(tmp_path / "ckpt" / "model"), str(tmp_path / "out.h5")]) == 2
    assert "must end in .keras" in capsys.readouterr().err
    assert main(["to-tf1", str(tmp_path / "none.keras"), str(tmp_path / "x" / "model")]) == 2
    assert "No saved Keras model" in capsys.readouterr().err
    assert leftover_files(tmp_path) == before


def test_converter_names_damaged_inputs_and_overwrites_nothing_without_force(tmp_path, capsys):
    model = RNN(28, 28, 8, 10, seed=4)
    prefix = keras_to_checkpoint(model, tmp_path / "ckpt" / "model")
    assert main(["to-keras", prefix, str(tmp_path / "model.keras")]) == 0
    capsys.readouterr()
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for part in ("index", "data-00000-of-00001"):
        for name in ("model.index", "model.data-00000-of-00001"):
            data = (tmp_path / "ckpt" / name).read_bytes()
            (damaged / name).write_bytes(data[: len(data) // 2] if part in name else data)
        assert main(["to-keras", str(damaged / "model"), str(tmp_path / "out.keras")]) == 2
        err = capsys.readouterr().err
        assert "cannot be read: it is damaged, truncated or incomplete" in err and "Traceback" not in err, err
    (tmp_path / "broken.keras").write_bytes((tmp_path / "model.keras").read_bytes()[:3000])
    assert main(["to-tf1", str(tmp_path / "broken.keras"), str(tmp_path / "b" / "model")]) == 2
    assert "cannot be read as a Keras model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["to-keras", prefix, str(tmp_path / "zero.keras"), "--timesteps", "0"])
    assert info.value.code == 2 and "give a whole number >= 1" in capsys.readouterr().err
    before = {p: p.read_bytes() for p in (tmp_path / "ckpt").iterdir()}
    other = RNN(28, 28, 8, 10, seed=5)
    other.save(tmp_path / "other.keras")
    # into a folder whose checkpoint index names another checkpoint: refused, named, unchanged
    assert main(["to-tf1", str(tmp_path / "other.keras"), str(tmp_path / "ckpt" / "second")]) == 2
    assert "already holds the checkpoint model" in capsys.readouterr().err
    assert main(["to-tf1", str(tmp_path / "other.keras"), prefix]) == 2  # over the same name
    assert "add --force" in capsys.readouterr().err
    assert main(["to-keras", prefix, str(tmp_path / "model.keras")]) == 2  # over an existing .keras
    assert "already exists" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (tmp_path / "ckpt").iterdir()} == before
    assert main(["to-tf1", str(tmp_path / "other.keras"), prefix, "--force"]) == 0
    for key, value in read_tf1_checkpoint(prefix).items():
        np.testing.assert_array_equal(value, get_weights(other)[key])


# ---------------------------------------------------------------- TF1 graph vs Keras port (real data)


@pytest.fixture(scope="module")
def mnist():
    """MNIST as (N, 28, 28) images, or a skip where the files are not here (a failure in CI)."""
    if not tf1_available():
        pytest.fail(f"These tests run the TensorFlow 1 code, which needs tf-keras: {INSTALL_HINT}")
    try:
        x_train, y_train, _, _ = load_data("train", download=False)
        x_test, y_test = load_data("test", download=False)
    except DataNotFoundError:
        if require_data():
            raise
        pytest.skip("MNIST is not available on this machine (see docs/data.md)")
    return x_train.reshape(-1, 28, 28), y_train, x_test.reshape(-1, 28, 28), y_test


@pytest.mark.slow
@pytest.mark.realdata
def test_tf1_graph_and_keras_port_agree_step_by_step(mnist, tmp_path):
    x_train, y_train, _, _ = mnist
    start = get_weights(RNN(seed=7))  # Keras's starting weights, handed to the TF1 graph
    tf1 = run_tf1(["train", "--epochs", "2", "--n-train", "500", "--seed", "5"], tmp_path, init=start)
    assert "Training epoch: 1" in tf1.log and "iter   0:" in tf1.log
    for key, value in tf1.weights("initial").items():
        np.testing.assert_array_equal(value, start[key], err_msg=key)
    tf1_loss = tf1.arrays["step_loss"]
    assert tf1_loss.shape == (10,) and 2.0 < tf1_loss[0] < 2.6  # about ln(10) at the start

    gaps = {}
    for epsilon in (1e-8, 1e-7):
        model = RNN(seed=0)
        set_weights(model, start)
        loss, accuracy = train_like_tf1(
            model, x_train[:500], y_train[:500], epochs=2, epsilon=epsilon, seed=5
        )
        gaps[epsilon] = float(np.abs(loss - tf1_loss).max())
        if epsilon == 1e-8:
            np.testing.assert_allclose(accuracy, tf1.arrays["step_accuracy"], atol=0.0105)  # one image
    model = RNN(seed=0)
    set_weights(model, start)
    loss, _ = train_like_tf1(model, x_train[:500], y_train[:500], epochs=2, seed=5, adam="tf1")
    gaps["TF1's Adam kernel"] = float(np.abs(loss - tf1_loss).max())
    # Two epochs of 5 steps: the second epoch reshuffles the first's order, on both sides.
    # Measured 1e-6 and 2e-7 (rounding: the same arithmetic in another order); AdamOptimizer's
    # epsilon (1e-8) vs Keras's (1e-7) alone makes a gap about 100 times larger.
    assert gaps[1e-8] < 2e-5 and gaps["TF1's Adam kernel"] < 2e-5, gaps
    assert gaps[1e-7] > 10 * gaps[1e-8], gaps
    with pytest.raises(ValueError, match="adam='sgd'"):
        train_like_tf1(model, x_train[:500], y_train[:500], adam="sgd")


@pytest.mark.slow
@pytest.mark.realdata
def test_checkpoint_round_trip_gives_the_same_logits_on_the_whole_test_set(mnist, tmp_path):
    _, _, x_test, y_test = mnist
    prefix = tmp_path / "tf1" / "model"
    tf1 = run_tf1(["train", "--epochs", "1", "--n-train", "1000", "--save", str(prefix)], tmp_path)
    tf1_logits = tf1.arrays["test_logits"]
    assert tf1_logits.shape == (10000, 10)

    model = checkpoint_to_keras(prefix)
    for key, value in get_weights(model).items():
        np.testing.assert_array_equal(value, tf1.weights("final")[key], err_msg=key)  # the same numbers
    keras_logits = predict_logits(model, x_test)
    # The same logits up to float32 rounding (measured 1e-6 here), the same class for every image.
    np.testing.assert_allclose(keras_logits, tf1_logits, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(keras_logits.argmax(1), tf1_logits.argmax(1))
    accuracy = float((keras_logits.argmax(1) == y_test.argmax(1)).mean())
    assert accuracy == pytest.approx(float(tf1.arrays["test_accuracy"]), abs=1e-6)

    back = keras_to_checkpoint(model, tmp_path / "back" / "model")
    evaluated = run_tf1(["evaluate", back], tmp_path)
    assert "Restored 4 variables" in evaluated.log
    # The original graph with the weights converted there and back computes bit for bit what it did.
    np.testing.assert_array_equal(evaluated.arrays["test_logits"], tf1_logits)


# ---------------------------------------------------------------- notebook 04 with papermill

NB04 = ROOT / "notebooks" / "04_from_tf1_to_tf2.ipynb"


def run_notebook(tmp_path: Path, **parameters) -> dict:
    papermill = pytest.importorskip("papermill")
    executed = tmp_path / NB04.name
    papermill.execute_notebook(
        NB04, executed, parameters=parameters, kernel_name="python3", cwd=str(NB04.parent), progress_bar=False
    )
    return json.loads(executed.read_text())


def outputs(notebook: dict) -> str:
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts.append("".join(output.get("data", {}).get("text/markdown", "")))
    return "\n".join(texts)


@pytest.mark.slow
@pytest.mark.realdata
def test_notebook_04_quick_run(mnist, tmp_path):
    text = outputs(run_notebook(tmp_path, n_train=2000))
    assert "Training on the first 2000 training images." in text
    assert "(the original's test: the first 1000 test images)" in text
    assert "Keras model holds the TF1 starting weights exactly: True" in text
    assert "the converted model holds the trained TF1 weights exactly: True" in text
    assert "identical bit for bit: True" in text
    assert "temporary folder removed: True" in text


@pytest.mark.slow
def test_notebook_04_refuses_a_bad_parameter(tmp_path):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError, match=r"n_train = 50 is smaller than batch_size"):
        run_notebook(tmp_path, n_train=50)
