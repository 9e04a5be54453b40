"""The code notebook 01 shows is the code that runs, and the package's code it shows is the
package's: its network, optimiser, training step and loop, taken from the notebook itself,
equal ``rnn_helpers`` (which notebooks 02 and 03 and the sweeps' experiment use); the
helpers it displays are the package's current source; every notebook's parameters cell
matches the declared parameters, and every notebook reads like a lesson (short cells, a
few lines of imports)."""

from __future__ import annotations

import ast
import inspect
import io
import json
import linecache
import os
import re
from contextlib import redirect_stdout
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnn_helpers.training as training
from rnn_helpers import get_next_batch, randomize
from rnn_helpers.evaluation import evaluate
from rnn_helpers.model import RNN, OutputLayer, bias_variable, weight_variable
from rnn_helpers.plotting import plot_example_errors, plot_images
from rnn_helpers.runs.parameters import NOTEBOOKS, declared_defaults, parse_assignments

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
NB01 = NOTEBOOKS_DIR / "01_vanilla_rnn_mnist.ipynb"
ALL_NOTEBOOKS = [*sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ROOT / "sweeps" / "experiment.ipynb"]


def code_cells(notebook: Path) -> list[dict]:
    return [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def the_cell(starting: str | None = None, containing: str | None = None, notebook: Path = NB01) -> str:
    """The one code cell of a notebook that starts with / contains the given text."""
    found = [
        source(c)
        for c in code_cells(notebook)
        if (starting is None or source(c).startswith(starting))
        and (containing is None or containing in source(c))
    ]
    assert len(found) == 1, f"expected one cell ({starting!r}, {containing!r}), found {len(found)}"
    return found[0]


def run_cell(text: str, namespace: dict) -> dict:
    """Run a cell's source in ``namespace`` (its source registered, so that AutoGraph finds it)."""
    filename = f"<notebook cell {abs(hash(text))}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 (the notebook's own code)
    return namespace


def notebook_rnn():
    return run_cell(the_cell(starting="def RNN("), {"keras": keras, "OutputLayer": OutputLayer})["RNN"]


def test_the_network_the_notebook_defines_is_rnn_helpers_model_rnn():
    seed, units = 3, 16
    keras.utils.set_random_seed(seed)
    W, b = weight_variable((units, 10), seed=seed), bias_variable((10,))
    shown = notebook_rnn()(28, 28, units, W, b)
    keras.utils.set_random_seed(seed)
    helper = RNN(28, 28, units, 10, seed=seed)
    assert [type(layer) for layer in shown.layers] == [type(layer) for layer in helper.layers]
    assert [layer.name for layer in shown.layers] == [layer.name for layer in helper.layers]
    assert shown.name == helper.name and shown.count_params() == helper.count_params()
    assert shown.get_layer("rnn").get_config() == helper.get_layer("rnn").get_config()  # unroll, initialisers
    assert shown.get_layer("rnn").unroll is True
    assert shown.get_layer("output").W is W  # the notebook's W and b are the ones the model uses
    for a, b_ in zip(shown.get_weights(), helper.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b_)  # same seed, same starting weights
    x = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(shown(x)), np.asarray(helper(x)))


def test_a_model_of_the_notebook_saves_and_reloads(tmp_path):
    model = notebook_rnn()(28, 28, 8, weight_variable((8, 10), seed=1), bias_variable((10,)))
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    x = np.random.default_rng(1).random((3, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))


@pytest.mark.parametrize("lr_schedule,clip_norm", [("cosine", 1.0), ("constant", None), ("cosine", None)])
def test_the_notebooks_optimizer_is_make_optimizer(lr_schedule, clip_norm):
    values = {"learning_rate": 0.002, "epochs": 3, "num_tr_iter": 40, "lr_schedule": lr_schedule,
              "clip_norm": clip_norm}  # fmt: skip
    shown = run_cell(the_cell(starting="loss_fn = "), {"keras": keras, **values})["optimizer"]
    helper = training.make_optimizer(0.002, lr_schedule=lr_schedule, total_steps=120, clip_norm=clip_norm)
    config = {k: v for k, v in shown.get_config().items() if k != "name"}
    assert type(shown) is type(helper) and config == {
        k: v for k, v in helper.get_config().items() if k != "name"
    }


