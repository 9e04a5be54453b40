"""Test helpers for sweeps: a tiny notebook that runs in a second, and a real Dask cluster
(one ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1) started and stopped by
process id."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

TINY_CODE = """\
import json, os, pathlib, time

time.sleep(pause)
if value < 0:
    raise ValueError(f"value = {value}: it must be >= 0")
out = pathlib.Path(output_dir)
(out / "figures").mkdir(parents=True, exist_ok=True)
(out / "figures" / "curve.bin").write_bytes(bytes(range(256)) * (value + 1))
names = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
metrics = {
    "parameters": {"value": value, "pause": pause, "seed": seed, "output_dir": output_dir},
    "test": {"accuracy": value / 100},
    "final": {"val_accuracy": (value + seed) / 100},
    "parameter_count": 10 * value,
    "history": {"val_accuracy": [(value + seed) / 100], "epoch_seconds": [pause]},
    "threads": {name: os.environ.get(name) for name in names},
    "worker_label": os.environ.get("SWEEP_TEST_WORKER"),
}
(out / "metrics.json").write_text(json.dumps(metrics))
print("value", value)
"""


def write_tiny_notebook(path: Path, value: int = 1, pause: float = 0.0) -> Path:
    """A notebook with a ``parameters`` cell (``value``, ``pause``, ``seed``, ``output_dir``)
    that sleeps ``pause`` seconds, fails for a negative ``value``, and writes a
    ``metrics.json`` shaped like notebook 01's plus a file in a subfolder."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell(
        f"value = {value}  # a whole number, 0 or more\npause = {pause}  # seconds\n"
        "seed = 0\noutput_dir = None"
    )
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(TINY_CODE)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def read_metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DaskProcesses:
    """A scheduler and workers as separate processes (``dask`` command line), logging into
    ``folder``; every process is stopped by its id in :meth:`stop`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "DASK_TEMPORARY_DIRECTORY": str(folder),  # Dask's scratch space stays in the test's folder
        }
        self.dask = str(Path(sys.executable).with_name("dask"))
        self.scheduler: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, arguments: list[str], env: dict) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("wb")
        return subprocess.Popen([self.dask, *arguments], stdout=log, stderr=subprocess.STDOUT, env=env)

    def start_scheduler(self) -> None:
        port = self.address.rsplit(":", 1)[1]
        # --idle-timeout: the scheduler goes away by itself if a crashed test leaves it behind
        arguments = [
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--no-dashboard",
            "--idle-timeout",
            "300",
        ]
        self.scheduler = self._start("scheduler", arguments, self.env)

    def start_worker(self, name: str) -> None:
        """A worker process (no nanny, so its id is the worker's own) of one thread."""
        arguments = ["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
        arguments += ["--host", "127.0.0.1", "--name", name, "--death-timeout", "60"]
        arguments += ["--local-directory", str(self.folder / name)]
        env = {**self.env, "SWEEP_TEST_WORKER": name}
        self.workers[name] = self._start(name, arguments, env)

    def client(self, workers: int, timeout: float = 90):
        """A client once ``workers`` workers are connected."""
        from distributed import Client

        client = Client(self.address, timeout=timeout)
        client.wait_for_workers(workers, timeout=timeout)
        return client

    def kill_worker(self, name: str) -> None:
        process = self.workers[name]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the workers, then the scheduler (SIGTERM, SIGKILL after 10 s), by process id."""
        for group in (list(self.workers.values()), [self.scheduler]):
            running = [p for p in group if p is not None and p.poll() is None]
            for process in running:
                process.terminate()
            deadline = time.monotonic() + 10
            for process in running:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
