"""Run a notebook over a grid of parameters with papermill, and collect the results.

Each parameter set runs in its own folder ``<output_root>/<run name>/``, which receives the
executed notebook and everything the notebook writes there (it is passed as
``output_dir``), plus ``sweep-run.json``: the parameters the run was made with, the
notebook's defaults included. Each run executes in a temporary folder and its folder is
written whole when it ends, so a folder is never half-written. A run that finished earlier
with the same parameters is skipped, so an interrupted sweep resumes where it stopped; one
made with other parameters (say the notebook's defaults changed since) runs again, with a
message naming what changed. A run that fails is recorded with its error in
``error.json`` and in the table, and the sweep goes on.
The table of all runs goes to ``<output_root>/results.csv``, and the same rows with each
run's per-epoch validation accuracy to ``<output_root>/results.json``; each run's parameters
and results are also written for TensorBoard's HParams dashboard (:mod:`rnn_helpers.runs.hparams`).

From Python::

    from rnn_helpers.runs.sweep import grid, run_sweep, format_table
    rows = run_sweep("sweeps/experiment.ipynb",
                     grid(cell=["rnn", "lstm", "gru"], epochs=[3]), "output/sweep-cells")
    print(format_table(rows))

From the command line, the same grid (every ``-p NAME VALUE [VALUE ...]`` is one axis)::

    python -m rnn_helpers.runs.sweep --notebook sweeps/experiment.ipynb \
        --output output/sweep-cells -p cell rnn lstm gru -p epochs 3

or a sweep described in a YAML file (see ``sweeps/`` in the repository)::

    python -m rnn_helpers.runs.sweep sweeps/cells.yaml

Add ``--workers N`` to run up to N notebooks at once on a Dask cluster on this machine, or
``--scheduler tcp://HOST:8786`` to use the workers of a running Dask cluster (see
:mod:`rnn_helpers.runs.cluster` and docs/cluster.md); without either, Dask is not imported.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import os
import re
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import hparams
from .execute import execute_run
from .folders import OutputDirError, acquire_lock, store_files
from .parameters import PARAMETERS, ParameterError, declared_defaults, parameters_cell
from .records import format_value, machine, read_json, write_json

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


#: The file beside each finished run that records the parameters it was made with (the
#: notebook's defaults at the time plus the sweep's values): a later sweep reuses the run
#: only when they are still the same.
RECORD = "sweep-run.json"


def run_parameters(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a run is made with: the notebook's ``defaults`` updated with the
    sweep's ``overrides``, as JSON values (tuples become lists), without ``output_dir``
    (where a run goes, not what it computes)."""
    merged = {key: value for key, value in {**defaults, **overrides}.items() if key != "output_dir"}
    return json.loads(json.dumps(merged, default=str))


def _checked(key: str, value: Any) -> Any:
    """``value`` as a notebook records it after checking it (``"None"`` becomes ``None``,
    ``"LSTM"`` becomes ``"lstm"``, ``1`` becomes ``1.0``): the declared parameter's own check
    (:data:`rnn_helpers.runs.parameters.PARAMETERS`); a name or value it does not take, as given."""
    parameter = PARAMETERS.get(key)
    if parameter is None:
        return value
    try:
        return parameter.check(key, value)
    except ParameterError:
        return value


def _shown(values: Mapping[str, Any], key: str) -> str:
    return repr(values[key]) if key in values else "not set"


