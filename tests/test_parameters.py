"""Parameter checks, the parameters cells, and the records a run writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnn_helpers.runs.parameters import (
    CELL_NAMES,
    DEFAULTS,
    EXPERIMENT_LEVERS,
    RECURRENT_INIT_NAMES,
    SCHEDULE_NAMES,
    ParameterError,
    check_batch_size,
    check_notebook_parameters,
    check_parameters,
    declared_defaults,
    parse_assignments,
)
from rnn_helpers.runs.records import read_json, versions, write_json


def test_defaults_are_the_original_hyperparameters():
    assert check_parameters(**DEFAULTS) == DEFAULTS
    assert (DEFAULTS["learning_rate"], DEFAULTS["epochs"], DEFAULTS["batch_size"]) == (0.001, 10, 100)
    assert (DEFAULTS["display_freq"], DEFAULTS["num_hidden_units"]) == (100, 128)
    # notebook 01 takes the lesson's parameters only; the experiments' levers are the experiment's
    assert not set(EXPERIMENT_LEVERS) & set(DEFAULTS)
    experiment = declared_defaults("experiment")
    assert {k: experiment[k] for k in DEFAULTS} == DEFAULTS, "the experiment's defaults are notebook 01's"
    assert (experiment["augment_shift"], experiment["weight_decay"], experiment["ema_momentum"]) == (
        0,
        0.0,
        None,
    )
    assert (
        experiment["label_smoothing"] == 0.0 and experiment["cell"] == "rnn" and experiment["fast"] is False
    )


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
        ("augment_rotation", 60, "augment_rotation = 60: it must be a number from 0 to 45"),
        ("augment_scale", 1.5, "augment_scale = 1.5: it must be a number >= 0 and < 1"),
        ("warmup_epochs", -1, "warmup_epochs = -1: it must be a number >= 0"),
        ("warmup_epochs", 10, "warmup_epochs = 10 is not below epochs = 10"),
        (
            "recurrent_init",
            "zeros",
            "recurrent_init = 'zeros': unknown; choose one of 'orthogonal', 'identity'",
        ),
        ("normalize_inputs", "yes", "normalize_inputs = 'yes': it must be True or False"),
        ("data_dir", 5, "data_dir = 5: it must be a folder path"),
    ],
)
def test_bad_values_are_named(name, value, message):
    params = dict(declared_defaults("experiment"), **{name: value})
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
    with pytest.raises(ParameterError, match="batch_size = 60000 is larger than the training set \\(55000"):
        check_parameters(batch_size=60000)


def test_n_train_larger_than_the_training_set_is_refused():
    """-p n_train 100000 would train on the 55,000 there are, without a word."""
    assert check_parameters(n_train=55000)["n_train"] == 55000
    with pytest.raises(ParameterError, match="n_train = 100000: the training set has only 55,000 images"):
        check_parameters(n_train=100000)
    with pytest.raises(ParameterError, match="n_train = 55001"):
        check_parameters(n_train=55001, dataset="fashion_mnist")


def test_write_json_is_atomic(tmp_path):
    path = write_json(tmp_path / "sub" / "metrics.json", {"a": 1, "b": [0.5]})
    assert json.loads(path.read_text()) == {"a": 1, "b": [0.5]}
    assert path.stat().st_mode & 0o777 == 0o644
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"a": 1, "b": [0.5]}, "a failed write keeps the old file"
    assert sorted(p.name for p in path.parent.iterdir()) == ["metrics.json"]


def test_a_damaged_json_file_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"runs": [{"run": "a"')  # cut short
    with pytest.raises(
        ValueError, match=r"results.json \(sweep results\) is damaged or cut short.*Run it again"
    ):
        read_json(path, "sweep results", "Run it again.")
    with pytest.raises(FileNotFoundError, match="No sweep results at .*missing.json. Run it again."):
        read_json(tmp_path / "missing.json", "sweep results", "Run it again.")


def test_versions():
    v = versions()
    assert v["tensorflow"].startswith("2.21") and v["keras"].startswith("3.")


def test_markdown_table_formats_each_kind_of_value():
    from rnn_helpers.runs.records import markdown_table

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
    from rnn_helpers.runs.parameters import parameters_page

    page = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
    assert page.read_text() == parameters_page(), (
        "run: python -m rnn_helpers.runs.parameters > docs/parameters.md"
    )


def test_unknown_names_come_from_papermills_injected_cell():
    from rnn_helpers.runs.parameters import check_notebook_parameters, declared_defaults

    namespace = {**declared_defaults("01_vanilla_rnn_mnist"), "x_train": object()}  # JupyterLab: no check
    assert check_notebook_parameters(namespace, "01_vanilla_rnn_mnist")["epochs"] == 10
    namespace["In"] = ["", "epochs = 10\n", "# Parameters\nepochs = 3\nepoch = 3\nbatch = 5\n"]
    with pytest.raises(
        ParameterError, match="Unknown parameter\\(s\\) for 01_vanilla_rnn_mnist: epoch, batch"
    ):
        check_notebook_parameters(namespace, "01_vanilla_rnn_mnist")
    namespace["In"] = ["# Parameters\nfast = True\naugment_shift = 1\n"]  # levers of the experiment notebook
    with pytest.raises(
        ParameterError, match="fast, augment_shift: levers of the experiment notebook"
    ) as info:
        check_notebook_parameters(namespace, "01_vanilla_rnn_mnist")
    assert "papermill sweeps/experiment.ipynb" in str(info.value)
    with pytest.raises(ParameterError) as info:
        check_notebook_parameters({**namespace, "In": ["# Parameters\nepoch = 3\n"]}, "01_vanilla_rnn_mnist")
    assert "experiment" not in str(info.value)  # a misspelt name gets no such hint
    with pytest.raises(ParameterError, match="does not define results_dir"):
        check_notebook_parameters(declared_defaults("02_inside_the_rnn"), "03_cells_and_tuning")
    with pytest.raises(ParameterError, match="learning_rate = 'ten'"):
        check_notebook_parameters({**namespace, "In": [], "learning_rate": "ten"}, "01_vanilla_rnn_mnist")


def test_training_parameters_beside_a_model_to_reload_are_refused():
    """Notebook 02 with model_dir reloads a model: num_hidden_units or epochs beside it would do nothing."""
    namespace = {**declared_defaults("02_inside_the_rnn"), "model_dir": "../output/01_vanilla_rnn_mnist"}
    assert check_notebook_parameters(namespace, "02_inside_the_rnn")["model_dir"]  # the defaults: fine
    namespace["In"] = ["# Parameters\nmodel_dir = '../x'\nnum_hidden_units = 64\nepochs = 3\nseed = 1\n"]
    with pytest.raises(
        ParameterError, match="num_hidden_units, epochs: these train a new model, but model_dir"
    ):
        check_notebook_parameters(namespace, "02_inside_the_rnn")
    namespace["In"] = ["# Parameters\nnum_hidden_units = 64\n"]
    namespace["model_dir"] = None
    assert check_notebook_parameters(namespace, "02_inside_the_rnn")["num_hidden_units"] == 128


def test_the_one_parser_of_a_parameters_cell():
    cell = "# a comment\nepochs = 3  # passes\nrate: float = 1e-3\nname = 'x'\nsteps = 10 * 55\nimport os\n"
    assert parse_assignments(cell) == {"epochs": 3, "rate": 0.001, "name": "x", "steps": "10 * 55"}
    with pytest.raises(SyntaxError):
        parse_assignments("epochs = (")


def test_choices_come_from_the_modules_that_implement_them():
    from rnn_helpers.model import CELLS, RECURRENT_INITIALIZERS
    from rnn_helpers.runs.parameters import PARAMETERS
    from rnn_helpers.training import SCHEDULES

    assert CELL_NAMES == tuple(CELLS) and SCHEDULE_NAMES == SCHEDULES  # named without TensorFlow, kept equal
    assert RECURRENT_INIT_NAMES == RECURRENT_INITIALIZERS
    for start in RECURRENT_INITIALIZERS:
        assert check_parameters(recurrent_init=start) == {"recurrent_init": start}
    for cell in CELLS:
        assert check_parameters(cell=cell.upper()) == {"cell": cell}
    for schedule in SCHEDULES:
        assert check_parameters(lr_schedule=schedule) == {"lr_schedule": schedule}
    assert all(p.help and p.allowed for p in PARAMETERS.values())
    assert check_parameters(learning_rate=10) == {"learning_rate": 10.0}  # papermill's "-p learning_rate 10"
    assert isinstance(check_parameters(learning_rate=10)["learning_rate"], float)
