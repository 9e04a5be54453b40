"""environment.yml (conda) and pyproject.toml (pip) must install the same things."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # in the standard library from Python 3.11

ROOT = Path(__file__).resolve().parents[1]


def normalise(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    """The main dependencies and those of every extra (dev, widgets, browser, ...)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():  # dev, tf1, ...: environment.yml has them all
        requirements += extra
    return dict(normalise(r) for r in requirements)


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_environment_yml_matches_pyproject():
    pip_section = next(d["pip"] for d in environment()["dependencies"] if isinstance(d, dict))
    in_env = dict(normalise(r) for r in pip_section)
    in_pyproject = pyproject_requirements()
    assert in_env.keys() == in_pyproject.keys(), (
        f"only in environment.yml: {sorted(in_env.keys() - in_pyproject.keys())}; "
        f"only in pyproject.toml: {sorted(in_pyproject.keys() - in_env.keys())}"
    )
    different = {k: (in_env[k], in_pyproject[k]) for k in in_env if in_env[k] != in_pyproject[k]}
    assert not different, f"pins differ (environment.yml, pyproject.toml): {different}"


def test_python_version_is_allowed_by_pyproject():
    python = next(d for d in environment()["dependencies"] if isinstance(d, str) and d.startswith("python"))
    major, minor = map(int, python.split("=")[1].split(".")[:2])
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low, high = re.match(r">=(\d+\.\d+),<(\d+\.\d+)", requires).groups()
    as_tuple = lambda v: tuple(map(int, v.split(".")))  # noqa: E731
    assert as_tuple(low) <= (major, minor) < as_tuple(high)


def test_tf1_extra_matches_tensorflow():
    """tf-keras only works with the TensorFlow of the same minor version."""
    pins = pyproject_requirements()
    assert pins["tf-keras"] == pins["tensorflow"], (
        f"tf-keras {pins['tf-keras']} and tensorflow {pins['tensorflow']} must be pinned alike"
    )


def test_every_pin_is_a_compatible_release_pin():
    for name, spec in pyproject_requirements().items():
        assert spec.startswith("~="), f"{name} should be pinned with ~= (got {spec!r})"


def test_the_cluster_extra_brings_dask_distributed():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {normalise(r)[0] for r in extras["cluster"]} == {"distributed", "dask"}
