"""One run of a notebook in a temporary folder: what every run of a sweep executes, in the
sweep's own process or on a Dask worker (:mod:`rnn_helpers.runs.cluster`).

The notebook comes as text and the results go back as bytes, so no shared disk is needed.
Standard library only at import time (papermill is imported when a run starts).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: Temporary folders of runs are named ``rnn-sweep-<process id>-...``.
SCRATCH_PREFIX = "rnn-sweep-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_stale_scratch(scratch: str | None = None) -> list[Path]:
    """Remove the temporary folders of runs whose process is gone (a sweep killed with
    ``kill -9`` leaves its run's folder behind); returns what was removed."""
    removed = []
    for folder in Path(scratch or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


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

    scratch = _scratch_folder()
    remove_stale_scratch(scratch)
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=scratch) as temporary:
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