def previous_run(folder: str | os.PathLike[str], parameters: Mapping[str, Any]) -> tuple[str, str]:
    """What a sweep does with a run's folder, given the parameters the run is to be made with
    (from :func:`run_parameters`).

    Returns ``("reuse", "")`` for a finished run made with exactly these parameters,
    ``("run", "")`` when there is no finished run (none yet, or it failed), and
    ``("rerun", why)`` for a finished run made with other parameters, ``why`` naming each
    difference, e.g. ``"num_hidden_units: 128 then, 64 now"``. The parameters of a run come
    from its :data:`RECORD`; a run made before that record existed is compared through the
    ``parameters`` its ``metrics.json`` holds (notebook 01 writes every checked value there).
    """
    folder = Path(folder)
    metrics_path = folder / "metrics.json"
    if not metrics_path.is_file() or (folder / "error.json").exists():
        return "run", ""
    if (folder / RECORD).is_file():
        try:
            before = json.loads((folder / RECORD).read_text()).get("parameters")
        except (ValueError, AttributeError):
            before = None
        if not isinstance(before, dict):
            return "rerun", f"its {RECORD} is unreadable"
        keys = [*parameters, *(key for key in before if key not in parameters)]
        changed = [
            key
            for key in keys
            if key not in before or key not in parameters or before[key] != parameters[key]
        ]
    else:
        try:
            before = json.loads(metrics_path.read_text()).get("parameters")
        except (ValueError, AttributeError):
            before = None
        if not isinstance(before, dict):
            return "rerun", f"it has neither a {RECORD} nor the parameters in its metrics.json"
        changed = [
            key for key in parameters if key not in before or before[key] != _checked(key, parameters[key])
        ]
    if not changed:
        return "reuse", ""
    return "rerun", "; ".join(
        f"{key}: {_shown(before, key)} then, {_shown(parameters, key)} now" for key in changed
    )


class Sweep:
    """The state of one sweep while it runs: its runs' names, parameters and table rows."""

    def __init__(self, notebook: Path, parameter_sets: list[dict[str, Any]], root: Path, kernel_name):
        self.notebook, self.root, self.kernel_name = notebook, root, kernel_name
        self.parameter_sets = parameter_sets
        self.names = [run_name(p) for p in parameter_sets]
        self.text = notebook.read_text()
        defaults = parameters_cell(json.loads(self.text))
        self.recorded = [run_parameters(defaults, p) for p in parameter_sets]
        self.rows: list[dict[str, Any]] = [
            {"run": n, **p} for n, p in zip(self.names, parameter_sets, strict=True)
        ]

    def pending(self, bar) -> list[int]:
        """The runs still to do; finished ones made with the same parameters are skipped."""
        todo = []
        for index, name in enumerate(self.names):
            action, why = previous_run(self.root / name, self.recorded[index])
            if action == "reuse":
                self.rows[index]["status"] = "skipped: done before"
                bar.update(1)
                continue
            if action == "rerun":
                tqdm.write(
                    f"{name}: finished before with other parameters ({why}); running it again.",
                    file=sys.stderr,
                )
            todo.append(index)
        return todo

    def job(self, index: int) -> dict[str, Any]:
        """The keyword arguments of :func:`rnn_helpers.runs.execute.execute_run` for one run."""
        return {
            "notebook_name": self.notebook.name,
            "notebook_text": self.text,
            "parameters": self.parameter_sets[index],
            "kernel_name": self.kernel_name,
            "cwd": str(self.notebook.parent),
        }

    def store(self, index: int, result: Mapping[str, Any]) -> None:
        """Write one run's folder whole, with its record (or its error), and its table row."""
        files, error = dict(result["files"]), result["error"]
        if error is None and "metrics.json" not in files:
            error = {"error": "NoMetrics", "message": "the notebook finished but wrote no metrics.json"}
        if error is None:
            metrics = json.loads(files["metrics.json"])
            varied = self.parameter_sets[index]
            files.update(hparams.session_files(self.names[index], varied, _summary(metrics)))
            records = {RECORD: {"notebook": self.notebook.name, "parameters": self.recorded[index],
                                "host": result["host"]}}  # fmt: skip
        else:
            records = {"error.json": error}
            self.rows[index].update(status="failed", error=f"{error['error']}: {error['message']}")
        try:
            store_files(self.root / self.names[index], sorted(files.items()), records)
        except OutputDirError as refused:
            self.rows[index].update(status="failed", error=f"OutputDirError: {refused}")
            return
        if error is None:
            self.rows[index]["status"] = "done"

    def finish(self) -> list[dict[str, Any]]:
        """Read every finished run's results into its row; write results.csv and results.json."""
        histories = []
        for row in self.rows:
            history = None
            if row["status"] != "failed":
                fix = "Delete the run's folder and run the sweep again to redo it."
                metrics = read_json(self.root / row["run"] / "metrics.json", "a run's results", fix)
                row.update(_summary(metrics))
                history = _curves(metrics)
            histories.append(history)
        write_table(self.rows, self.root / "results.csv")
        write_json(self.root / "results.json", {
            "notebook": self.notebook.name,
            "machine": machine(),
            "runs": [{**row, "history": history} for row, history in zip(self.rows, histories, strict=True)],
        })  # fmt: skip
        return self.rows


