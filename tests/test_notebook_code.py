"""The code notebook 01 shows is the code the helpers run: its network, its training step and
its training loop, taken from the notebook itself and compared with ``rnn_helpers``; and
every notebook's parameters cell matches the declared parameters."""

from __future__ import annotations

import ast
import json
import linecache
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnn_helpers.training as training
from rnn_helpers import get_next_batch, randomize
from rnn_helpers.augmentation import random_shift
from rnn_helpers.evaluation import evaluate
from rnn_helpers.fast_rnn import make_fast_train_step
from rnn_helpers.model import CELLS, RNN, OutputLayer, bias_variable, weight_variable
from rnn_helpers.runs.parameters import NOTEBOOKS, declared_defaults

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NB01 = NOTEBOOKS_DIR / "01_vanilla_rnn_mnist.ipynb"


def code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def the_cell(starting: str | None = None, containing: str | None = None) -> str:
    """The one code cell of notebook 01 that starts with / contains the given text."""
    found = [
        s
        for s in code_cells(NB01)
        if (starting is None or s.startswith(starting)) and (containing is None or containing in s)
    ]
    assert len(found) == 1, f"expected one cell ({starting!r}, {containing!r}), found {len(found)}"
    return found[0]


def run_cell(source: str, namespace: dict) -> dict:
    """Run a cell's source in ``namespace`` (its source registered, so that AutoGraph finds it)."""
    filename = f"<notebook 01 cell {abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (the notebook's own code)
    return namespace


def notebook_rnn():
    namespace = run_cell(
        the_cell(starting="def RNN("), {"keras": keras, "OutputLayer": OutputLayer, "CELLS": CELLS}
    )
    return namespace["RNN"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_network_the_notebook_defines_is_rnn_helpers_model_rnn(cell):
    seed, units = 3, 16
    keras.utils.set_random_seed(seed)
    W = weight_variable((units, 10), seed=seed)
    b = bias_variable((10,))
    shown = notebook_rnn()(28, 28, units, W, b, cell=cell)
    keras.utils.set_random_seed(seed)
    helper = RNN(28, 28, units, 10, seed=seed, cell=cell)

    assert [type(layer) for layer in shown.layers] == [type(layer) for layer in helper.layers]
    assert [layer.name for layer in shown.layers] == [layer.name for layer in helper.layers]
    assert shown.name == helper.name
    assert shown.count_params() == helper.count_params()
    assert [v.shape for v in shown.weights] == [v.shape for v in helper.weights]
    recurrent_shown, recurrent_helper = shown.get_layer("rnn"), helper.get_layer("rnn")
    assert recurrent_shown.get_config() == recurrent_helper.get_config()  # initialisers, activation, ...
    assert shown.get_layer("output").W is W  # the notebook's W and b are the ones the model uses
    for a, b_ in zip(shown.get_weights(), helper.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b_)  # same seed, same starting weights
    x = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(shown(x)), np.asarray(helper(x)))


def test_a_model_of_the_notebook_saves_and_reloads(tmp_path):
    W, b = weight_variable((8, 10), seed=1), bias_variable((10,))
    model = notebook_rnn()(28, 28, 8, W, b)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    x = np.random.default_rng(1).random((3, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))


