"""The notebooks run end to end with papermill, with tiny parameters, and refuse bad ones.

(``pytest --nbval`` separately re-executes the committed notebooks and compares outputs.)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import papermill
import pytest

from conftest import require_data
from rnn_helpers import DataNotFoundError, load_data
from rnn_helpers.data import locate_files
from rnn_helpers.runs import report
from rnn_helpers.runs.folders import RunFolder
from rnn_helpers.runs.parameters import EXPERIMENT_LEVERS

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NB01 = NOTEBOOKS / "01_vanilla_rnn_mnist.ipynb"
NB02 = NOTEBOOKS / "02_inside_the_rnn.ipynb"
NB03 = NOTEBOOKS / "03_cells_and_tuning.ipynb"
EXPERIMENT = NOTEBOOKS.parent / "sweeps" / "experiment.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def need(dataset: str) -> None:
    """Skip unless ``dataset`` is on this machine (fail instead where the data is required)."""
    try:
        load_data("test", dataset, download=False)
    except DataNotFoundError:
        if require_data():
            raise
        pytest.skip(f"{dataset} is not available on this machine (see docs/data.md)")


@pytest.fixture(scope="module", autouse=True)
def needs_mnist():
    need("mnist")


def run(notebook: Path, tmp_path: Path, **parameters) -> Path:
    """Execute ``notebook`` with papermill in its own folder; return the executed copy's path."""
    executed = tmp_path / f"executed-{notebook.name}"
    papermill.execute_notebook(
        notebook,
        executed,
        parameters=parameters,
        kernel_name="python3",  # the kernel of the environment running the tests
        cwd=str(notebook.parent),
        progress_bar=False,
    )
    return executed