def _check_sets(parameter_sets: list[dict[str, Any]], threads: int | None) -> None:
    names = [run_name(p) for p in parameter_sets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"The sweep lists the same parameter set more than once: {', '.join(repeated)}.")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads = {threads!r}: it must be a whole number >= 1, or None.")


def run_sweep(
    notebook: str | os.PathLike[str],
    parameter_sets: Iterable[Mapping[str, Any]],
    output_root: str | os.PathLike[str],
    *,
    kernel_name: str | None = None,
    progress: bool = True,
    client: Any = None,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Execute ``notebook`` once per parameter set; return one table row per run.

    Args:
        notebook: the notebook to run (its ``parameters`` cell receives each set, plus
            ``output_dir``).
        parameter_sets: dicts of parameters, e.g. from :func:`grid`.
        output_root: the sweep's folder; one subfolder per run, and ``results.csv``.
        kernel_name: Jupyter kernel to run with; ``None`` uses the one the notebook names.
        progress: show a progress bar over the runs.
        client: a Dask ``distributed.Client`` to run the notebooks on its workers, as many at
            once as they have threads (see :mod:`rnn_helpers.runs.cluster`); ``None`` runs
            them one after another in this process, without Dask.
        threads: with a ``client``, CPU threads per run; ``None``: each machine's cores shared
            among the runs it holds at once. Without a client, the environment is left alone.

    Returns:
        Rows with ``run``, the parameters, ``status`` ("done", "skipped: done before" or
        "failed"), the test and final validation accuracy, the parameter count, the median
        seconds per epoch, and the error of a failed run.

    A finished run is reused ("skipped: done before") only when it was made with the same
    parameters, the notebook's current defaults included (see :func:`previous_run`);
    otherwise it runs again, with a message saying what changed. A second sweep into the
    same folder is refused while one is under way.
    """
    parameter_sets = [dict(p) for p in parameter_sets]
    _check_sets(parameter_sets, threads)
    notebook = Path(notebook).resolve()
    check_kernel(notebook, kernel_name)
    root = Path(output_root)
    root.mkdir(parents=True, exist_ok=True)
    lock = acquire_lock(Path(os.path.realpath(root)), f"the sweep folder {root}")
    try:
        sweep = Sweep(notebook, parameter_sets, root, kernel_name)
        with tqdm(total=len(parameter_sets), desc="runs", unit="run", disable=not progress) as bar:
            _execute(sweep, sweep.pending(bar), bar, client, threads)
        return sweep.finish()
    finally:
        os.close(lock)


def _execute(sweep: Sweep, pending: list[int], bar, client: Any, threads: int | None) -> None:
    """Run the pending runs, one after another here, or on the Dask ``client``'s workers."""
    if client is None:
        for index in pending:
            bar.set_postfix_str(sweep.names[index])
            sweep.store(index, execute_run(**sweep.job(index)))
            bar.update(1)
        return
    from .cluster import run_on_cluster  # only sweeps on a cluster import Dask

    jobs = [sweep.job(index) for index in pending]
    keys = [sweep.names[index] for index in pending]
    for position, result in run_on_cluster(client, jobs, keys, threads=threads):
        sweep.store(pending[position], result)
        bar.update(1)


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
    """The rows as an aligned text table for printing, each value formatted as in the
    notebooks' Markdown tables (:func:`rnn_helpers.runs.records.format_value`)."""
    columns = [c for c in _columns(rows) if c != "error" or any(r.get("error") for r in rows)]
    table = [[format_value(c, row.get(c)) for c in columns] for row in rows]
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
    fix = "Run the sweep (python -m rnn_helpers.runs.sweep SPEC.yaml) to write it, or name its folder."
    data = read_json(path, "sweep results (results.json)", fix)
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list) or not all(isinstance(run, dict) and "run" in run for run in runs):
        raise ValueError(f"{path} is not a sweep's results.json: it has no list of runs. {fix}")
    return runs


