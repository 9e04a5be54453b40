"""The papermill sweep helper: one folder per run, a table, resuming, failures recorded."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_notebooks import EXPERIMENT, need

from rnn_helpers.runs.parameters import check_parameters, declared_defaults
from rnn_helpers.runs.sweep import (
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
    # one formatting rule for printed and Markdown tables
    from rnn_helpers.runs.records import markdown_table

    both = [{"run": "c", "parameter_count": 21386, "val_accuracy": None, "test_accuracy": 0.98765}]
    header, values = (line.split() for line in format_table(both).splitlines())
    printed = dict(zip(header, values, strict=True))
    lines = markdown_table(both, {k: k for k in both[0]}).splitlines()
    markdown = dict(zip(*(cells.strip("| ").split(" | ") for cells in (lines[0], lines[2])), strict=True))
    assert {k: printed[k] for k in markdown} == markdown
    assert markdown == {
        "run": "c",
        "parameter_count": "21,386",
        "val_accuracy": "–",
        "test_accuracy": "98.77%",
    }
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
    rows = run_sweep(EXPERIMENT, sets, root, kernel_name="python3", progress=False)
    assert [r["status"] for r in rows] == ["done", "done", "failed"]
    for row in rows[:2]:
        metrics = json.loads((root / row["run"] / "metrics.json").read_text())
        assert row["test_accuracy"] == metrics["test"]["accuracy"] and 0 <= row["test_accuracy"] <= 1
        assert row["val_accuracy"] == metrics["final"]["val_accuracy"]
        assert row["parameter_count"] == metrics["parameter_count"] > 0 and row["seconds_per_epoch"] > 0
        assert metrics["parameters"]["cell"] == row["cell"]
        assert (root / row["run"] / EXPERIMENT.name).is_file()
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
    again = run_sweep(EXPERIMENT, sets, root, kernel_name="python3", progress=False)
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
        run_sweep(EXPERIMENT, [{"cell": "rnn"}, {"cell": "rnn"}], tmp_path, progress=False)
    assert not (tmp_path / "results.csv").exists()


def test_load_results_says_how_to_get_them(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"No sweep results .*Run the sweep \(python -m rnn_helpers.runs.sweep SPEC.yaml\) to write it",
    ):
        load_results(tmp_path)


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "--notebook and --output, or a description"),
        (["--notebook", "missing.ipynb", "--output", "x"], "no notebook at missing.ipynb"),
        (["--notebook", str(EXPERIMENT), "--output", "x", "-p", "cell"], "-p cell needs at least one value"),
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
        assert all(str(s.get("dataset", "mnist")) in ("mnist", "fashion_mnist") for s in sets)
        for parameters in sets:  # every value passes the experiment notebook's own checks
            check_parameters(**{**declared_defaults("experiment"), **parameters})


@pytest.mark.slow
def test_command_line_sweep_from_a_description(tmp_path):
    import subprocess
    import sys

    need("mnist")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        f"""
notebook: {EXPERIMENT}
output: out
parameters: {{n_train: 500, num_hidden_units: 8, epochs: 1, display_freq: 50}}
runs:
  - {{}}
  - {{augment_shift: 1, ema_momentum: 0.9}}
