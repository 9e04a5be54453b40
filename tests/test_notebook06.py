"""Notebook 06's readable backpropagation through time and the package's fast step compute the
same gradients.

The notebook's NumPy functions are for reading; what trains (``train(..., fast=True)``, the
sweeps, the benchmark) is the fast step of ``rnn_helpers.fast``. Here the functions are
taken from the notebook's own cells and compared with ``rnn_helpers.fast`` on random
batches, so that a change to either which makes their gradients differ beyond float32
rounding fails; the second test checks that a fast gradient a little off does fail.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf

import rnn_helpers.fast.step as fast_step
from conftest import batch
from rnn_helpers import fast
from rnn_helpers.model import RNN, rnn_variables

NB06 = Path(__file__).resolve().parents[1] / "notebooks" / "06_backprop_through_time.ipynb"

#: The readable version: ``loss_and_gradients`` and the functions it calls, as the notebook defines them.
READABLE = (
    "rnn_step_forward",
    "rnn_forward",
    "softmax_loss",
    "rnn_step_backward",
    "rnn_backward",
    "loss_and_gradients",
)
#: The weights in the order of ``rnn_variables`` and of the fast step, under the notebook's names.
NAMES = ("W_x", "W_h", "b_h", "W", "b")
#: float32 rounding accumulated over the sums that make a gradient, relative to its largest
#: entry: the notebook's tolerance for the tape and for the fast step.
TOLERANCE = 1e-5


def notebook_functions(names) -> dict:
    """The notebook's functions ``names``, each run from the one code cell that defines it
    (and holds nothing else), in a namespace that has only NumPy."""
    cells = [
        "".join(cell["source"])
        for cell in json.loads(NB06.read_text())["cells"]
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith("def ")
    ]
    namespace = {"np": np}
    for name in names:
        defining = [source for source in cells if source.startswith(f"def {name}(")]
        assert len(defining) == 1, f"notebook 06 should define {name} in one cell of its own"
        body = ast.parse(defining[0]).body
        assert [type(node) for node in body] == [ast.FunctionDef], f"the cell defining {name} does more"
        exec(compile(defining[0], f"<notebook 06: {name}>", "exec"), namespace)  # noqa: S102 (the notebook's code)
    return namespace


def random_network(units: int, seed: int):
    """A vanilla RNN built by ``RNN`` with every weight moved off its initial value (the biases
    start at zero, the output layer's weights near it)."""
    model = RNN(num_hidden_units=units, seed=seed)
    rng = np.random.default_rng(seed)
    for variable in rnn_variables(model)[1]:
        variable.assign(np.asarray(variable) + rng.normal(0.0, 0.1, variable.shape).astype(np.float32))
    return model


def relative_error(got, want) -> float:
    """The notebook's measure: the largest difference relative to ``want``'s largest entry."""
    return float(np.max(np.abs(np.asarray(got) - want)) / np.max(np.abs(want)))


def assert_fast_equals_readable(model, x, y, n_split: int) -> None:
    """The fast step's loss and gradients (``forward_backward``, and ``gradients`` in the
    optimiser's order) equal the notebook's readable ones, computed in float64."""
    readable = notebook_functions(READABLE)
    variables = rnn_variables(model)[1]
    weights = {name: np.asarray(v, np.float64) for name, v in zip(NAMES, variables, strict=True)}
    loss, expected, _ = readable["loss_and_gradients"](weights, x.astype(np.float64), y.astype(np.float64))

    fast_loss, _, found = fast.forward_backward("rnn", variables, tf.constant(x), tf.constant(y), n_split)
    assert float(fast_loss) == pytest.approx(loss, rel=1e-6)
    for name, gradient in zip(NAMES, found, strict=True):
        assert gradient.shape == expected[name].shape, name
        error = relative_error(gradient, expected[name])
        assert error < TOLERANCE, f"dL/d{name}: the fast step differs from notebook 06's by {error:.1e}"

    name_of = {id(v): name for name, v in zip(NAMES, variables, strict=True)}
    _, ordered = fast.gradients("rnn", variables, model.trainable_variables, x, y, n_split)
    for variable, gradient in zip(model.trainable_variables, ordered, strict=True):
        name = name_of[id(variable)]
        error = relative_error(gradient, expected[name])
        assert error < TOLERANCE, f"dL/d{name} (trainable order): differs from notebook 06's by {error:.1e}"


@pytest.mark.parametrize("n,n_split", [(20, 2), (7, 2), (20, 1)])
def test_the_fast_step_computes_the_notebooks_gradients(n, n_split):
    x, y = batch(n, seed=n)
    assert_fast_equals_readable(random_network(32, seed=n_split), x, y, n_split)


@pytest.mark.parametrize("which", range(len(NAMES)), ids=NAMES)
def test_a_fast_gradient_off_by_a_ten_thousandth_fails_the_comparison(monkeypatch, which):
    """The comparison is not blind: one of the fast step's gradients scaled by 1 + 1e-4 (far
    beyond rounding, the size of a small bug) fails it, naming that gradient."""
    original = fast_step.PART_FORWARD_BACKWARD["rnn"]

    def off(weights, x, y, batch_total):
        loss_sum, correct, gradients = original(weights, x, y, batch_total)
        gradients = list(gradients)
        gradients[which] = gradients[which] * (1 + 1e-4)
        return loss_sum, correct, tuple(gradients)

    monkeypatch.setitem(fast_step.PART_FORWARD_BACKWARD, "rnn", off)
    x, y = batch(20, seed=1)
    with pytest.raises(AssertionError, match=f"dL/d{NAMES[which]}:"):
        assert_fast_equals_readable(random_network(32, seed=2), x, y, n_split=2)