def describe(run: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> str:
    """The parameters of a run that differ from ``defaults`` (the experiment notebook's, which
    are notebook 01's plus the experiments' levers, off), e.g. ``"epochs=30, augment_shift=1"``,
    in the order the defaults list them; ``"defaults"`` when nothing differs. Keys that are not
    parameters (results, ``run``, ``history``) are ignored.
    """
    defaults = declared_defaults("experiment") if defaults is None else defaults
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rnn_helpers.runs.sweep",
        description="Run a notebook once per parameter set with papermill and tabulate the results.",
    )
    parser.add_argument("spec", nargs="?", help="a YAML sweep description (see sweeps/*.yaml)")
    parser.add_argument("--notebook", help="the notebook to run (overrides the description's)")
    parser.add_argument("--output", help="the sweep's folder (overrides the description's)")
    parser.add_argument(
        "-p", "--parameter", nargs="+", action="append", default=[], metavar=("NAME", "VALUE"),
        help="one grid axis: a parameter name and one or more values (repeat for more axes)",
    )  # fmt: skip
    parser.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, metavar="N",
        help="run up to N notebooks at once on a Dask cluster on this machine (needs the cluster extra)",
    )  # fmt: skip
    where.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT",
        help="run the notebooks on the workers of a running Dask scheduler (needs the cluster extra)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, metavar="N",
        help="with --workers/--scheduler: CPU threads per run (default: each machine's cores shared "
        "among the runs it holds at once)",
    )  # fmt: skip
    return parser


def _read_spec(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[dict[str, Any], Path, Path]:
    """The sweep description (YAML file and ``-p`` axes), its notebook and its output folder."""
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
    return spec, notebook, output


def _client(stack: contextlib.ExitStack, args: argparse.Namespace, notebook: Path) -> Any:
    """A Dask client for ``--workers`` / ``--scheduler``, else None (and Dask stays unimported)."""
    if args.workers is None and args.scheduler is None:
        return None
    check_kernel(notebook.resolve(), args.kernel)  # before a cluster is started
    from . import cluster

    if args.workers is not None:
        return stack.enter_context(cluster.local_client(args.workers))
    return stack.enter_context(cluster.remote_client(args.scheduler))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnn_helpers.runs.sweep``: run a sweep from a YAML description and/or ``-p`` axes."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers {args.workers}: give a whole number >= 1 (runs at once)")
    if args.threads is not None and (args.threads < 1 or (args.workers is None and args.scheduler is None)):
        parser.error("--threads N (N >= 1) goes with --workers or --scheduler")
    spec, notebook, output = _read_spec(parser, args)
    try:
        parameter_sets = expand_spec(spec)
        with contextlib.ExitStack() as stack:
            client = _client(stack, args, notebook)
            rows = run_sweep(
                notebook, parameter_sets, output, kernel_name=args.kernel, client=client, threads=args.threads
            )
    except (ValueError, ImportError, ConnectionError, OSError) as error:
        parser.error(str(error))
    except KeyboardInterrupt:
        print(
            "\nInterrupted: the runs that had finished are kept; run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    print(format_table(rows))
    print(f"\n{len(rows)} runs; table in {output / 'results.csv'}")
    return 1 if any(row["status"] == "failed" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
