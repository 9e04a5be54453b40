"""Run a notebook over a grid of parameters with papermill, and collect the results.

Each parameter set runs in its own folder ``<output_root>/<run name>/``, which receives the
executed notebook and everything the notebook writes there (it is passed as
``output_dir``). A run that finished earlier (its ``metrics.json`` is there and no
``error.json``) is skipped, so an interrupted sweep resumes where it stopped. A run that
fails is recorded with its error in ``error.json`` and in the table, and the sweep goes on.
The table of all runs goes to ``<output_root>/results.csv``, and the same rows with each
run's per-epoch validation accuracy to ``<output_root>/results.json``.

From Python::

    from rnn_helpers.sweep import grid, run_sweep, format_table
    rows = run_sweep("notebooks/01_vanilla_rnn_mnist.ipynb",
                     grid(cell=["rnn", "lstm", "gru"], epochs=[3]), "output/sweep-cells")
    print(format_table(rows))

From the command line, the same grid (every ``-p NAME VALUE [VALUE ...]`` is one axis)::

    python -m rnn_helpers.sweep --notebook notebooks/01_vanilla_rnn_mnist.ipynb \
        --output output/sweep-cells -p cell rnn lstm gru -p epochs 3

or a sweep described in a YAML file (see ``sweeps/`` in the repository)::

    python -m rnn_helpers.sweep sweeps/cells.yaml
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import platform
import re
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .parameters import DEFAULTS
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


def _curves(metrics: Mapping[str, Any]) -> dict[str, Any]:
    history = metrics.get("history", {})
    return {name: history.get(name) for name in ("val_accuracy", "train_accuracy", "epoch_seconds")}


def check_kernel(notebook: Path, kernel_name: str | None) -> str:
    """The kernel the runs will use (``kernel_name``, else the notebook's own); raises
    ``ValueError`` with what to do when Jupyter does not know it, before any run starts."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = kernel_name or json.loads(notebook.read_text()).get("metadata", {}).get("kernelspec", {}).get(
        "name"
    )
    if not name:
        raise ValueError(f"{notebook.name} names no kernel: pass one, e.g. --kernel python3.")
    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise ValueError(
            f"Jupyter has no kernel named {name!r}. Register the project's kernel with `make setup` "
            "(or `python -m ipykernel install --sys-prefix --name rnn-tutorial`), or pick an "
            "installed one with --kernel (see `jupyter kernelspec list`)."
        ) from None
    return name


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
    parameter_sets = [dict(p) for p in parameter_sets]
    names = [run_name(p) for p in parameter_sets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"The sweep lists the same parameter set more than once: {', '.join(repeated)}.")
    check_kernel(notebook, kernel_name)
    root = Path(output_root)
    root.mkdir(parents=True, exist_ok=True)
    rows, histories = [], []
    bar = tqdm(list(zip(names, parameter_sets, strict=True)), desc="runs", unit="run", disable=not progress)
    for name, parameters in bar:
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
        history = None
        if row["status"] != "failed":
            metrics = json.loads(metrics_path.read_text())
            row.update(_summary(metrics))
            history = _curves(metrics)
        rows.append(row)
        histories.append(history)
    write_table(rows, root / "results.csv")
    write_json(
        root / "results.json",
        {
            "notebook": notebook.name,
            "machine": {"processor": platform.machine(), "cpu_count": os.cpu_count()},
            "runs": [{**row, "history": history} for row, history in zip(rows, histories, strict=True)],
        },
    )
    return rows


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names: list[str] = ["run"]
    for row in rows:
        names += [key for key in row if key not in names and key not in COLUMNS and key != "history"]
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


def load_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The runs of a finished sweep, from its ``results.json`` (or the folder holding it).

    Each run is a dict with ``run``, its parameters, the results of :func:`run_sweep`'s
    rows and ``history`` (per-epoch ``val_accuracy``, ``train_accuracy`` and
    ``epoch_seconds``; ``None`` for a failed run).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"No sweep results at {path}: run the sweep first (python -m rnn_helpers.sweep ...)."
        )
    return json.loads(path.read_text())["runs"]


