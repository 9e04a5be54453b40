"""Run a notebook over a grid of parameters with papermill, and collect the results.

Each parameter set runs in its own folder ``<output_root>/<run name>/``, which receives the
executed notebook and everything the notebook writes there (it is passed as
``output_dir``). A run that finished earlier (its ``metrics.json`` is there and no
``error.json``) is skipped, so an interrupted sweep resumes where it stopped. A run that
fails is recorded with its error in ``error.json`` and in the table, and the sweep goes on.
The table of all runs goes to ``<output_root>/results.csv``.

Example::

    from rnn_helpers.sweep import grid, run_sweep, format_table
    rows = run_sweep("notebooks/01_vanilla_rnn_mnist.ipynb",
                     grid(cell=["rnn", "lstm", "gru"], epochs=[3]), "output/sweep-cells")
    print(format_table(rows))
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .results import write_json

COLUMNS = ("status", "test_accuracy", "val_accuracy", "parameter_count", "seconds_per_epoch", "error")


def grid(**choices: Sequence[Any]) -> list[dict[str, Any]]:
    """Every combination of the given values: ``grid(a=[1, 2], b=["x"])`` ->
    ``[{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]``."""
    names = list(choices)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*choices.values())]


def run_name(parameters: Mapping[str, Any]) -> str:
    """A folder name for a parameter set, e.g. ``cell=lstm,epochs=3`` (keys in the given order)."""
    text = ",".join(f"{key}={value}" for key, value in parameters.items()) or "defaults"
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", text)


def _summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    history = metrics.get("history", {})
    seconds = history.get("epoch_seconds") or []
    return {
        "test_accuracy": metrics.get("test", {}).get("accuracy"),
        "val_accuracy": metrics.get("final", {}).get("val_accuracy"),
        "parameter_count": metrics.get("parameter_count"),
        "seconds_per_epoch": statistics.median(seconds) if seconds else None,
    }


def run_sweep(
    notebook: str | os.PathLike[str],
    parameter_sets: Iterable[Mapping[str, Any]],
    output_root: str | os.PathLike[str],
    *,
    kernel_name: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Execute ``notebook`` once per parameter set; return one table row per run.

    Args:
        notebook: the notebook to run (its ``parameters`` cell receives each set, plus
            ``output_dir``).
        parameter_sets: dicts of parameters, e.g. from :func:`grid`.
        output_root: the sweep's folder; one subfolder per run, and ``results.csv``.
        kernel_name: Jupyter kernel to run with; ``None`` uses the one the notebook names.
        progress: show a progress bar over the runs.

    Returns:
        Rows with ``run``, the parameters, ``status`` ("done", "skipped: done before" or
        "failed"), the test and final validation accuracy, the parameter count, the median
        seconds per epoch, and the error of a failed run.
    """
    import papermill  # imported here: only sweeps need it

    notebook = Path(notebook).resolve()
    root = Path(output_root)
    root.mkdir(parents=True, exist_ok=True)
    parameter_sets = [dict(p) for p in parameter_sets]
    rows = []
    bar = tqdm(parameter_sets, desc="runs", unit="run", disable=not progress)
    for parameters in bar:
        name = run_name(parameters)
        folder = root / name
        metrics_path, error_path = folder / "metrics.json", folder / "error.json"
        bar.set_postfix_str(name)
        row: dict[str, Any] = {"run": name, **parameters}
        if metrics_path.is_file() and not error_path.exists():
            row["status"] = "skipped: done before"
        else:
            folder.mkdir(parents=True, exist_ok=True)
            for stale in (metrics_path, error_path):
                stale.unlink(missing_ok=True)
            try:
                papermill.execute_notebook(
                    notebook,
                    folder / notebook.name,
                    parameters={**parameters, "output_dir": str(folder.resolve())},
                    kernel_name=kernel_name,
                    cwd=str(notebook.parent),
                    progress_bar=False,
                )
                row["status"] = "done"
            except Exception as error:  # noqa: BLE001 (a failed run must not stop the sweep)
                kind = getattr(error, "ename", type(error).__name__)
                message = getattr(error, "evalue", str(error))
                write_json(error_path, {"error": kind, "message": message})
                row.update(status="failed", error=f"{kind}: {message}")
        if row["status"] != "failed":
            row.update(_summary(json.loads(metrics_path.read_text())))
        rows.append(row)
    write_table(rows, root / "results.csv")
    return rows


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names: list[str] = ["run"]
    for row in rows:
        names += [key for key in row if key not in names and key not in COLUMNS]
    return names + list(COLUMNS)


def write_table(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write the rows as CSV (all parameters, then the results), atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(path)
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(buffer.getvalue())
    os.replace(temporary, path)
    return path


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as an aligned text table for printing (accuracies as percentages)."""
    columns = [c for c in _columns(rows) if c != "error" or any(r.get("error") for r in rows)]

    def cell(column: str, value: Any) -> str:
        if value is None or value == "":
            return "-"
        if column.endswith("accuracy"):
            return f"{value:.2%}"
        if column == "seconds_per_epoch":
            return f"{value:.1f}"
        return str(value)

    table = [[cell(c, row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(lines)
