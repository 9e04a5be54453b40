"""The speed benchmark's pieces that can be checked without timing anything."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from rnn_helpers.model import RNN
from rnn_helpers.runs import records

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def train_speed():
    spec = importlib.util.spec_from_file_location("train_speed", ROOT / "benchmarks" / "train_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def synthetic_data(train_speed, n_train: int = 200, n_valid: int = 100):
    """Random images and labels in MNIST's shapes: two batches of training, one of validation."""
    rng = np.random.default_rng(0)
    x = rng.random((n_train + n_valid, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n_train + n_valid)]
    return train_speed.Data(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def test_flops_count_every_gate(train_speed):
    # vanilla RNN, 128 units: 28 steps of (28x128 + 128x128) multiply-adds, the output layer, x3
    assert train_speed.flops_per_example(128) == 3.0 * (28 * (2 * 28 * 128 + 2 * 128 * 128) + 2 * 128 * 10)
    recurrent = train_speed.flops_per_example(128) - 3.0 * 2 * 128 * 10
    for cell, gates in (("lstm", 4), ("gru", 3)):
        assert train_speed.flops_per_example(128, cell) - 3.0 * 2 * 128 * 10 == gates * recurrent


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_pytorch_trains_the_same_network(train_speed, cell):
    """PyTorch's layer gets the Keras model's weights (gates reordered for the GRU) and
    gives the same logits; otherwise the benchmark refuses to compare."""
    pytest.importorskip("torch")
    data = synthetic_data(train_speed, n_valid=50)
    rng = np.random.default_rng(1)
    model = RNN(num_hidden_units=8, seed=0, cell=cell)
    # move every weight off its initial value (the GRU's recurrent bias starts at zero)
    model.set_weights([w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    config = train_speed.Config(cell=cell, units=8)
    train_on, accuracy = train_speed.torch_training(config, model, data, optimizer_steps=2)
    expected = np.mean(np.asarray(model(data.x_valid)).argmax(1) == data.y_valid.argmax(1))
    assert accuracy() == pytest.approx(expected)
    train_on(data.x_train, data.y_train)  # two steps
    assert 0.0 <= accuracy() <= 1.0

    class Different:  # a model whose logits PyTorch's copy does not reproduce
        get_weights = model.get_weights

        def __call__(self, x):
            return np.asarray(model(x)) + 0.01

    with pytest.raises(RuntimeError, match="does not reproduce the Keras model"):
        train_speed.torch_training(config, Different(), data, optimizer_steps=2)


# one method per builder; the default-threads variants build the same as (a) and (f)
BUILT = ["plain", "plain-loop", "fast", "fit", "chunked", "torch"]


@pytest.fixture(scope="module")
def one_epoch_each(train_speed):
    """Per method: its validation accuracy as built and after one epoch (two batches) of
    synthetic data; each built after seeding alike, as every worker is."""
    import keras

    data = synthetic_data(train_speed)
    config = train_speed.Config(units=8, epochs_in_all=1)
    found = {}
    for method in BUILT:
        if method == "torch" and importlib.util.find_spec("torch") is None:
            continue
        keras.utils.set_random_seed(config.seed)
        epoch, accuracy = train_speed.METHODS[method].build(config, data)
        before = accuracy()
        epoch()
        found[method] = (before, accuracy())
    return found


@pytest.mark.parametrize("method", BUILT)
def test_each_method_trains_a_tiny_model_for_an_epoch(one_epoch_each, method):
    if method == "torch":
        pytest.importorskip("torch")
    before, after = one_epoch_each[method]
    assert 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0


def test_all_methods_start_alike_and_see_the_same_batches(one_epoch_each):
    """The same starting weights: the same accuracy before training; the same batches in the
    same order: after an epoch, the same accuracy to a rounding difference or two."""
    reference_before, reference_after = one_epoch_each["plain"]
    for method, (before, after) in one_epoch_each.items():
        assert before == reference_before, method
        assert after == pytest.approx(reference_after, abs=0.021), method


def test_every_builder_is_tested(train_speed):
    assert {m.build for m in train_speed.METHODS.values()} == {train_speed.METHODS[m].build for m in BUILT}


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_train_unrolled_and_as_a_loop(train_speed, cell):
    data = synthetic_data(train_speed)
    config = train_speed.Config(cell=cell, units=4, epochs_in_all=1)
    for method in ("plain", "plain-loop"):
        epoch, accuracy = train_speed.METHODS[method].build(config, data)
        epoch()
        assert 0.0 <= accuracy() <= 1.0


def test_the_loop_twin_is_the_same_network(train_speed):
    config = train_speed.Config(units=8)
    model = train_speed.starting_model(config)
    twin = train_speed.while_loop_twin(model, config)
    assert model.get_layer("rnn").unroll and not twin.get_layer("rnn").unroll
    x = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(twin(x)), np.asarray(model(x)), atol=1e-6)


def test_the_methods_and_the_report(train_speed, monkeypatch):
    monkeypatch.setattr(train_speed, "torch_version", lambda: None)
    methods = train_speed.chosen_methods("lstm", everything=True, with_torch=True, also_tuned_fit=False)
    assert list(methods)[:4] == ["plain", "plain-loop", "fast", "fit"]  # (a) first: the reference
    assert "torch" not in methods and {"chunked", "plain-default-threads", "fast-default-threads"} <= set(
        methods
    )
    assert methods["plain-loop"] == "(a-loop) train_step, unroll=False (a while loop)"
    flops = train_speed.flops_per_example(8, "lstm") * train_speed.EXAMPLES_PER_EPOCH
    entries = {
        method: train_speed.method_entry(label, [2.0 + i, 1.0 + i], [0.9], 100.0, flops, 400.0)
        for i, (method, label) in enumerate(methods.items())
    }
    train_speed.compare_to_reference(entries)
    assert entries["fast"]["ratio_to_reference"] == pytest.approx(3.5 / 1.5)
    assert "ratio_to_reference" not in entries["plain"]
    found = train_speed.Measurements({}, {}, {}, peak=400.0, load_at_end=(1.0, 1.0, 1.0))
    config = {"cell": "lstm", "examples_per_epoch": 55000, "batch_size": 100, "units": 8, "optimizer": "Adam",
              "timed_epochs_per_repeat": 2, "repeats": 1, "batch_order": "identical in all methods",
              "gflop_per_epoch": flops / 1e9, "reference": "plain"}  # fmt: skip
    results = {"config": config, "machine": train_speed.machine(found, False), "methods": entries}
    text = train_speed.report(results)
    assert records.cpu_model() in text
    assert "relative to the reference, (a) notebook 01: train_step, unroll=True" in text
    for label in methods.values():
        assert label in text
