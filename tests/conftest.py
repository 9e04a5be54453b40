"""Shared fixtures: synthetic IDX datasets written to a temporary folder, and an isolated cache.

(The guard that keeps the tests away from the user's results is the project's root
``conftest.py``, which pytest loads however it is started.)
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from rnn_helpers.data import DatasetSpec

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file of unsigned bytes."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def write_file(path: Path, content: bytes, compress: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@dataclass
class Synthetic:
    """A small MNIST-like dataset on disk, with a spec whose digests match its files."""

    folder: Path
    spec: DatasetSpec
    contents: dict[str, bytes]
    arrays: dict[str, np.ndarray]

    def path(self, role: str, compressed: bool = True) -> Path:
        return self.folder / (FILES[role] + (".gz" if compressed else ""))

    def rewrite(self, role: str, content: bytes, update_digest: bool = False) -> Synthetic:
        """Replace one file's content; optionally make the spec accept the new content."""
        write_file(self.path(role), content)
        if not update_digest:
            return self
        md5 = dict(self.spec.md5, **{role: hashlib.md5(content).hexdigest()})
        self.spec = replace(self.spec, md5=md5)
        return self


def make_synthetic(folder: Path, n_train: int = 40, n_test: int = 20, seed: int = 0, name: str = "synthetic"):
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "test_labels": ((np.arange(n_test) * 3) % 10).astype(np.uint8),
    }
    contents = {role: idx_bytes(array) for role, array in arrays.items()}
    for role, content in contents.items():
        write_file(folder / (FILES[role] + ".gz"), content)
    spec = DatasetSpec(
        name=name,
        files=dict(FILES),
        md5={role: hashlib.md5(content).hexdigest() for role, content in contents.items()},
        mirrors=(),
        class_names=tuple("abcdefghij"),
    )
    return Synthetic(folder, spec, contents, arrays)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """An empty cache folder, also set as $RNN_HELPERS_CACHE; $RNN_HELPERS_DATA unset."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNN_HELPERS_CACHE", str(cache))
    monkeypatch.delenv("RNN_HELPERS_DATA", raising=False)
    return cache


@pytest.fixture
def synthetic(tmp_path, cache_dir) -> Synthetic:
    return make_synthetic(tmp_path / "data")


def batch(n=20, timesteps=28, features=28, classes=10, seed=0):
    """A random batch of ``n`` sequences and one-hot labels, float32."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, timesteps, features), dtype=np.float32)
    y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]
    return x, y


def leftover_files(folder: Path) -> list[str]:
    """Every file below ``folder`` (relative names), for "nothing left behind" checks."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def require_data() -> bool:
    """True where real-data tests must run (CI sets RNN_HELPERS_REQUIRE_DATA=1)."""
    return os.environ.get("RNN_HELPERS_REQUIRE_DATA", "") not in ("", "0")
