"""The papermill sweep helper: one folder per run, a table, resuming, failures recorded."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_notebooks import NB01, need

from rnn_helpers.sweep import (
    describe,
    expand_spec,
    format_table,
    grid,
    load_results,
    main,
    parse_value,
    run_name,
    run_sweep,
    write_table,
)


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
    runs = load_results(root)
    assert [r["run"] for r in runs] == [r["run"] for r in rows]
    assert len(runs[0]["history"]["val_accuracy"]) == 1 and runs[2]["history"] is None
    assert runs[0]["history"]["val_accuracy"][-1] == rows[0]["val_accuracy"]
    assert "history" not in format_table(runs).splitlines()[0]  # the curves stay out of the table

    # Run again: finished runs are skipped (their files untouched), the failed one is retried.
    stamp = (root / rows[0]["run"] / "metrics.json").stat().st_mtime_ns
    again = run_sweep(NB01, sets, root, kernel_name="python3", progress=False)
    assert [r["status"] for r in again] == ["skipped: done before", "skipped: done before", "failed"]
    assert again[0]["test_accuracy"] == rows[0]["test_accuracy"]
    assert (root / rows[0]["run"] / "metrics.json").stat().st_mtime_ns == stamp
    assert Path(root / "results.csv").is_file()


def test_expand_spec_combines_parameters_runs_and_grid():
    spec = {
        "parameters": {"epochs": 30, "learning_rate": 0.002},
        "runs": [{"learning_rate": 0.001}, {"augment_shift": 1}],
        "grid": {"seed": [1, 2]},
    }
    assert expand_spec(spec) == [
        {"epochs": 30, "learning_rate": 0.001, "seed": 1},
        {"epochs": 30, "learning_rate": 0.001, "seed": 2},
        {"epochs": 30, "learning_rate": 0.002, "augment_shift": 1, "seed": 1},
        {"epochs": 30, "learning_rate": 0.002, "augment_shift": 1, "seed": 2},
    ]
    assert expand_spec({"grid": {"cell": ["rnn", "gru"]}}) == [{"cell": "rnn"}, {"cell": "gru"}]
    assert expand_spec({}) == [{}]


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"grdi": {"cell": ["rnn"]}}, "Unknown key(s) in the sweep description: grdi"),
        ({"runs": {"cell": "rnn"}}, "'runs' must be a list of parameter dicts"),
        ({"grid": {"cell": "rnn"}}, "'grid' must map each parameter name to a non-empty list"),
        ({"grid": {"cell": []}}, "'grid' must map each parameter name to a non-empty list"),
    ],
)
def test_bad_spec_is_explained(spec, message):
    with pytest.raises(ValueError) as info:
        expand_spec(spec)
    assert message in str(info.value)


def test_parse_value_reads_like_papermill():
    assert parse_value("3") == 3 and parse_value("0.002") == 0.002 and parse_value("1e-4") == 1e-4
    assert parse_value("None") is None and parse_value("null") is None
    assert parse_value("True") is True
    assert parse_value("lstm") == "lstm" and parse_value("[1, 2]") == "[1, 2]"


def test_a_repeated_parameter_set_is_refused(tmp_path):
    with pytest.raises(ValueError, match="more than once: cell=rnn"):
        run_sweep(NB01, [{"cell": "rnn"}, {"cell": "rnn"}], tmp_path, progress=False)
    assert not (tmp_path / "results.csv").exists()


def test_load_results_says_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the sweep first"):
        load_results(tmp_path)


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "--notebook and --output, or a description"),
        (["--notebook", "missing.ipynb", "--output", "x"], "no notebook at missing.ipynb"),
        (["--notebook", str(NB01), "--output", "x", "-p", "cell"], "-p cell needs at least one value"),
        (["nowhere.yaml"], "cannot read the sweep description nowhere.yaml"),
    ],
)
def test_command_line_mistakes_are_explained(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_shipped_sweep_descriptions_are_valid():
    import yaml

    specs = sorted((Path(__file__).parents[1] / "sweeps").glob("*.yaml"))
    assert specs, "the repository ships its sweep descriptions in sweeps/"
    for path in specs:
        spec = yaml.safe_load(path.read_text())
        assert (path.parent / spec["notebook"]).is_file(), path
        sets = expand_spec(spec)
        assert len({run_name(s) for s in sets}) == len(sets) > 1, path
        assert all(str(s.get("dataset", "mnist")) == "mnist" for s in sets)


@pytest.mark.slow
def test_command_line_sweep_from_a_description(tmp_path):
    import subprocess
    import sys

    need("mnist")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        f"""
notebook: {NB01}
output: out
parameters: {{n_train: 500, num_hidden_units: 8, epochs: 1, display_freq: 50}}
runs:
  - {{}}
  - {{augment_shift: 1, ema_momentum: 0.9}}
"""
    )
    result = subprocess.run(
        [sys.executable, "-m", "rnn_helpers.sweep", str(spec), "--kernel", "python3", "-p", "seed", "3"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = load_results(tmp_path / "out")  # the output folder is relative to the description
    assert [r["status"] for r in runs] == ["done", "done"]
    assert runs[1]["augment_shift"] == 1 and runs[1]["seed"] == 3
    metrics = json.loads((tmp_path / "out" / runs[1]["run"] / "metrics.json").read_text())
    assert metrics["parameters"]["ema_momentum"] == 0.9 and metrics["parameters"]["augment_shift"] == 1
    assert "2 runs; table in" in result.stdout and runs[0]["run"] in result.stdout


def test_describe_names_what_differs_from_the_defaults():
    run = {"run": "x", "augment_shift": 1, "epochs": 30, "learning_rate": 0.001, "val_accuracy": 0.98}
    assert describe(run) == "epochs=30, augment_shift=1"  # in the defaults' order; results ignored
    assert describe({"epochs": 10, "history": None}) == "defaults"
    assert describe({"clip_norm": None, "lr_schedule": "constant"}) == "lr_schedule=constant, clip_norm=None"
    assert describe({"a": 2}, defaults={"a": 1}) == "a=2"


def test_an_unknown_kernel_stops_the_sweep_before_any_run(tmp_path):
    with pytest.raises(ValueError, match="Jupyter has no kernel named 'no-such-kernel'. Register"):
        run_sweep(NB01, [{"epochs": 1}], tmp_path / "sweep", kernel_name="no-such-kernel", progress=False)
    assert not (tmp_path / "sweep").exists()