def describe(run: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> str:
    """The parameters of a run that differ from ``defaults`` (notebook 01's, from
    :data:`rnn_helpers.parameters.DEFAULTS`), e.g. ``"epochs=30, augment_shift=1"``, in
    the order the defaults list them; ``"defaults"`` when nothing differs. Keys that are
    not parameters (results, ``run``, ``history``) are ignored.
    """
    defaults = DEFAULTS if defaults is None else defaults
    changed = [f"{key}={run[key]}" for key in defaults if key in run and run[key] != defaults[key]]
    return ", ".join(changed) or "defaults"


def parse_value(text: str) -> Any:
    """A command-line value as papermill's ``-p`` reads it: a whole number, a decimal number,
    ``None`` / ``True`` / ``False`` (any case), or else the text itself."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    words = {"none": None, "null": None, "true": True, "false": False}
    return words.get(text.strip().lower(), text)


def expand_spec(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The parameter sets a sweep description stands for.

    ``spec`` may have ``parameters`` (a dict applied to every run), ``runs`` (a list of
    dicts, one per run; default one empty run) and ``grid`` (a dict of name -> list of
    values). Every run is combined with every grid point; a run's or the grid's value wins
    over ``parameters``.
    """
    unknown = set(spec) - {"notebook", "output", "parameters", "runs", "grid", "description"}
    if unknown:
        raise ValueError(
            f"Unknown key(s) in the sweep description: {', '.join(sorted(unknown))}. "
            "Use notebook, output, parameters, runs, grid and description."
        )
    common = dict(spec.get("parameters") or {})
    runs = spec.get("runs") or [{}]
    axes = spec.get("grid") or {}
    if not isinstance(runs, list) or not all(isinstance(r, Mapping) for r in runs):
        raise ValueError("'runs' must be a list of parameter dicts, one per run.")
    if not isinstance(axes, Mapping) or not all(isinstance(v, list) and v for v in axes.values()):
        raise ValueError("'grid' must map each parameter name to a non-empty list of values.")
    return [{**common, **run, **point} for run in runs for point in grid(**axes)]


def _from_spec(spec: Mapping[str, Any], key: str, base: Path) -> Path | None:
    return base / spec[key] if key in spec else None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnn_helpers.sweep``: run a sweep from a YAML description and/or ``-p`` axes."""
    parser = argparse.ArgumentParser(
        prog="python -m rnn_helpers.sweep",
        description="Run a notebook once per parameter set with papermill and tabulate the results.",
    )
    parser.add_argument("spec", nargs="?", help="a YAML sweep description (see sweeps/*.yaml)")
    parser.add_argument("--notebook", help="the notebook to run (overrides the description's)")
    parser.add_argument("--output", help="the sweep's folder (overrides the description's)")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs="+",
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="one grid axis: a parameter name and one or more values (repeat for more axes)",
    )
    parser.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    args = parser.parse_args(argv)

    spec: dict[str, Any] = {}
    base = Path.cwd()
    if args.spec:
        import yaml

        spec_path = Path(args.spec)
        try:
            spec = yaml.safe_load(spec_path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            parser.error(f"cannot read the sweep description {spec_path}: {error}")
        if not isinstance(spec, dict):
            parser.error(f"{spec_path} must hold a mapping with notebook, output and runs/grid.")
        base = spec_path.resolve().parent  # paths in a description are relative to it
    axes = dict(spec.get("grid") or {})
    for item in args.parameter:
        if len(item) < 2:
            parser.error(f"-p {item[0]} needs at least one value: -p NAME VALUE [VALUE ...]")
        axes[item[0]] = [parse_value(v) for v in item[1:]]
    spec["grid"] = axes
    notebook = Path(args.notebook) if args.notebook else _from_spec(spec, "notebook", base)
    output = Path(args.output) if args.output else _from_spec(spec, "output", base)
    if notebook is None or output is None:
        parser.error(
            "say which notebook to run and where the results go: --notebook and --output, or a description"
        )
    if not notebook.is_file():
        parser.error(f"no notebook at {notebook}")
    try:
        parameter_sets = expand_spec(spec)
        rows = run_sweep(notebook, parameter_sets, output, kernel_name=args.kernel)
    except ValueError as error:
        parser.error(str(error))
    print(format_table(rows))
    print(f"\n{len(rows)} runs; table in {output / 'results.csv'}")
    return 1 if any(row["status"] == "failed" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