"""
    )
    result = subprocess.run(
        [sys.executable, "-m", "rnn_helpers.runs.sweep", str(spec), "--kernel", "python3", "-p", "seed", "3"],
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
        run_sweep(
            EXPERIMENT, [{"epochs": 1}], tmp_path / "sweep", kernel_name="no-such-kernel", progress=False
        )
    assert not (tmp_path / "sweep").exists()


def test_the_parameters_cell_of_a_notebook_is_read(tmp_path):
    from sweep_support import write_tiny_notebook

    from rnn_helpers.runs.parameters import parameters_cell as declared_defaults

    notebook = json.loads(write_tiny_notebook(tmp_path / "tiny.ipynb", value=3).read_text())
    assert declared_defaults(notebook) == {"value": 3, "pause": 0.0, "seed": 0, "output_dir": None}
    cell = notebook["cells"][0]
    cell["source"] = "a = 1\nb: float = 2.5\nc = sorted([2, 1])  # not a literal\nd, e = 1, 2\n"
    assert declared_defaults(notebook) == {"a": 1, "b": 2.5, "c": "sorted([2, 1])"}
    cell["source"] = "%env X=1\na = 1"  # not plain Python: the whole cell is the fingerprint
    assert declared_defaults(notebook) == {"(parameters cell)": "%env X=1\na = 1"}
    cell["metadata"]["tags"] = []
    assert declared_defaults(notebook) == {}


def test_previous_run_reuses_only_a_run_made_with_the_same_parameters(tmp_path):
    from rnn_helpers.runs.sweep import RECORD, previous_run, run_parameters

    folder = tmp_path / "run"
    wanted = run_parameters({"epochs": 10, "clip_norm": 1.0, "output_dir": None}, {"epochs": 3})
    assert wanted == {"epochs": 3, "clip_norm": 1.0}  # where a run goes is not what it computes
    assert previous_run(folder, wanted) == ("run", "")
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({"test": {"accuracy": 0.9}}))
    action, why = previous_run(folder, wanted)
    assert action == "rerun" and "neither a sweep-run.json nor the parameters" in why

    # A run from before the record existed: compared through the checked values in metrics.json.
    checked = {"epochs": 3, "clip_norm": 1.0, "output_dir": "/elsewhere", "cell": "rnn"}
    (folder / "metrics.json").write_text(json.dumps({"parameters": checked}))
    assert previous_run(folder, wanted) == ("reuse", "")
    assert previous_run(folder, {**wanted, "cell": "RNN"}) == ("reuse", "")  # checked: lower case
    assert previous_run(folder, {**wanted, "clip_norm": 2.0}) == ("rerun", "clip_norm: 1.0 then, 2.0 now")
    assert previous_run(folder, {**wanted, "augment_shift": 0}) == (
        "rerun",
        "augment_shift: not set then, 0 now",
    )

    # With the record: exactly the same parameters, nothing more and nothing less.
    (folder / RECORD).write_text(json.dumps({"parameters": wanted}))
    assert previous_run(folder, wanted) == ("reuse", "")
    assert previous_run(folder, {**wanted, "cell": "RNN"})[0] == "rerun"
    assert previous_run(folder, {"epochs": 3}) == ("rerun", "clip_norm: 1.0 then, not set now")
    (folder / RECORD).write_text("{not json")
    assert previous_run(folder, wanted) == ("rerun", "its sweep-run.json is unreadable")
    (folder / "error.json").write_text("{}")  # a failed run is run again, whatever it holds
    assert previous_run(folder, wanted) == ("run", "")


@pytest.mark.slow
def test_changed_declared_defaults_make_finished_runs_run_again(tmp_path, capsys):
    """A finished run is reused only while the notebook's defaults stay what they were."""
    from sweep_support import read_metrics, write_tiny_notebook

    notebook = write_tiny_notebook(tmp_path / "tiny.ipynb", value=1)
    sets = [{"seed": 0}, {"seed": 1, "value": 7}]
    root = tmp_path / "sweep"
    rows = run_sweep(notebook, sets, root, kernel_name="python3", progress=False)
    assert [r["status"] for r in rows] == ["done", "done"] and rows[0]["test_accuracy"] == 0.01
    assert [r["status"] for r in run_sweep(notebook, sets, root, kernel_name="python3", progress=False)] == [
        "skipped: done before",
        "skipped: done before",
    ]
    capsys.readouterr()

    write_tiny_notebook(notebook, value=2)  # the notebook's default changes
    rows = run_sweep(notebook, sets, root, kernel_name="python3", progress=False)
    # The run that used the default is made again; the one that set value itself is still valid.
    assert [r["status"] for r in rows] == ["done", "skipped: done before"]
    assert rows[0]["test_accuracy"] == 0.02 == read_metrics(root / "seed=0")["test"]["accuracy"]
    assert "seed=0: finished before with other parameters (value: 1 then, 2 now)" in capsys.readouterr().err
    assert rows[1]["test_accuracy"] == 0.07
