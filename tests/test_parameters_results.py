"""Parameter checks and result files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_helpers.parameters import DEFAULTS, ParameterError, check_batch_size, check_parameters
from rnn_helpers.results import (
    OutputDirError,
    RunFolder,
    display_path,
    project_root,
    resolve_output_dir,
    versions,
    write_json,
)


def test_defaults_are_the_original_hyperparameters():
    assert check_parameters(**DEFAULTS) == DEFAULTS
    assert (DEFAULTS["learning_rate"], DEFAULTS["epochs"], DEFAULTS["batch_size"]) == (0.001, 10, 100)
    assert (DEFAULTS["display_freq"], DEFAULTS["num_hidden_units"]) == (100, 128)
    # the extra training practice of notebook 03 is off unless asked for
    assert (DEFAULTS["augment_shift"], DEFAULTS["weight_decay"], DEFAULTS["ema_momentum"]) == (0, 0.0, None)
    assert DEFAULTS["label_smoothing"] == 0.0


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("epochs", 0, "epochs = 0: it must be a whole number >= 1"),
        ("epochs", 2.5, "epochs = 2.5"),
        ("epochs", "3", "epochs = '3'"),
        ("batch_size", -5, "batch_size = -5"),
        ("display_freq", True, "display_freq = True"),
        ("num_hidden_units", 0, "num_hidden_units = 0"),
        ("learning_rate", -0.01, "learning_rate = -0.01: it must be a number > 0"),
        ("learning_rate", 0, "learning_rate = 0:"),
        ("learning_rate", float("nan"), "learning_rate = nan"),
        ("learning_rate", "fast", "learning_rate = 'fast'"),
        ("seed", -1, "seed = -1"),
        ("cell", "transformer", "cell = 'transformer': unknown; use 'rnn' (the vanilla RNN), 'lstm', 'gru'"),
        (
            "lr_schedule",
            "linear",
            "lr_schedule = 'linear': unknown; use 'constant' (the original) or 'cosine'",
        ),
        ("clip_norm", 0, "clip_norm = 0: it must be a number > 0 (1.0 is usual); or None (no clipping)"),
        ("clip_norm", "big", "clip_norm = 'big'"),
        ("augment_shift", -1, "augment_shift = -1: it must be a whole number from 0 to 13 (pixels"),
        ("augment_shift", 14, "augment_shift = 14"),
        ("augment_shift", 1.5, "augment_shift = 1.5"),
        ("weight_decay", -1e-4, "weight_decay = -0.0001: it must be a number >= 0"),
        ("weight_decay", "lots", "weight_decay = 'lots'"),
        ("ema_momentum", 1.0, "ema_momentum = 1.0: it must be a number strictly between 0 and 1"),
        ("num_hidden_units", 100000, "num_hidden_units = 100000: at most 4096. The recurrent matrix alone"),
        ("fast", "maybe", "fast = 'maybe': it must be True or False"),
        ("ema_momentum", 0, "ema_momentum = 0:"),
        ("ema_momentum", "high", "ema_momentum = 'high'"),
        ("label_smoothing", 1.0, "label_smoothing = 1.0: it must be a number >= 0 and < 1"),
        ("label_smoothing", -0.1, "label_smoothing = -0.1"),
        ("dataset", "cifar10", "dataset = 'cifar10': unknown; choose one of 'mnist', 'fashion_mnist'"),
        ("n_train", 0, "n_train = 0"),
        ("data_dir", 5, "data_dir = 5: it must be a folder path"),
    ],
)
def test_bad_values_are_named(name, value, message):
    params = dict(DEFAULTS, **{name: value})
    with pytest.raises(ParameterError) as info:
        check_parameters(**params)
    assert message in str(info.value)


def test_cleaning():
    out = check_parameters(
        dataset="Fashion-MNIST",
        data_dir="None",
        n_train="none",
        learning_rate=1,
        clip_norm="None",
        ema_momentum="None",
        weight_decay=0,
    )
    assert out == {
        "dataset": "fashion_mnist",
        "data_dir": None,
        "n_train": None,
        "learning_rate": 1.0,
        "clip_norm": None,
        "ema_momentum": None,
        "weight_decay": 0.0,
    }


def test_n_train_smaller_than_a_batch():
    with pytest.raises(ParameterError, match="n_train = 50 is smaller than batch_size = 100"):
        check_parameters(n_train=50, batch_size=100)


def test_batch_size_larger_than_training_set():
    check_batch_size(100, 100)
    with pytest.raises(ParameterError, match="batch_size = 101 is larger than the training set \\(100"):
        check_batch_size(101, 100)


def test_output_dir_default_lands_in_the_project(tmp_path, monkeypatch):
    monkeypatch.delenv("RNN_HELPERS_OUTPUT", raising=False)
    root = project_root()
    assert root is not None and (root / "rnn_helpers").is_dir()
    assert display_path(root / "output" / "demo-run" / "m.json") == "output/demo-run/m.json"
    # a stand-in project, so that nothing is created in the real one
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "rnn-helpers"\n')
    monkeypatch.chdir(project / "notebooks")
    assert project_root() == project
    assert resolve_output_dir(None, "demo-run") == project / "output" / "demo-run"
    assert not (project / "output").exists(), "resolving creates nothing"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert project_root() is None
    assert resolve_output_dir("here", "x") == outside / "here"
    assert resolve_output_dir(None, "x") == outside / "output" / "x"
    (outside / "here").mkdir()
    (outside / "here" / "f.txt").write_text("x")
    assert display_path(outside / "here" / "f.txt") == str(outside / "here" / "f.txt")
    monkeypatch.setenv("RNN_HELPERS_OUTPUT", str(tmp_path / "test-results"))
    assert resolve_output_dir(None, "x") == tmp_path / "test-results" / "x"


def test_tests_do_not_write_into_the_projects_output_folder():
    """conftest points the default output root away from the project for the whole session
    (nbval's and papermill's kernels inherit it)."""
    root = project_root()
    assert resolve_output_dir(None, "01_vanilla_rnn_mnist").parent != root / "output"


def finish(run, files):
    for name, text in files.items():
        (run.path / name).write_text(text)
    return run.commit()


def test_a_run_folder_is_replaced_all_at_once(tmp_path):
    out = tmp_path / "out"
    first = RunFolder.open(str(out), "nb")
    assert first.final == out and not out.exists(), "nothing appears before the commit"
    written = finish(first, {"metrics.json": "1", "a.png": "1"})
    assert written == [out / "a.png", out / "metrics.json"]
    (out / "nb.ipynb").write_text("an executed notebook papermill keeps here")
    (out / "notes.txt").write_text("a note of the user's")
    second = RunFolder.open(str(out), "nb")
    (second.path / "metrics.json").write_text("2")
    assert (out / "metrics.json").read_text() == "1" and (out / "a.png").exists()
    finish(second, {"b.png": "2"})
    assert sorted(p.name for p in out.iterdir()) == [
        ".run.json",
        "b.png",
        "metrics.json",
        "nb.ipynb",
        "notes.txt",
    ]
    assert (out / "metrics.json").read_text() == "2", "the old run's a.png is gone, nothing is mixed"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out"], "no staging folder is left"


def test_a_failed_run_leaves_the_previous_results(tmp_path):
    out = tmp_path / "out"
    finish(RunFolder.open(str(out), "nb"), {"metrics.json": "good", "model.keras": "good"})
    failed = RunFolder.open(str(out), "nb")
    (failed.path / "model.keras").write_text("half a new model")
    failed.discard()  # (a kernel that dies leaves its staging folder; the next open removes it)
    assert {
        p.name: p.read_text() for p in out.iterdir() if p.suffix != ".json" or p.name == "metrics.json"
    } == {
        "metrics.json": "good",
        "model.keras": "good",
    }
    stale = tmp_path / ".out.partial-999999"
    stale.mkdir()
    RunFolder.open(str(out), "nb").discard()
    assert not stale.exists()


def test_an_interrupted_swap_is_finished_or_undone(tmp_path):
    out = tmp_path / "out"
    finish(RunFolder.open(str(out), "nb"), {"metrics.json": "old"})
    os.rename(out, tmp_path / ".out.old")  # killed between the two renames of a commit
    RunFolder.open(str(out), "nb").discard()
    assert (out / "metrics.json").read_text() == "old", "the previous results come back"


def test_a_second_process_is_refused_while_a_run_is_under_way(tmp_path):
    out = tmp_path / "out"
    run = RunFolder.open(str(out), "nb")
    code = (
        "import sys; from rnn_helpers.results import RunFolder, OutputDirError\n"
        "try:\n    RunFolder.open(sys.argv[1], 'nb')\n"
        "except OutputDirError as e:\n    print(e); sys.exit(3)\n"
    )
    busy = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    assert busy.returncode == 3, busy.stderr
    assert f"another run (process {os.getpid()}) is writing into {out}" in busy.stdout
    assert "Wait until it has finished, or give this run another output_dir" in busy.stdout
    finish(run, {"metrics.json": "mine"})
    free = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    assert free.returncode == 0, free.stdout + free.stderr


def test_the_same_process_may_open_its_own_folder_again(tmp_path):
    """A notebook re-run in the same JupyterLab kernel takes over its own unfinished run."""
    out = tmp_path / "out"
    first = RunFolder.open(str(out), "nb")
    second = RunFolder.open(str(out), "nb")
    assert not first.path.exists() and second.path.is_dir()
    finish(second, {"metrics.json": "2"})
    with pytest.raises(RuntimeError, match="already committed or discarded"):
        first.commit()


@pytest.mark.parametrize("case", ["file", "foreign", "unwritable", "proc"])
def test_unusable_output_folders_are_refused_before_anything_runs(tmp_path, case):
    if case == "file":
        target = tmp_path / "results"
        target.write_text("a file")
        expected = "is a file, not a folder"
    elif case == "foreign":
        target = tmp_path / "home"
        (target / "Documents").mkdir(parents=True)
        (target / "thesis.tex").write_text("a user's own files")
        expected = "already holds files that no run of this notebook wrote \\(Documents, thesis.tex\\)"
    elif case == "unwritable":
        if os.geteuid() == 0:
            pytest.skip("root may write anywhere")
        parent = tmp_path / "locked"
        parent.mkdir(mode=0o555)
        target = parent / "out"
        expected = "cannot create or write the folder"
    else:
        target = Path("/proc/forbidden")
        expected = "output_dir = '/proc/forbidden': cannot create or write the folder /proc"
    with pytest.raises(OutputDirError, match=expected):
        RunFolder.open(str(target), "nb")
    assert issubclass(OutputDirError, ParameterError)


def test_write_json_is_atomic(tmp_path):
    path = write_json(tmp_path / "sub" / "metrics.json", {"a": 1, "b": [0.5]})
    assert json.loads(path.read_text()) == {"a": 1, "b": [0.5]}
    assert path.stat().st_mode & 0o777 == 0o644
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"a": 1, "b": [0.5]}, "a failed write keeps the old file"
    assert sorted(p.name for p in path.parent.iterdir()) == ["metrics.json"]


def test_versions():
    v = versions()
    assert v["tensorflow"].startswith("2.21") and v["keras"].startswith("3.")


def test_markdown_table_formats_each_kind_of_value():
    from rnn_helpers.results import markdown_table

    rows = [
        {"cell": "lstm", "parameter_count": 81674, "test_accuracy": 0.98765, "seconds_per_epoch": 12.34},
        {"cell": "rnn", "parameter_count": 18186, "test_accuracy": None},
    ]
    table = markdown_table(
        rows,
        {
            "cell": "cell",
            "parameter_count": "weights",
            "test_accuracy": "test",
            "seconds_per_epoch": "s/epoch",
        },
    )
    assert table.splitlines() == [
        "| cell | weights | test | s/epoch |",
        "| --- | --- | --- | --- |",
        "| lstm | 81,674 | 98.77% | 12.3 |",
        "| rnn | 18,186 | – | – |",
    ]


def test_the_parameters_page_is_up_to_date():
    from rnn_helpers.parameters import parameters_page

    page = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
    assert page.read_text() == parameters_page(), "run: python -m rnn_helpers.parameters > docs/parameters.md"


def test_unknown_names_come_from_papermills_injected_cell():
    from rnn_helpers.parameters import check_notebook_parameters, notebook_defaults

    namespace = {**notebook_defaults("01_vanilla_rnn_mnist"), "x_train": object()}  # JupyterLab: no check
    assert check_notebook_parameters(namespace, "01_vanilla_rnn_mnist")["epochs"] == 10
    namespace["In"] = ["", "epochs = 10\n", "# Parameters\nepochs = 3\nepoch = 3\nbatch = 5\n"]
    with pytest.raises(
        ParameterError, match="Unknown parameter\\(s\\) for 01_vanilla_rnn_mnist: epoch, batch"
    ):
        check_notebook_parameters(namespace, "01_vanilla_rnn_mnist")
    with pytest.raises(ParameterError, match="does not define results_dir"):
        check_notebook_parameters(notebook_defaults("02_inside_the_rnn"), "03_cells_and_tuning")
    with pytest.raises(ParameterError, match="learning_rate = 'ten'"):
        check_notebook_parameters({**namespace, "In": [], "learning_rate": "ten"}, "01_vanilla_rnn_mnist")


def test_choices_come_from_the_modules_that_implement_them():
    from rnn_helpers.model import CELLS
    from rnn_helpers.parameters import PARAMETERS
    from rnn_helpers.training import SCHEDULES

    for cell in CELLS:
        assert check_parameters(cell=cell.upper()) == {"cell": cell}
    for schedule in SCHEDULES:
        assert check_parameters(lr_schedule=schedule) == {"lr_schedule": schedule}
    assert all(p.help and p.allowed for p in PARAMETERS.values())
    assert check_parameters(learning_rate=10) == {"learning_rate": 10.0}  # papermill's "-p learning_rate 10"
    assert isinstance(check_parameters(learning_rate=10)["learning_rate"], float)
