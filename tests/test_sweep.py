"""The papermill sweep helper: one folder per run, a table, resuming, failures recorded."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_notebooks import NB01, need

from rnn_helpers.sweep import format_table, grid, run_name, run_sweep, write_table


def test_grid_and_run_names():
    assert grid(cell=["rnn", "gru"], epochs=[1, 2]) == [
        {"cell": "rnn", "epochs": 1},
        {"cell": "rnn", "epochs": 2},
        {"cell": "gru", "epochs": 1},
        {"cell": "gru", "epochs": 2},
    ]
    assert grid() == [{}]
    assert run_name({"cell": "lstm", "learning_rate": 0.01}) == "cell=lstm,learning_rate=0.01"
    assert run_name({"data_dir": "/a b/c"}) == "data_dir=_a_b_c"
    assert run_name({}) == "defaults"


def test_table_helpers(tmp_path):
    rows = [
        {"run": "a", "cell": "rnn", "status": "done", "test_accuracy": 0.9712, "seconds_per_epoch": 2.84},
        {"run": "b", "cell": "gru", "status": "failed", "error": "ParameterError: epochs = 0"},
    ]
    text = format_table(rows)
    assert "97.12%" in text and "2.8" in text and "ParameterError" in text
    path = write_table(rows, tmp_path / "results.csv")
    read = list(csv.DictReader(path.open()))
    assert [r["run"] for r in read] == ["a", "b"] and read[0]["test_accuracy"] == "0.9712"
    assert list(read[0])[:2] == ["run", "cell"]


@pytest.mark.slow
def test_sweep_runs_records_failures_and_resumes(tmp_path):
    need("mnist")
    common = {"n_train": 1000, "num_hidden_units": 16, "display_freq": 50}
    sets = [
        {"cell": "rnn", "epochs": 1, **common},
        {"cell": "gru", "epochs": 1, **common},
        {"cell": "rnn", "epochs": 0, **common},  # a bad parameter: this run fails
    ]
    root = tmp_path / "sweep"
    rows = run_sweep(NB01, sets, root, kernel_name="python3", progress=False)
    assert [r["status"] for r in rows] == ["done", "done", "failed"]
    for row in rows[:2]:
        metrics = json.loads((root / row["run"] / "metrics.json").read_text())
        assert row["test_accuracy"] == metrics["test"]["accuracy"] and 0 <= row["test_accuracy"] <= 1
        assert row["val_accuracy"] == metrics["final"]["val_accuracy"]
        assert row["parameter_count"] == metrics["parameter_count"] > 0 and row["seconds_per_epoch"] > 0
        assert metrics["parameters"]["cell"] == row["cell"]
        assert (root / row["run"] / NB01.name).is_file()
    assert rows[1]["parameter_count"] > rows[0]["parameter_count"]  # a GRU has three times the weights
    assert rows[2]["error"].startswith("ParameterError: epochs = 0")
    assert (root / rows[2]["run"] / "error.json").is_file()
    table = list(csv.DictReader((root / "results.csv").open()))
    assert [r["status"] for r in table] == ["done", "done", "failed"]

    # Run again: finished runs are skipped (their files untouched), the failed one is retried.
    stamp = (root / rows[0]["run"] / "metrics.json").stat().st_mtime_ns
    again = run_sweep(NB01, sets, root, kernel_name="python3", progress=False)
    assert [r["status"] for r in again] == ["skipped: done before", "skipped: done before", "failed"]
    assert again[0]["test_accuracy"] == rows[0]["test_accuracy"]
    assert (root / rows[0]["run"] / "metrics.json").stat().st_mtime_ns == stamp
    assert Path(root / "results.csv").is_file()