def test_nb01_quick_run_writes_sensible_results(tmp_path):
    out = tmp_path / "out"
    run(
        NB01,
        tmp_path,
        epochs=1,
        n_train=3000,
        display_freq=10,
        num_hidden_units=64,
        seed=3,
        output_dir=str(out),
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["parameters"]["epochs"] == 1 and metrics["parameters"]["num_hidden_units"] == 64
    assert metrics["data"] == {"dataset": "mnist", "n_train": 3000, "n_valid": 5000, "n_test": 10000}
    assert 0.4 < metrics["test"]["accuracy"] <= 1.0, "well above chance (0.1) after one short epoch"
    assert 0 < metrics["test"]["loss"] < 2.2  # ln(10) = 2.30 would be no learning at all
    assert len(metrics["history"]["val_accuracy"]) == 1
    assert len(metrics["history"]["logged"]) == 3  # iterations 0, 10 and 20 of 30
    assert metrics["training_seconds"] > 0 and metrics["versions"]["tensorflow"].startswith("2.21")
    assert set(metrics["parameters"]).isdisjoint(EXPERIMENT_LEVERS)
    for name in ("training_curves", "correct_examples", "misclassified_examples", "confusion_matrix"):
        assert (out / f"{name}.png").stat().st_size > 5000
    assert (out / "model.keras").is_file()


def test_nb01_runs_unchanged_on_fashion_mnist(tmp_path):
    need("fashion_mnist")
    out = tmp_path / "out"
    executed = run(NB01, tmp_path, dataset="fashion_mnist", epochs=1, n_train=5000, output_dir=str(out))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["dataset"] == "fashion_mnist"
    assert 0.35 < metrics["test"]["accuracy"] <= 1.0  # chance is 0.1
    text = executed.read_text()
    assert "read as" in text and any(name in text for name in ("Shirt", "Pullover", "Coat", "T-shirt/top"))


def test_the_experiment_notebook_with_its_defaults_is_notebook_01(tmp_path):
    """The sweeps' experiment, with no lever moved, gives notebook 01's numbers exactly."""
    common = {"epochs": 1, "n_train": 2000, "num_hidden_units": 32, "seed": 6, "display_freq": 5}
    run(NB01, tmp_path, output_dir=str(tmp_path / "lesson"), **common)
    run(EXPERIMENT, tmp_path, output_dir=str(tmp_path / "experiment"), **common)
    lesson, experiment = (
        json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("lesson", "experiment")
    )
    for record in (lesson, experiment):
        record["history"].pop("epoch_seconds")
    assert experiment["history"] == lesson["history"] and experiment["test"] == lesson["test"]
    assert {k: experiment["parameters"][k] for k in lesson["parameters"] if k != "output_dir"} == {
        k: v for k, v in lesson["parameters"].items() if k != "output_dir"
    }


def previous_results(out: Path) -> dict[str, str]:
    """A complete earlier run in ``out``, as RunFolder leaves it."""
    out.mkdir(parents=True)
    files = {"metrics.json": '{"test": "previous"}', "model.keras": "previous model"}
    for name, text in files.items():
        (out / name).write_text(text)
    (out / ".run.json").write_text(json.dumps({"files": sorted(files)}))
    return files


def contents(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in out.iterdir() if p.name != ".run.json"}


def truncated_test_images(tmp_path: Path) -> str:
    folder = tmp_path / "damaged"
    folder.mkdir()
    for path in locate_files("mnist", download=False).values():
        (folder / path.name).write_bytes(path.read_bytes())
    damaged = next(folder.glob("t10k-images*"))
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    return str(folder)


@pytest.mark.parametrize(
    "case",
    ["unknown_name", "truncated_test_file", "output_dir_in_proc", "hidden_units", "data_dir_missing"],
)
def test_nb01_fails_before_training_and_keeps_the_previous_results(tmp_path, case):
    out = tmp_path / "out"
    previous = previous_results(out)
    parameters, error, message = {
        "unknown_name": (
            {"epoch": 3},
            "ParameterError",
            "Unknown parameter(s) for 01_vanilla_rnn_mnist: epoch.",
        ),
        "truncated_test_file": ({}, "DataFileError", "the file is truncated"),
        "output_dir_in_proc": (
            {"output_dir": "/proc/forbidden"},
            "OutputDirError",
            "output_dir = '/proc/forbidden'",
        ),
        "hidden_units": ({"num_hidden_units": 100000}, "ParameterError", "at most 4096"),
        "data_dir_missing": ({"data_dir": "/nonexistent/mnist"}, "DataNotFoundError", "does not exist"),
    }[case]
    if case == "truncated_test_file":
        parameters["data_dir"] = truncated_test_images(tmp_path)
    parameters = {"output_dir": str(out), **parameters}
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(NB01, tmp_path, **parameters)
    assert info.value.ename == error and message in info.value.evalue, info.value.evalue
    executed = (tmp_path / f"executed-{NB01.name}").read_text()
    assert "Training epoch: 1" not in executed, "it must stop before any training"
    assert contents(out) == previous
    assert not list(tmp_path.glob(".out.partial-*"))


def test_nb01_refuses_a_second_run_into_a_busy_folder(tmp_path):
    out = tmp_path / "out"
    previous = previous_results(out)
    busy = RunFolder.open(str(out), "01_vanilla_rnn_mnist")  # this process stands for a run under way
    try:
        with pytest.raises(papermill.PapermillExecutionError) as info:
            run(NB01, tmp_path, output_dir=str(out), epochs=1, n_train=1000)
        assert info.value.ename == "OutputDirError"
        assert f"another run (process {os.getpid()}) is writing into" in info.value.evalue
    finally:
        busy.discard()
    assert contents(out) == previous


@pytest.mark.parametrize(
    "parameters",
    [
        {
            "learning_rate": 10,
            "lr_schedule": "constant",
        },  # a whole number, as papermill passes "-p learning_rate 10"
        {"learning_rate": 1e6, "clip_norm": None, "lr_schedule": "constant"},
    ],
    ids=["lr-10", "lr-1e6-no-clipping"],
)
def test_nb01_stops_training_that_does_not_learn(tmp_path, parameters):
    out = tmp_path / "out"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(NB01, tmp_path, output_dir=str(out), epochs=2, n_train=10000, **parameters)
    assert info.value.ename == "TrainingNotLearning"
    assert "After epoch 1" in info.value.evalue and "Try a smaller learning_rate" in info.value.evalue
    assert not out.exists(), "nothing of a failed run is left"


@pytest.mark.parametrize(
    "parameters,message",
    [
        ({"epochs": 0}, "epochs = 0: it must be a whole number >= 1"),
        ({"learning_rate": -0.001}, "learning_rate = -0.001: it must be a number > 0"),
        ({"dataset": "cifar10"}, "dataset = 'cifar10': unknown"),
        ({"batch_size": 60000}, "batch_size = 60000 is larger than the training set (55000 examples)"),
        ({"n_train": 100000}, "n_train = 100000: the training set has only 55,000 images"),
    ],
    ids=["epochs", "learning_rate", "dataset", "batch_size", "n_train"],
)
def test_nb01_bad_parameters_fail_clearly(tmp_path, parameters, message):
    out = tmp_path / "out"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(NB01, tmp_path, output_dir=str(out), **parameters)
    assert info.value.ename == "ParameterError"
    assert message in info.value.evalue
    assert not (out / "metrics.json").exists() and not (out / "model.keras").exists()


def test_nb02_quick_run_and_reload_from_nb01(tmp_path):
    out02 = tmp_path / "out02"
    run(NB02, tmp_path, epochs=1, n_train=3000, num_hidden_units=64, seed=3, output_dir=str(out02))
    metrics = json.loads((out02 / "metrics.json").read_text())
    assert 0.4 < metrics["test"]["accuracy"] <= 1.0
    early = metrics["accuracy_by_rows"]
    assert len(early) == 28 and early[-1] == metrics["test"]["accuracy"]
    assert metrics["spectral_radius"]["before"] == pytest.approx(1.0, abs=1e-3)  # orthogonal start
    for name in (
        "prediction_over_rows",
        "accuracy_by_rows",
        "hidden_state",
        "final_states_pca",
        "recurrent_spectrum",
    ):
        assert (out02 / f"{name}.png").stat().st_size > 5000

    # notebook 02 analyses the very model notebook 01 trained and saved
    out01 = tmp_path / "out01"
    run(NB01, tmp_path, epochs=1, n_train=2000, seed=5, num_hidden_units=64, output_dir=str(out01))
    trained = json.loads((out01 / "metrics.json").read_text())["test"]["accuracy"]
    out_reload = tmp_path / "reload"
    executed = run(NB02, tmp_path, model_dir=str(out01), output_dir=str(out_reload))
    reloaded = json.loads((out_reload / "metrics.json").read_text())
    assert reloaded["test"]["accuracy"] == pytest.approx(trained)
    assert "Training epoch" not in executed.read_text()
    # what is recorded describes the reloaded 64-unit model, not this notebook's defaults (128, seed 42)
    about = reloaded["about_model"]
    assert about["source"] == "reloaded" and about["num_hidden_units"] == 64 and about["seed"] == 5
    assert about["trained_with"]["num_hidden_units"] == 64 and about["trained_with"]["epochs"] == 1
    assert reloaded["spectral_radius"]["before"] == pytest.approx(1.0, abs=1e-3)
    assert "64 hidden units" in executed.read_text()

    # a damaged model file is named as such
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "model.keras").write_bytes((out01 / "model.keras").read_bytes()[:5000])
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(NB02, tmp_path, model_dir=str(damaged), output_dir=str(tmp_path / "out-damaged"))
    assert (
        info.value.ename == "ValueError" and "exists but cannot be read as a Keras model" in info.value.evalue
    )

    # a model of another shape, or training parameters beside model_dir, are named as such
    from rnn_helpers.model import RNN

    other_shape = tmp_path / "other-shape"
    other_shape.mkdir()
    RNN(timesteps=14, num_input=56, num_hidden_units=8).save(other_shape / "model.keras")
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(NB02, tmp_path, model_dir=str(other_shape), output_dir=str(tmp_path / "other"))
    assert (
        info.value.ename == "ValueError" and "inputs of 14x56 and 10 classes, but here" in info.value.evalue
    )
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(NB02, tmp_path, model_dir=str(out01), num_hidden_units=32, output_dir=str(tmp_path / "other"))
    assert (
        info.value.ename == "ParameterError"
        and "num_hidden_units: these train a new model" in info.value.evalue
    )


