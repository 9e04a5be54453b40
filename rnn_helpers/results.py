"""Where a run's results go, and how they are written: output folders, metrics.json, figures."""

from __future__ import annotations

import json
import os
import platform
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


def resolve_output_dir(output_dir: str | os.PathLike[str] | None, run_name: str) -> Path:
    """The folder a notebook writes to, created if needed.

    ``None`` means ``output/<run_name>`` under the project root (or the current folder
    outside the project); a relative path is taken from the current folder.
    """
    if output_dir is None:
        base = project_root() or Path.cwd()
        path = base / "output" / run_name
    else:
        path = Path(output_dir).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


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
