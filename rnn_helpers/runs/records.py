"""What a run leaves behind, and how it is shown: ``metrics.json``, figures, library versions,
the record of how a model was trained, and the tables of the notebooks and the sweeps.

Standard library only at import time (Matplotlib figures are saved by their own method;
the library versions are read when asked for).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def project_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the current folder) holding this
    project's ``pyproject.toml``, or ``None`` outside the project."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and 'name = "rnn-helpers"' in candidate.read_text(errors="ignore"):
            return folder
    return None


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the project root when inside it (for printing), else as it is."""
    path = Path(path).resolve()
    root = project_root()
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def cpu_model() -> str:
    """The CPU's model name: from /proc/cpuinfo, else from ``lscpu``, else what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        listing = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in listing.splitlines():
            if line.strip().startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str | int]:
    """The machine a result was measured on: its CPU, how many cores this process may use, the system."""
    from .startup import usable_cores

    return {"cpu": cpu_model(), "cores": usable_cores(), "platform": platform.platform(terse=True)}


def versions() -> dict[str, str]:
    """Versions of Python and the main libraries, for the record in metrics.json."""
    import keras
    import matplotlib
    import numpy
    import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "matplotlib": matplotlib.__version__,
        "platform": platform.platform(terse=True),
        "cpu": cpu_model(),
    }


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(handle, 0o644)  # a normal file's permissions, not mkstemp's private 0600
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=2, sort_keys=False, default=float)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def save_figures(figures: Mapping[str, Any], folder: str | os.PathLike[str], dpi: int = 100) -> list[Path]:
    """Save each ``name -> Figure`` as ``<folder>/<name>.png``; returns the paths."""
    paths = []
    for name, figure in figures.items():
        path = Path(folder) / f"{name}.png"
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
        paths.append(path)
    return paths


def format_value(key: str, value: Any) -> str:
    """One table cell: accuracies as percentages (two decimals), seconds with one decimal,
    whole numbers with thousands separators, ``None`` as a dash, the rest as text."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return str(value)
    if "accuracy" in key and isinstance(value, float):
        return f"{value:.2%}"
    if "seconds" in key and isinstance(value, (int, float)):
        return f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> str:
    """The rows as a Markdown table for a notebook (``IPython.display.Markdown``).

    Args:
        rows: one mapping per row.
        columns: key in the rows -> column heading, in the order to show them. Values are
            formatted by :func:`format_value`; a missing key shows a dash.
    """
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(format_value(k, row.get(k)) for k in columns) + " |")
    return "\n".join(lines)


#: The parameters that describe how a model was trained (recorded with it in metrics.json).
TRAINING_PARAMETERS = (
    "learning_rate", "epochs", "batch_size", "num_hidden_units", "cell", "lr_schedule", "clip_norm",
    "augment_shift", "augment_rotation", "augment_scale", "weight_decay", "ema_momentum", "label_smoothing",
    "warmup_epochs", "recurrent_init", "normalize_inputs", "fast", "seed", "dataset", "n_train",
)  # fmt: skip


def describe_trained_model(
    model: Any, model_dir: str | os.PathLike[str] | None, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """What a trained model is and how it was trained, for a notebook's metrics.json.

    Args:
        model: the trained Keras model (its recurrent layer is named ``"rnn"``).
        model_dir: where it was reloaded from (notebook 01's output folder, or the
            ``model.keras`` file), or None when it was trained in this run.
        parameters: this run's checked parameters (they describe the training only when
            the model was trained here).

    Returns:
        ``source`` (``"trained here"`` or ``"reloaded"``), ``model_dir``,
        ``num_hidden_units`` and ``parameter_count`` (read from the model itself),
        ``trained_with`` (the training parameters: this run's, or those notebook 01
        recorded in the ``metrics.json`` beside the model; None when there is none) and
        ``seed`` (the seed the model was built with when known, else this run's) with
        ``seed_known``.
    """
    units = int(model.get_layer("rnn").units)
    if model_dir is None:
        trained_with = {k: parameters[k] for k in TRAINING_PARAMETERS if k in parameters}
        source = "trained here"
    else:
        folder = Path(model_dir).expanduser()
        folder = folder if folder.is_dir() else folder.parent
        try:
            recorded = json.loads((folder / "metrics.json").read_text())["parameters"]
            trained_with = {k: recorded[k] for k in TRAINING_PARAMETERS if k in recorded}
        except (OSError, ValueError, KeyError, TypeError):
            trained_with = None
        source = "reloaded"
    seed_known = bool(trained_with) and trained_with.get("seed") is not None
    return {
        "source": source,
        "model_dir": None if model_dir is None else str(model_dir),
        "num_hidden_units": units,
        "parameter_count": int(model.count_params()),
        "trained_with": trained_with,
        "seed": trained_with["seed"] if seed_known else parameters.get("seed"),
        "seed_known": seed_known,
    }


def read_json(path: str | os.PathLike[str], what: str, fix: str) -> Any:
    """The JSON in ``path``, or a ``ValueError`` that names the file, says what is wrong and
    what to do (``what``: what the file is, ``fix``: how to get a good one)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"No {what} at {path}. {fix}") from None
    except OSError as error:
        raise ValueError(f"{path} ({what}) cannot be read: {error.strerror}. {fix}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path} ({what}) is damaged or cut short: not valid JSON ({error}). {fix}"
        ) from None
