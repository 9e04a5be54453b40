"""Sweeps on a Dask cluster: a real ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1, the same results as the sweep without Dask, a worker killed mid-sweep, and
resuming after the sweep itself was killed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_support import ROOT, DaskProcesses, free_port, read_metrics, write_tiny_notebook

from rnn_helpers.runs.folders import MANIFEST
from rnn_helpers.runs.sweep import RECORD, load_results, main, run_sweep

pytest.importorskip("distributed", reason="the cluster extra is not installed (pip install -e '.[cluster]')")

pytestmark = pytest.mark.slow

PYTHON = sys.executable


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory):
    """A scheduler and two one-thread workers, stopped by their process ids at the end."""
    processes = DaskProcesses(tmp_path_factory.mktemp("dask"))
    try:
        processes.start_scheduler()
        processes.start_worker("w1")
        processes.start_worker("w2")
        yield processes
    finally:
        processes.stop()


@pytest.fixture
def client(dask_processes):
    client = dask_processes.client(workers=2)
    yield client
    client.close()


def complete_runs(root: Path) -> dict[str, list[str]]:
    """Each run folder's files (relative names; TensorFlow's event files, named after the
    time and the process that wrote them, as ``<folder>/events.out.tfevents.*``); fails on
    any half-written leftover."""
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"half-written folders left behind: {leftovers}"
    written_by_tensorflow = re.compile(r"events\.out\.tfevents\.\d+\..*\.v2$")
    return {
        folder.name: sorted(
            written_by_tensorflow.sub("events.out.tfevents.*", str(p.relative_to(folder)))
            for p in folder.rglob("*")
            if p.is_file()
        )
        for folder in sorted(root.iterdir())
        if folder.is_dir()
    }


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def test_without_workers_or_scheduler_dask_is_not_imported(tmp_path):
    notebook = write_tiny_notebook(tmp_path / "tiny.ipynb")
    script = (
        "import sys; from rnn_helpers.runs.sweep import main\n"
        f"code = main(['--notebook', {str(notebook)!r}, '--output', {str(tmp_path / 'out')!r},"
        " '--kernel', 'python3', '-p', 'value', '1', '2'])\n"
        "print('DASK', sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DASK []" in result.stdout
    assert [r["status"] for r in load_results(tmp_path / "out")] == ["done", "done"]


def test_cluster_sweep_gives_the_same_results_as_the_sweep_without_dask(tmp_path, client):
    from test_notebooks import EXPERIMENT, need
    from test_tensorboard import read_session

    need("mnist")
    common = {"epochs": 1, "n_train": 1000, "num_hidden_units": 16, "display_freq": 1000}
    sets = [{"seed": 1, **common}, {"seed": 2, **common}]
    alone = run_sweep(EXPERIMENT, sets, tmp_path / "alone", kernel_name="python3", progress=False)
    spread = run_sweep(
        EXPERIMENT, sets, tmp_path / "cluster", kernel_name="python3", progress=False, client=client
    )
    assert [r["status"] for r in alone] == [r["status"] for r in spread] == ["done", "done"]
    for one, other in zip(alone, spread, strict=True):
        for column in ("test_accuracy", "val_accuracy", "parameter_count"):
            assert one[column] == other[column], (one["run"], column)
    assert alone[0]["test_accuracy"] != alone[1]["test_accuracy"]  # the seeds do make a difference
    files = complete_runs(tmp_path / "alone")
    assert files == complete_runs(tmp_path / "cluster")  # the same files in the same places
    assert {"metrics.json", RECORD, EXPERIMENT.name, "model.keras", "confusion_matrix.png"} <= set(
        files[alone[0]["run"]]
    )
    assert {"logs/hparams/events.out.tfevents.hparams", "logs/train/events.out.tfevents.*"} <= set(
        files[alone[0]["run"]]
    )
    for row in alone:
        here, there = (read_metrics(tmp_path / side / row["run"]) for side in ("alone", "cluster"))
        assert here["history"]["val_accuracy"] == there["history"]["val_accuracy"]
        assert here["test"] == there["test"]
        # the same HParams session for TensorBoard, written by the sweep's process either way
        sessions = [
            read_session(tmp_path / side / row["run"] / "logs" / "hparams") for side in ("alone", "cluster")
        ]
        assert sessions[0] == sessions[1] and sessions[0]["group"] == row["run"]
        assert sessions[0]["hparams"]["seed"] == row["seed"]
    assert load_results(tmp_path / "cluster")[1]["history"]["val_accuracy"] == [spread[1]["val_accuracy"]]


def test_failed_runs_are_recorded_and_threads_shared_on_the_cluster(tmp_path, client):
    notebook = write_tiny_notebook(tmp_path / "tiny.ipynb")
    sets = [{"value": 1}, {"value": -1}, {"value": 2}]
    rows = run_sweep(notebook, sets, tmp_path / "out", kernel_name="python3", progress=False, client=client)
    assert [r["status"] for r in rows] == ["done", "failed", "done"]
    assert rows[1]["error"] == "ValueError: value = -1: it must be >= 0"
    assert json.loads((tmp_path / "out" / "value=-1" / "error.json").read_text())["error"] == "ValueError"
    assert (tmp_path / "out" / "value=-1" / "tiny.ipynb").is_file()  # the traceback is in there
    threads = str(max(1, cores() // 2))  # two one-thread workers on this machine's cores
    recorded = read_metrics(tmp_path / "out" / "value=2")["threads"]
    inter = str(min(2, int(threads)))
    assert recorded == {
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": inter,
        "OMP_NUM_THREADS": threads,
    }
    rows = run_sweep(
        notebook, sets, tmp_path / "out", kernel_name="python3", progress=False, client=client, threads=3
    )
    assert [r["status"] for r in rows] == ["skipped: done before", "failed", "skipped: done before"]


def test_a_worker_killed_mid_sweep_loses_no_run(tmp_path, dask_processes):
    """The run on the killed worker is made again on the other one; every folder is whole."""
    import threading

    notebook = write_tiny_notebook(tmp_path / "tiny.ipynb", pause=4.0)
    sets = [{"value": v} for v in (1, 2, 3)]
    client = dask_processes.client(workers=2)
    outcome: dict = {}
    victim = None
    sweep = threading.Thread(
        target=lambda: outcome.update(
            rows=run_sweep(
                notebook, sets, tmp_path / "out", kernel_name="python3", progress=False, client=client
            )
        )
    )
    try:
        sweep.start()
        deadline = time.monotonic() + 60
        busy: dict = {}
        while not busy and time.monotonic() < deadline:
            busy = {worker: keys for worker, keys in client.processing().items() if keys}
            time.sleep(0.2)
        assert busy, "no worker started a run within 60 s"
        address, keys = next(iter(busy.items()))
        victim = client.scheduler_info(n_workers=-1)["workers"][address]["name"]
        time.sleep(1.5)  # the notebook is running now (it sleeps 4 s)
        dask_processes.kill_worker(victim)
        sweep.join(timeout=120)
        assert not sweep.is_alive(), "the sweep did not finish after a worker was killed"
        rows = outcome["rows"]
        assert [r["status"] for r in rows] == ["done", "done", "done"]
        assert [r["test_accuracy"] for r in rows] == [0.01, 0.02, 0.03]
        files = complete_runs(tmp_path / "out")
        assert all(
            names
            == [
                MANIFEST,
                "figures/curve.bin",
                "logs/hparams/events.out.tfevents.hparams",
                "metrics.json",
                RECORD,
                "tiny.ipynb",
            ]
            for names in files.values()
        )
        lost = next(r["run"] for r in rows if r["run"] in keys[0])
        survivor = "w2" if victim == "w1" else "w1"
        assert read_metrics(tmp_path / "out" / lost)["worker_label"] == survivor  # made again there
        # Each run's temporary folder was inside its worker's own folder, not the system's.
        scratch = dask_processes.folder / victim
        assert [p.name for p in scratch.rglob("rnn-sweep-*")], (
            "the killed run's folder is where Dask clears it"
        )
    finally:
        sweep.join(timeout=120)
        client.close()
        if victim is not None:
            dask_processes.start_worker(victim)  # the other tests get two workers again


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path, dask_processes):
    notebook = write_tiny_notebook(tmp_path / "tiny.ipynb", pause=2.0)
    out = tmp_path / "out"
    argv = ["--notebook", str(notebook), "--output", str(out), "--kernel", "python3"]
    argv += ["-p", "value", "1", "2", "3", "4", "5", "--scheduler", dask_processes.address]
    sweep = subprocess.Popen(
        [PYTHON, "-m", "rnn_helpers.runs.sweep", *argv],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not any(out.glob(f"*/{RECORD}")) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait(timeout=30)
    finished = {p.parent.name for p in out.glob(f"*/{RECORD}")}
    assert 1 <= len(finished) < 5, finished

    client = dask_processes.client(workers=2)
    try:
        rows = run_sweep(
            notebook,
            [{"value": v} for v in range(1, 6)],
            out,
            kernel_name="python3",
            progress=False,
            client=client,
        )
    finally:
        client.close()
    assert {r["run"] for r in rows if r["status"] == "skipped: done before"} >= finished
    assert all(r["status"] in ("done", "skipped: done before") for r in rows)
    assert [r["test_accuracy"] for r in rows] == [0.01, 0.02, 0.03, 0.04, 0.05]
    assert len(complete_runs(out)) == 5


def test_command_line_local_cluster(tmp_path, capsys, monkeypatch):
    import dask

    notebook = write_tiny_notebook(tmp_path / "tiny.ipynb")
    monkeypatch.setenv("DASK_TEMPORARY_DIRECTORY", str(tmp_path))  # Dask's scratch space, for the workers
    stack = dask.config.set({"temporary-directory": str(tmp_path)})  # and for this process
    argv = ["--notebook", str(notebook), "--output", str(tmp_path / "out"), "--kernel", "python3"]
    with stack:
        code = main([*argv, "-p", "value", "1", "2", "--workers", "2"])
    assert code == 0
    assert "2 runs; table in" in capsys.readouterr().out
    runs = load_results(tmp_path / "out")
    assert [r["status"] for r in runs] == ["done", "done"]
    threads = str(max(1, cores() // 2))
    assert read_metrics(tmp_path / "out" / "value=2")["threads"]["TF_NUM_INTRAOP_THREADS"] == threads


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--workers", "0"], "--workers 0: give a whole number >= 1"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with argument"),
        (["--threads", "2"], "--threads N (N >= 1) goes with --workers or --scheduler"),
        (["--workers", "2", "--threads", "0"], "--threads N (N >= 1) goes with --workers or --scheduler"),
        (["--workers", "1", "--kernel", "no-such-kernel"], "Jupyter has no kernel named 'no-such-kernel'"),
    ],
)
def test_command_line_cluster_mistakes_are_explained(tmp_path, capsys, extra, message):
    notebook = write_tiny_notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(SystemExit) as info:
        main(["--notebook", str(notebook), "--output", str(tmp_path / "out"), *extra])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_is_explained():
    from rnn_helpers.runs.cluster import remote_client

    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with (
        pytest.raises(
            ConnectionError, match="Cannot reach a Dask scheduler at 'tcp://127.0.0.1:.*dask scheduler"
        ),
        remote_client(address, timeout=2),
    ):
        pass


def test_without_the_cluster_extra_the_message_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    notebook = write_tiny_notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(SystemExit) as info:
        main(["--notebook", str(notebook), "--output", str(tmp_path / "out"), "--workers", "2"])
    assert info.value.code == 2
    assert 'pip install -e ".[cluster]"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