def test_the_notebooks_train_step_is_make_train_step():
    x = np.random.default_rng(2).random((20, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(20) % 10]
    results = []
    for origin in ("notebook", "helper"):
        keras.utils.set_random_seed(5)
        model = RNN(num_hidden_units=8, seed=5)
        optimizer = keras.optimizers.Adam(0.01, clipnorm=0.1)
        loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
        if origin == "notebook":
            namespace = {"tf": tf, "model": model, "loss_fn": loss_fn, "optimizer": optimizer}
            step = run_cell(the_cell(starting="@tf.function\ndef train_step("), namespace)["train_step"]
        else:
            step = training.make_train_step(model, optimizer, loss_fn)
        outputs = [tuple(float(v) for v in step(x, y)) for _ in range(3)]
        results.append((outputs, model.get_weights()))
    assert results[0][0] == results[1][0] and len(results[0][0][0]) == 3  # loss, accuracy, gradient norm
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def loop_namespace(tmp_path: Path) -> dict:
    """What the notebook's training-loop cell needs, for a small synthetic run."""
    rng = np.random.default_rng(0)
    x = rng.random((400, 28, 28), dtype=np.float32)
    x[:, :, :14] *= (np.arange(400) % 2)[:, None, None]  # a learnable difference between two classes
    y = np.eye(10, dtype=np.float32)[np.arange(400) % 2]
    keras.utils.set_random_seed(1)
    model = RNN(num_hidden_units=12, seed=1)
    optimizer = training.make_optimizer(0.01, lr_schedule="cosine", total_steps=40, clip_norm=1.0)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    run = type("Run", (), {"path": tmp_path})()
    values = {"seed": 4, "epochs": 2, "batch_size": 20, "display_freq": 7, "n_classes": 10, "num_tr_iter": 20}
    return {
        **values, "np": np, "model": model, "optimizer": optimizer, "run": run,
        "train_step": training.make_train_step(model, optimizer, loss_fn),
        "x_train_seq": x, "y_train": y, "x_valid_seq": x[:100], "y_valid": y[:100],
        "History": training.History, "randomize": randomize, "get_next_batch": get_next_batch,
        "evaluate": evaluate,
    }  # fmt: skip


def test_train_runs_the_notebooks_loop(tmp_path):
    """One loop, not two that drift: the notebook's cell and train() give identical histories,
    weights and printed lines."""
    cell = the_cell(containing="for epoch in range(epochs):")
    for required in ("randomize(", "get_next_batch(", "train_step(x_batch, y_batch)", "history.end_epoch("):
        assert required in cell
    printed_by_notebook = io.StringIO()
    with redirect_stdout(printed_by_notebook):
        shown = run_cell(cell, loop_namespace(tmp_path / "notebook"))
    helper = loop_namespace(tmp_path / "helper")
    printed_by_train: list[str] = []
    history = training.train(
        helper["model"], helper["x_train_seq"], helper["y_train"], helper["x_valid_seq"], helper["y_valid"],
        epochs=2, batch_size=20, display_freq=7, seed=4, optimizer=helper["optimizer"],
        log_dir=tmp_path / "helper" / "logs", log=printed_by_train.append,
    )  # fmt: skip
    a, b = shown["history"].as_dict(), history.as_dict()
    a.pop("epoch_seconds"), b.pop("epoch_seconds")
    assert a == b
    assert len(a["val_accuracy"]) == 2 and len(a["logged"]) == 2 * 3  # iterations 0, 7, 14 of 20
    assert printed_by_notebook.getvalue().splitlines() == printed_by_train
    for x, y in zip(shown["model"].get_weights(), helper["model"].get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert sorted(p.name for p in (tmp_path / "notebook" / "logs").iterdir()) == ["train", "validation"]


SHOWN = (randomize, get_next_batch, weight_variable, bias_variable, plot_images, plot_example_errors)


def test_the_helpers_notebook_01_shows_are_the_packages_current_code():
    shown = []
    for cell in code_cells(NB01):
        if source(cell).startswith("show_source("):
            names = re.findall(r"\w+", source(cell)[len("show_source(") :])
            markdown = "".join("".join(o["data"]["text/markdown"]) for o in cell["outputs"] if "data" in o)
            expected = "\n\n\n".join(inspect.getsource(f).rstrip() for f in SHOWN if f.__name__ in names)
            assert markdown == f"```python\n{expected}\n```", f"re-execute notebook 01: {names} changed"
            shown += names
    assert sorted(shown) == sorted(f.__name__ for f in SHOWN)


def parameters_cell(notebook: Path) -> dict:
    cells = json.loads(notebook.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{notebook.name} needs exactly one cell tagged 'parameters'"
    body = ast.parse(source(tagged[0])).body
    assert all(isinstance(node, ast.Assign) for node in body), f"{notebook.name}: only assignments"
    return parse_assignments(source(tagged[0]))


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cells_match_the_declared_parameters(notebook):
    assert notebook.stem in NOTEBOOKS, (
        f"declare {notebook.stem}'s parameters in rnn_helpers/runs/parameters.py"
    )
    cell, declared = parameters_cell(notebook), declared_defaults(notebook.stem)
    assert list(cell) == list(declared), "same names, in the declared order"
    for key, value in declared.items():
        assert cell[key] == value and type(cell[key]) is type(value), key


def code_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_reads_like_a_lesson(notebook):
    """A few lines of imports, and short cells: one idea each (the parameters cell aside)."""
    cells = code_cells(notebook)
    imports = [
        line
        for c in cells
        for line in source(c).splitlines()
        if re.match(r"\s*(from\s+\S+\s+)?import\s", line)
    ]
    assert len(imports) <= 10, imports
    lesson = [c for c in cells if "parameters" not in c["metadata"].get("tags", [])]
    long = [source(c)[:60] for c in lesson if len(code_lines(source(c))) > 15]
    assert not long, long


def test_notebook_01_shows_the_lesson_not_the_machinery():
    code = "\n".join(source(c) for c in code_cells(NB01))
    machinery = (
        "make_fast_train_step",
        "fast_gradients",
        "RunFolder",
        "check_notebook_parameters",
        "averaged_weights",
        "smooth_labels",
        "random_shift",
        "globals().update",
        "rnn_helpers.fast",
    )
    for name in machinery:
        assert name not in code, name
    assert "loss_batch, acc_batch, gradient_norm = train_step(x_batch, y_batch)" in code


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_executed_and_clean(notebook):
    """Run top to bottom in a fresh kernel, with their outputs, small figures, no paths of the
    machine that ran them, and no timing metadata (which makes every re-run a large diff)."""
    import base64

    code = [c for c in code_cells(notebook) if source(c).strip()]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "run top to bottom once"
    for cell in code:
        assert "execution" not in cell["metadata"] and "papermill" not in cell["metadata"]
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", source(cell)[:80]
            text = json.dumps(output)
            assert str(ROOT) not in text and str(Path.home()) + "/" not in text, "a path of this machine"
            assert not re.search(r"/(tmp|work|root|home)/[A-Za-z0-9_.-]+", text), "a path of this machine"
            png = output.get("data", {}).get("image/png")
            if png:
                assert len(base64.b64decode(png)) < 150_000, "a figure over 150 KB"
