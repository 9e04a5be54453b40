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

Add ``--workers N`` to run up to N notebooks at once on a Dask cluster on this machine, or
``--scheduler tcp://HOST:8786`` to use the workers of a running Dask cluster (see
:mod:`rnn_helpers.cluster` and docs/cluster.md); without either, Dask is not imported.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import io
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .parameters import DEFAULTS, PARAMETERS, ParameterError
from .results import format_value, write_json

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


def notebook_defaults(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """The values a notebook's ``parameters`` cell assigns, e.g. ``{"epochs": 10, ...}``.

    ``notebook`` is the notebook's JSON (a dict). A value that is not a plain literal is
    kept as its source text; a cell that is not plain Python is kept whole, under
    ``"(parameters cell)"``, so that any change to it still counts as a change. ``{}``
    when the notebook has no cell tagged ``parameters``.
    """
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return {"(parameters cell)": source}
        values: dict[str, Any] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name):
                try:
                    values[target.id] = ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    values[target.id] = ast.unparse(value)
        return values
    return {}


def run_parameters(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a run is made with: the notebook's ``defaults`` updated with the
    sweep's ``overrides``, as JSON values (tuples become lists), without ``output_dir``
    (where a run goes, not what it computes)."""
    merged = {key: value for key, value in {**defaults, **overrides}.items() if key != "output_dir"}
    return json.loads(json.dumps(merged, default=str))


def _checked(key: str, value: Any) -> Any:
    """``value`` as a notebook records it after checking it (``"None"`` becomes ``None``,
    ``"LSTM"`` becomes ``"lstm"``, ``1`` becomes ``1.0``): the declared parameter's own check
    (:data:`rnn_helpers.parameters.PARAMETERS`); a name or value it does not take, as given."""
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


@contextlib.contextmanager
def _thread_environment(threads: int | None) -> Iterator[None]:
    """Set the thread counts that a kernel started inside this block inherits; ``None``
    leaves the environment alone."""
    if threads is None:
        yield
        return
    wanted = {
        "TF_NUM_INTRAOP_THREADS": threads,  # threads inside one TensorFlow operation
        "TF_NUM_INTEROP_THREADS": min(2, threads),  # operations at a time (two suit this RNN best)
        "OMP_NUM_THREADS": threads,
    }
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update({name: str(value) for name, value in wanted.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _threads_here(threads: int | Mapping[str, int] | None) -> int | None:
    if threads is None or isinstance(threads, int):
        return threads
    from distributed import get_worker  # a mapping only comes with a run on a Dask worker

    return threads.get(get_worker().address)


def _scratch_folder() -> str | None:
    """Where a run's temporary folder goes: on a Dask worker, the worker's own folder (which
    Dask clears when the worker stops, or if it was killed, when a worker next starts there);
    elsewhere, the system's temporary folder."""
    if "distributed" not in sys.modules:  # not on a Dask worker (and Dask stays unimported)
        return None
    from distributed import get_worker

    try:
        return get_worker().local_directory
    except ValueError:  # Dask is loaded, but this is not a worker
        return None


def execute_run(
    notebook_name: str,
    notebook_text: str,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str | None = None,
    cwd: str | None = None,
    threads: int | Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Execute one run of a notebook in a temporary folder of this machine; return what it made.

    Every run of a sweep goes through here, in the sweep's own process or on a Dask worker:
    the notebook comes as text and the results go back as bytes, so no shared disk is needed.

    Args:
        notebook_name: the notebook's file name (the executed copy gets the same name).
        notebook_text: the notebook's JSON text.
        parameters: the run's parameters (``output_dir`` is set here).
        kernel_name: the Jupyter kernel; ``None`` uses the notebook's.
        cwd: the folder to run the notebook in (its own folder, for relative paths), when it
            exists on this machine; else the temporary folder.
        threads: CPU threads for the run's kernel (``TF_NUM_INTRAOP_THREADS``,
            ``TF_NUM_INTEROP_THREADS`` up to 2, ``OMP_NUM_THREADS``); a mapping gives them per
            Dask worker address; ``None`` leaves the environment as it is.

    Returns:
        ``{"files": {relative path: bytes}, "error": None or {"error": kind, "message": text},
        "host": this machine's name}``: the executed notebook and every file the run wrote into
        its ``output_dir`` (hidden ``.*`` files left out), also when the run failed.
    """
    import papermill  # imported here: only sweeps need it

    with tempfile.TemporaryDirectory(prefix="rnn-sweep-", dir=_scratch_folder()) as temporary:
        source = Path(temporary, "input", notebook_name)
        source.parent.mkdir()
        source.write_text(notebook_text)
        executed, output = Path(temporary, notebook_name), Path(temporary, "run")
        workdir = cwd if cwd and Path(cwd).is_dir() else str(source.parent)
        error = None
        try:
            with _thread_environment(_threads_here(threads)):
                papermill.execute_notebook(
                    source,
                    executed,
                    parameters={**parameters, "output_dir": str(output)},
                    kernel_name=kernel_name,
                    cwd=workdir,
                    progress_bar=False,
                )
        except Exception as failure:  # noqa: BLE001 (a failed run is a result, not a crash)
            error = {
                "error": getattr(failure, "ename", type(failure).__name__),
                "message": getattr(failure, "evalue", str(failure)),
            }
        files = {notebook_name: executed.read_bytes()} if executed.is_file() else {}
        if output.is_dir():
            for path in sorted(output.rglob("*")):
                relative = path.relative_to(output)
                if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                    files[relative.as_posix()] = path.read_bytes()
    return {"files": files, "error": error, "host": platform.node()}


def _leftovers(folder: Path) -> list[Path]:
    pattern = re.compile(rf"\.{re.escape(folder.name)}\.[0-9a-f]{{8}}\.(part|old)")
    return sorted(p for p in folder.parent.glob(".*") if pattern.fullmatch(p.name))


def _recover(folder: Path) -> None:
    """Tidy what an interrupted :func:`_store_run` may have left beside ``folder``: a
    half-written ``.part`` folder goes; an ``.old`` folder comes back if ``folder`` is missing."""
    for leftover in _leftovers(folder):
        if leftover.suffix == ".old" and not folder.exists():
            os.replace(leftover, folder)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


def _store_run(folder: Path, files: Mapping[str, bytes], records: Mapping[str, Mapping[str, Any]]) -> None:
    """Write a run's ``files`` and JSON ``records`` as ``folder``, all at once: into a hidden
    ``.part`` folder beside it first, which then takes the place of the old folder, if any."""
    token = uuid.uuid4().hex[:8]
    part, old = (folder.with_name(f".{folder.name}.{token}.{kind}") for kind in ("part", "old"))
    part.mkdir()
    try:
        for relative, content in files.items():
            target = part / relative
            if ".." in Path(relative).parts or Path(relative).is_absolute():
                raise ValueError(f"A run returned a file outside its folder: {relative!r}.")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        for name, record in records.items():
            write_json(part / name, record)
        if folder.exists():
            os.replace(folder, old)
        os.replace(part, folder)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.replace(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


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
            once as they have threads (see :mod:`rnn_helpers.cluster`); ``None`` runs them one
            after another in this process, without Dask.
        threads: with a ``client``, CPU threads per run; ``None``: each machine's cores shared
            among the runs it holds at once. Without a client, the environment is left alone.

    Returns:
        Rows with ``run``, the parameters, ``status`` ("done", "skipped: done before" or
        "failed"), the test and final validation accuracy, the parameter count, the median
        seconds per epoch, and the error of a failed run.

    A finished run is reused ("skipped: done before") only when it was made with the same
    parameters, the notebook's current defaults included (see :func:`previous_run`);
    otherwise it runs again, with a message saying what changed.
    """
    notebook = Path(notebook).resolve()
    parameter_sets = [dict(p) for p in parameter_sets]
    names = [run_name(p) for p in parameter_sets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"The sweep lists the same parameter set more than once: {', '.join(repeated)}.")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads = {threads!r}: it must be a whole number >= 1, or None.")
    check_kernel(notebook, kernel_name)
    notebook_text = notebook.read_text()
    defaults = notebook_defaults(json.loads(notebook_text))
    root = Path(output_root)
    root.mkdir(parents=True, exist_ok=True)

    rows: list[dict[str, Any]] = [{"run": n, **p} for n, p in zip(names, parameter_sets, strict=True)]
    recorded = [run_parameters(defaults, p) for p in parameter_sets]
    bar = tqdm(total=len(rows), desc="runs", unit="run", disable=not progress)
    pending = []
    for index, name in enumerate(names):
        _recover(root / name)
        action, why = previous_run(root / name, recorded[index])
        if action == "reuse":
            rows[index]["status"] = "skipped: done before"
            bar.update(1)
            continue
        if action == "rerun":
            tqdm.write(
                f"{name}: finished before with other parameters ({why}); running it again.", file=sys.stderr
            )
        pending.append(index)

    def store(index: int, result: Mapping[str, Any]) -> None:
        files, error = dict(result["files"]), result["error"]
        if error is None and "metrics.json" not in files:
            error = {"error": "NoMetrics", "message": "the notebook finished but wrote no metrics.json"}
        records: dict[str, Mapping[str, Any]] = {}
        if error is None:
            records[RECORD] = {
                "notebook": notebook.name,
                "parameters": recorded[index],
                "host": result["host"],
            }
        else:
            records["error.json"] = error
            rows[index].update(status="failed", error=f"{error['error']}: {error['message']}")
        _store_run(root / names[index], files, records)
        if error is None:
            rows[index]["status"] = "done"
        bar.update(1)

    jobs = [
        {
            "notebook_name": notebook.name,
            "notebook_text": notebook_text,
            "parameters": parameter_sets[index],
            "kernel_name": kernel_name,
            "cwd": str(notebook.parent),
        }
        for index in pending
    ]
    try:
        if client is None:
            for index, job in zip(pending, jobs, strict=True):
                bar.set_postfix_str(names[index])
                store(index, execute_run(**job))
        else:
            from .cluster import run_on_cluster  # only sweeps on a cluster import Dask

            keys = [names[index] for index in pending]
            for position, result in run_on_cluster(client, jobs, keys, threads=threads):
                store(pending[position], result)
    finally:
        bar.close()

    histories = []
    for row in rows:
        history = None
        if row["status"] != "failed":
            metrics = json.loads((root / row["run"] / "metrics.json").read_text())
            row.update(_summary(metrics))
            history = _curves(metrics)
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
    """The rows as an aligned text table for printing, each value formatted as in the
    notebooks' Markdown tables (:func:`rnn_helpers.results.format_value`)."""
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
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run up to N notebooks at once on a Dask cluster started on this machine "
        "(needs the cluster extra)",
    )
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the notebooks on the workers of a running Dask scheduler (needs the cluster extra)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="with --workers/--scheduler: CPU threads per run (default: each machine's cores shared "
        "among the runs it holds at once)",
    )
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers {args.workers}: give a whole number >= 1 (runs at once)")
    if args.threads is not None and (args.threads < 1 or (args.workers is None and args.scheduler is None)):
        parser.error("--threads N (N >= 1) goes with --workers or --scheduler")

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
        with contextlib.ExitStack() as stack:
            client = None
            if args.workers is not None or args.scheduler is not None:
                check_kernel(notebook.resolve(), args.kernel)  # before a cluster is started
                from . import cluster  # Dask is imported only for a sweep on a cluster

                if args.workers is not None:
                    client = stack.enter_context(cluster.local_client(args.workers))
                else:
                    client = stack.enter_context(cluster.remote_client(args.scheduler))
            rows = run_sweep(
                notebook, parameter_sets, output, kernel_name=args.kernel, client=client, threads=args.threads
            )
    except (ValueError, ImportError, ConnectionError) as error:
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