def test_nb02_runs_unchanged_on_fashion_mnist(tmp_path):
    need("fashion_mnist")
    out = tmp_path / "out"
    executed = run(NB02, tmp_path, dataset="fashion_mnist", epochs=1, n_train=5000, output_dir=str(out))
    assert json.loads((out / "metrics.json").read_text())["test"]["accuracy"] > 0.35
    assert "Ankle boot" in executed.read_text()  # the class table names the classes


@pytest.mark.parametrize(
    "parameters,error,message",
    [
        ({"epochs": 0}, "ParameterError", "epochs = 0"),
        ({"model_dir": "/nonexistent/run"}, "FileNotFoundError", "Run notebook 01 with -p output_dir"),
    ],
    ids=["epochs", "model_dir"],
)
def test_nb02_bad_parameters_fail_clearly(tmp_path, parameters, error, message):
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(NB02, tmp_path, output_dir=str(tmp_path / "out"), **parameters)
    assert info.value.ename == error and message in info.value.evalue


def test_the_experiments_levers_reach_the_run(tmp_path):
    out = tmp_path / "out"
    executed = run(
        EXPERIMENT,
        tmp_path,
        epochs=2,
        learning_rate=0.005,
        n_train=3000,
        num_hidden_units=32,
        augment_shift=1,
        weight_decay=1e-4,
        ema_momentum=0.9,
        label_smoothing=0.1,
        augment_rotation=5.0,
        augment_scale=0.05,
        warmup_epochs=0.5,
        normalize_inputs=True,
        fast=True,
        cell="gru",
        output_dir=str(out),
    )  # fmt: skip (ema 0.9: a short run needs a short average, about 10 steps)
    metrics = json.loads((out / "metrics.json").read_text())
    recorded = {k: metrics["parameters"][k] for k in EXPERIMENT_LEVERS}
    levers = {"cell": "gru", "fast": True, "augment_shift": 1, "weight_decay": 1e-4, "ema_momentum": 0.9}
    levers |= {"augment_rotation": 5.0, "augment_scale": 0.05, "warmup_epochs": 0.5, "normalize_inputs": True}
    assert recorded == {**levers, "label_smoothing": 0.1, "recurrent_init": "orthogonal"}  # its default
    assert 0.3 < metrics["test"]["accuracy"] <= 1.0
    assert metrics["parameter_count"] == 3 * (28 * 32 + 32 * 32 + 2 * 32) + 32 * 10 + 10  # a GRU's
    assert "gru_rnn" in executed.read_text() and "fast training step" in executed.read_text()
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["train", "validation"]


