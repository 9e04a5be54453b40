"""Parameter checks and result files."""

from __future__ import annotations

import json

import pytest

from rnn_helpers.parameters import DEFAULTS, ParameterError, check_batch_size, check_parameters
from rnn_helpers.results import display_path, project_root, resolve_output_dir, versions, write_json


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
        ("cell", "transformer", "cell = 'transformer': use 'rnn' (the vanilla RNN), 'lstm' or 'gru'"),
        ("lr_schedule", "linear", "lr_schedule = 'linear': use 'constant' (the original) or 'cosine'"),
        ("clip_norm", 0, "clip_norm = 0: it must be a number > 0, or None"),
        ("clip_norm", "big", "clip_norm = 'big'"),
        ("augment_shift", -1, "augment_shift = -1: it must be a whole number of pixels from 0"),
        ("augment_shift", 14, "augment_shift = 14"),
        ("augment_shift", 1.5, "augment_shift = 1.5"),
        ("weight_decay", -1e-4, "weight_decay = -0.0001: it must be a number >= 0"),
        ("weight_decay", "lots", "weight_decay = 'lots'"),
        ("ema_momentum", 1.0, "ema_momentum = 1.0: it must be None (no weight averaging) or a number"),
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
    assert (project / "output" / "demo-run").is_dir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert project_root() is None
    assert resolve_output_dir("here", "x") == outside / "here"
    assert resolve_output_dir(None, "x") == outside / "output" / "x"
    (outside / "here" / "f.txt").write_text("x")
    assert display_path(outside / "here" / "f.txt") == str(outside / "here" / "f.txt")


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
