"""Run a sweep's notebooks on a Dask cluster: many runs at once, on one machine or many.

Needs the optional ``cluster`` extra (``pip install -e ".[cluster]"``: Dask's
``distributed``). Each run is one Dask task, :func:`rnn_helpers.runs.execute.execute_run`: the
worker receives the notebook's text and the run's parameters, executes the notebook with
papermill in a temporary folder of its own machine, and sends the executed notebook and
every file the run wrote back to the sweep, which writes them into the sweep's folder
exactly as a sweep without Dask does. Workers need the project's environment (and the
data, found the usual way: ``RNN_HELPERS_DATA``, the cache, ...), not a shared disk.

A worker that dies while it runs a notebook is noticed by the scheduler, which runs the
notebook again on another worker; a run whose workers died ``allowed-failures`` times
(Dask's setting, 3 by default) is recorded as failed.

From Python::

    from rnn_helpers.runs.cluster import local_client
    from rnn_helpers.runs.sweep import grid, run_sweep

    if __name__ == "__main__":  # Dask starts its workers by importing the main module again
        with local_client(workers=2) as client:
            run_sweep("sweeps/experiment.ipynb", grid(seed=[1, 2, 3, 4]), "output/sweep-seeds",
                      client=client)

``remote_client("tcp://HOST:8786")`` connects to a running ``dask scheduler`` instead.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .execute import execute_run
from .startup import usable_cores

INSTALL_HINT = (
    "Running a sweep on a Dask cluster needs Dask's distributed package: install the project "
    'with its cluster extra, pip install -e ".[cluster]".'
)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return distributed


@contextlib.contextmanager
def local_client(workers: int) -> Iterator[Any]:
    """A Dask cluster on this machine: ``workers`` worker processes of one thread each
    (papermill's change of working folder is not thread-safe), and a client connected to
    it; both are closed when the block ends.

    Raises:
        ValueError: ``workers`` is not a whole number >= 1.
        ImportError: Dask's ``distributed`` is not installed (says how to install it).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers = {workers!r}: it must be a whole number >= 1.")
    distributed = _distributed()
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def remote_client(address: str, timeout: float = 30) -> Iterator[Any]:
    """A client of a running Dask scheduler (``dask scheduler`` prints its address, e.g.
    ``tcp://10.0.0.5:8786``), which waits up to ``timeout`` seconds for it and for at least
    one worker; closed when the block ends (the cluster goes on).

    Raises:
        ConnectionError: the scheduler cannot be reached, or it has no worker; the message
            says what to start.
        ImportError: Dask's ``distributed`` is not installed.
    """
    distributed = _distributed()
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as error:
        raise ConnectionError(
            f"Cannot reach a Dask scheduler at {address!r} ({error}). Start one with `dask scheduler` "
            "and pass the address it prints (tcp://HOST:8786), or use --workers N for a cluster on "
            "this machine."
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError):
            raise ConnectionError(
                f"The Dask scheduler at {address} has no worker after {timeout:g} s: start some with "
                f"`dask worker {address} --nthreads 1` on machines that have the project installed."
            ) from None
        yield client
    finally:
        client.close()


def thread_plan(client: Any) -> dict[str, int]:
    """CPU threads for each worker's runs, by worker address: each machine's cores shared
    evenly among the runs it holds at once (the threads of all its workers), at least 1;
    e.g. 2 workers of 1 thread on a 2-core machine get 1 each, 4 on 16 cores get 4."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(usable_cores)
    slots: dict[str, int] = defaultdict(int)
    for info in workers.values():
        slots[info["host"]] += info.get("nthreads", 1)
    return {
        address: max(1, cores.get(address, 1) // max(1, slots[info["host"]]))
        for address, info in workers.items()
    }


def _lost_run(error: BaseException) -> dict[str, str]:
    """The ``error.json`` record of a run that came back with no result."""
    kind = type(error).__name__
    if kind == "KilledWorker":
        message = (
            f"the worker running it stopped {getattr(error, 'allowed_failures', '?')} times "
            "(killed, out of memory, or the machine went away), so Dask gave up on it; see the "
            "workers' logs, then start the sweep again to retry it"
        )
    elif isinstance(error, ImportError):
        message = f'{error}; install the project on every worker: pip install -e ".[dev,cluster]"'
    else:
        message = str(error) or repr(error)
    return {"error": kind, "message": message}


def run_on_cluster(
    client: Any,
    jobs: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    *,
    threads: int | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Run :func:`rnn_helpers.runs.execute.execute_run` once per job (its keyword arguments) on the
    client's workers; yield ``(position in jobs, result)`` as each run ends.

    ``names`` label the tasks (on Dask's dashboard). ``threads``: CPU threads per run;
    ``None`` uses :func:`thread_plan`. A run that comes back with no result (its workers
    died too often, the scheduler went away) yields a result with no files and the error.
    Runs not yet finished are cancelled when the caller stops early (e.g. Ctrl-C).
    """
    distributed = _distributed()
    plan: int | dict[str, int] = threads if threads is not None else thread_plan(client)
    token = uuid.uuid4().hex[:8]
    futures = {
        client.submit(execute_run, **job, threads=plan, key=f"notebook-run-{name}-{token}", pure=False): index
        for index, (job, name) in enumerate(zip(jobs, names, strict=True))
    }
    try:
        for future in distributed.as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 (one lost run must not stop the sweep)
                result = {"files": {}, "error": _lost_run(error), "host": None}
            yield futures[future], result
    finally:
        client.cancel(list(futures))
