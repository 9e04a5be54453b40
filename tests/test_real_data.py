"""The real MNIST and Fashion-MNIST files, where this machine has them.

They are looked up the standard way ($RNN_HELPERS_DATA, the cache, /usr/share/datasets),
never downloaded here. Missing data skips these tests, except where
RNN_HELPERS_REQUIRE_DATA=1 (CI), where it fails them.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_data
from rnn_helpers import DataNotFoundError, load_data

pytestmark = pytest.mark.realdata

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def load_or_skip(mode, dataset):
    try:
        return load_data(mode, dataset, download=False)
    except DataNotFoundError as error:
        if require_data():
            raise
        pytest.skip(f"{dataset} files not available here: {str(error).splitlines()[0]}")


@pytest.fixture(scope="module")
def mnist_train():
    return load_or_skip("train", "mnist")


@pytest.fixture(scope="module")
def mnist_test():
    return load_or_skip("test", "mnist")


def test_mnist_shapes_and_types(mnist_train, mnist_test):
    x_train, y_train, x_valid, y_valid = mnist_train
    x_test, y_test = mnist_test
    assert x_train.shape == (55000, 784) and y_train.shape == (55000, 10)
    assert x_valid.shape == (5000, 784) and y_valid.shape == (5000, 10)
    assert x_test.shape == (10000, 784) and y_test.shape == (10000, 10)
    for array in (x_train, y_train, x_valid, y_valid, x_test, y_test):
        assert array.dtype == np.float32
    for x in (x_train, x_valid, x_test):
        assert x.min() == 0.0 and x.max() == 1.0


def test_mnist_known_facts(mnist_train, mnist_test):
    x_train, y_train, x_valid, y_valid = mnist_train
    assert y_valid[:10].argmax(1).tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist_test[1][:10].argmax(1).tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    counts = y_train.sum(0) + y_valid.sum(0)
    assert counts.astype(int).tolist() == MNIST_TRAIN_COUNTS
    mean = (x_train.sum(dtype=np.float64) + x_valid.sum(dtype=np.float64)) / (60000 * 784)
    assert mean == pytest.approx(0.1307, abs=5e-5)


def test_fashion_mnist():
    x_train, y_train, x_valid, y_valid = load_or_skip("train", "fashion_mnist")
    x_test, y_test = load_or_skip("test", "fashion_mnist")
    assert x_train.shape == (55000, 784) and x_valid.shape == (5000, 784) and x_test.shape == (10000, 784)
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    assert (y_train.sum(0) + y_valid.sum(0)).astype(int).tolist() == [6000] * 10
    assert y_test.sum(0).astype(int).tolist() == [1000] * 10
    assert 0.0 <= x_test.min() and x_test.max() <= 1.0
    mean = (x_train.sum(dtype=np.float64) + x_valid.sum(dtype=np.float64)) / (60000 * 784)
    assert mean == pytest.approx(0.2860, abs=5e-4)