def test_the_notebooks_train_step_is_make_train_step():
    x = np.random.default_rng(2).random((20, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(20) % 10]
    results = []
    for source in ("notebook", "helper"):
        keras.utils.set_random_seed(5)
        model = RNN(num_hidden_units=8, seed=5)
        optimizer = keras.optimizers.Adam(0.01)
        loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
        if source == "notebook":
            namespace = {"tf": tf, "model": model, "loss_fn": loss_fn, "optimizer": optimizer}
            step = run_cell(the_cell(starting="@tf.function\ndef train_step("), namespace)["train_step"]
        else:
            step = training.make_train_step(model, optimizer, loss_fn)
        outputs = [tuple(float(v) for v in step(x, y)) for _ in range(3)]
        results.append((outputs, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def loop_namespace(fast: bool, **settings) -> dict:
    """What the notebook's training-loop cell needs, for a small synthetic run."""
    rng = np.random.default_rng(0)
    x = rng.random((400, 28, 28), dtype=np.float32)
    x[:, :, :14] *= (np.arange(400) % 2)[:, None, None]  # a learnable difference between two classes
    y = np.eye(10, dtype=np.float32)[np.arange(400) % 2]
    keras.utils.set_random_seed(1)
    model = RNN(num_hidden_units=12, seed=1)
    optimizer = training.make_optimizer(0.01, lr_schedule="cosine", total_steps=40, clip_norm=1.0)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    step = (
        make_fast_train_step(model, optimizer)
        if fast
        else training.make_train_step(model, optimizer, loss_fn)
    )
    values = {
        "seed": 4,
        "epochs": 2,
        "batch_size": 20,
        "display_freq": 7,
        "augment_shift": 0,
        "label_smoothing": 0.0,
        "learning_rate": 0.01,
        **settings,
    }
    return {
        **values,
        "np": np,
        "model": model,
        "optimizer": optimizer,
        "step": step,
        "x_train_seq": x,
        "y_train": y,
        "x_valid_seq": x[:100],
        "y_valid": y[:100],
        "n_classes": 10,
        "num_tr_iter": len(y) // values["batch_size"],
        "History": training.History,
        "smooth_labels": training.smooth_labels,
        "random_shift": random_shift,
        "randomize": randomize,
        "get_next_batch": get_next_batch,
        "format_iteration": training.format_iteration,
        "format_epoch": training.format_epoch,
        "averaged_weights": training.averaged_weights,
        "keep_averaged_weights": training.keep_averaged_weights,
        "evaluate": evaluate,
        "print": lambda *args, **kwargs: None,
    }


@pytest.mark.parametrize(
    "fast,settings",
    [
        (True, {}),
        (False, {}),
        (True, {"augment_shift": 1, "label_smoothing": 0.1}),
        (False, {"augment_shift": 2}),
    ],
    ids=["fast", "plain", "fast-shift-smoothing", "plain-shift"],
)
def test_train_runs_the_notebooks_loop(fast, settings):
    """One loop, not two that drift: the notebook's cell and train() give identical histories."""
    source = the_cell(containing="for epoch in range(1, epochs + 1):")
    for required in ("randomize(", "get_next_batch(", "step(x_batch, y_batch)", "history.end_epoch("):
        assert required in source
    shown = run_cell(source, loop_namespace(fast, **settings))
    helper = loop_namespace(fast, **settings)
    history = training.train(
        helper["model"],
        helper["x_train_seq"],
        helper["y_train"],
        helper["x_valid_seq"],
        helper["y_valid"],
        epochs=helper["epochs"],
        batch_size=helper["batch_size"],
        display_freq=helper["display_freq"],
        seed=helper["seed"],
        optimizer=helper["optimizer"],
        augment_shift=helper["augment_shift"],
        label_smoothing=helper["label_smoothing"],
        fast=fast,
        log=None,
    )
    a, b = shown["history"].as_dict(), history.as_dict()
    a.pop("epoch_seconds"), b.pop("epoch_seconds")
    assert a == b
    assert len(a["val_accuracy"]) == 2 and len(a["logged"]) == 2 * 3  # iterations 0, 7, 14 of 20
    for x, y in zip(shown["model"].get_weights(), helper["model"].get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def parameters_cell(notebook: Path) -> dict:
    cells = json.loads(notebook.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{notebook.name} needs exactly one cell tagged 'parameters'"
    values = {}
    for node in ast.parse("".join(tagged[0]["source"])).body:
        assert isinstance(node, ast.Assign), f"{notebook.name}: the parameters cell holds only assignments"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_parameters_cells_match_the_declared_parameters(name):
    cell = parameters_cell(NOTEBOOKS_DIR / f"{name}.ipynb")
    declared = declared_defaults(name)
    assert list(cell) == list(declared), "same names, in the declared order"
    for key, value in declared.items():
        assert cell[key] == value and type(cell[key]) is type(value), key


def test_every_notebook_with_a_parameters_cell_is_declared():
    for notebook in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        if any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells):
            assert notebook.stem in NOTEBOOKS, (
                f"declare {notebook.stem}'s parameters in rnn_helpers/parameters.py"
            )


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_are_committed_executed_and_clean(notebook):
    """Run top to bottom in a fresh kernel, with their outputs, small figures, no paths of the
    machine that ran them, and no timing metadata (which makes every re-run a large diff)."""
    import base64

    cells = json.loads(notebook.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "run top to bottom once"
    root = str(Path(__file__).resolve().parents[1])
    for cell in code:
        assert "execution" not in cell["metadata"] and "papermill" not in cell["metadata"]
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", "".join(cell["source"])[:80]
            text = json.dumps(output)
            assert root not in text and str(Path.home()) + "/" not in text, "a path of this machine"
            png = output.get("data", {}).get("image/png")
            if png:
                assert len(base64.b64decode(png)) < 150_000, "a figure over 150 KB"
