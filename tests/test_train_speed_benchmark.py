"""The speed benchmark's pieces that can be checked without timing anything."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from rnn_helpers.model import RNN

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def train_speed():
    spec = importlib.util.spec_from_file_location("train_speed", ROOT / "benchmarks" / "train_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    rng = np.random.default_rng(0)
    x = rng.random((200, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 200)]
    model = RNN(num_hidden_units=8, seed=0, cell=cell)
    # move every weight off its initial value (the GRU's recurrent bias starts at zero)
    model.set_weights([w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    config = {"cell": cell, "units": 8, "seed": 0, "optimizer": "notebook"}
    epoch, accuracy = train_speed._torch_training(config, model, x, y, x[:50], y[:50], optimizer_steps=2)
    before = accuracy()
    assert before == pytest.approx(np.mean(np.asarray(model(x[:50])).argmax(1) == y[:50].argmax(1)))
    epoch(x, y)  # two steps
    assert 0.0 <= accuracy() <= 1.0

    class Different:  # a model whose logits PyTorch's copy does not reproduce
        get_weights = model.get_weights

        def __call__(self, x):
            return np.asarray(model(x)) + 0.01

    with pytest.raises(RuntimeError, match="does not reproduce the Keras model"):
        train_speed._torch_training(config, Different(), x, y, x[:50], y[:50], optimizer_steps=2)