def test_nb03_quick_run_shows_the_sweeps_results(tmp_path):
    """A short head-to-head of its own, and the sweeps' tables and choice from the results it
    is given (a copy of the committed ones, with one run's test accuracy changed, so that
    the page is seen to follow the files)."""
    results = tmp_path / "sweeps"
    for sweep in ("cells", "tuning"):
        (results / sweep).mkdir(parents=True)
        shutil.copy(report.results_root() / sweep / "results.json", results / sweep / "results.json")
    tuning = json.loads((results / "tuning" / "results.json").read_text())
    final = report.final_group(tuning["runs"])
    final["runs"][0]["test_accuracy"] = 0.9123  # the chosen configuration's first seed
    (results / "tuning" / "results.json").write_text(json.dumps(tuning))
    out = tmp_path / "out"
    executed = run(
        NB03,
        tmp_path,
        epochs=2,
        learning_rate=0.005,
        n_train=3000,
        num_hidden_units=32,
        output_dir=str(out),
        results_dir=str(results),
    )
    summary = json.loads((out / "metrics.json").read_text())
    short = summary["short_run"]
    assert [r["cell"] for r in short] == ["vanilla RNN", "GRU", "LSTM"]
    assert short[0]["parameter_count"] < short[1]["parameter_count"] < short[2]["parameter_count"]
    assert all(0.2 < r["test_accuracy"] <= 1 and r["seconds_per_epoch"] > 0 for r in short), short
    assert all(len(h["val_accuracy"]) == 2 for h in summary["short_run_histories"].values())
    changed = report.final_group(tuning["runs"])
    assert summary["chosen"]["seeds"] == changed["seeds"] and len(changed["seeds"]) == 5
    assert summary["chosen"]["test_accuracy"] == pytest.approx(changed["test_accuracy"])
    assert "| 91.23% |" in executed.read_text()  # the changed run, in the seeds table
    for name in ("cells_short", "cells_full", "shifted", "rotated", "tuning"):
        assert (out / f"{name}.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "parameters,error,message",
    [
        ({"epochs": 0}, "ParameterError", "epochs = 0"),
        ({"results_dir": "/nonexistent/sweeps"}, "FileNotFoundError", "Run the sweep (python -m"),
    ],
    ids=["epochs", "results_dir"],
)
def test_nb03_bad_parameters_fail_clearly(tmp_path, parameters, error, message):
    out = tmp_path / "out"
    params = {"epochs": 1, "n_train": 500, "num_hidden_units": 8, **parameters}
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run(NB03, tmp_path, output_dir=str(out), **params)
    assert info.value.ename == error and message in info.value.evalue
    assert not (out / "metrics.json").exists()
