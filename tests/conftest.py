"""Shared fixtures: synthetic IDX datasets written to a temporary folder, and an isolated cache.

Also keeps the tests away from the user's results: runs without an ``output_dir``
(nbval's re-execution of the notebooks, for one) write under a temporary folder named in
``$RNN_HELPERS_OUTPUT``, and the session fails if anything in the repository, ``output/``
included, was changed by the tests.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from rnn_helpers.datasets import DatasetSpec

ROOT = Path(__file__).resolve().parents[1]
# The one place tests may write in the repository: the browser tests' screenshots, for a
# person to look at (git-ignored).
SCREENSHOTS = "tests/screenshots/"

# Set at import, before any kernel starts: kernels inherit the environment.
_OUTPUT_ROOT = tempfile.mkdtemp(prefix="rnn-helpers-test-output-")
os.environ["RNN_HELPERS_OUTPUT"] = _OUTPUT_ROOT


def repository_state() -> dict[str, tuple[int, int]]:
    """Every file under the repository that git does not track or ignores (``output/``,
    untracked files) and every tracked file git reports changed, with size and mtime."""
    state: dict[str, tuple[int, int]] = {}
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "--others", "--modified", "-z"],
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        listed = ""
    names = [n for n in listed.split("\0") if n]
    output = ROOT / "output"
    if output.is_dir():
        names += [str(p.relative_to(ROOT)) for p in output.rglob("*") if p.is_file() or p.is_symlink()]
    for name in names:
        path = ROOT / name
        if name.startswith((".venv/", ".pytest_cache", SCREENSHOTS)) or "/__pycache__/" in f"/{name}":
            continue
        try:
            stat = path.lstat()
            state[name] = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            state[name] = (-1, -1)
    return state


def pytest_sessionstart(session):
    session.config._repository_state = repository_state()


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_OUTPUT_ROOT, ignore_errors=True)
    before = getattr(session.config, "_repository_state", None)
    if before is None:
        return
    after = repository_state()
    changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    if changed:
        shown = "\n  ".join(changed[:20])
        print(f"\nThe tests changed files in the repository (they must not):\n  {shown}")
        session.exitstatus = 1


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
