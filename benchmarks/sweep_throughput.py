"""Sweep throughput: the same small grid run one notebook at a time, then on a local Dask cluster.

Runs the sweeps' experiment notebook, ``sweeps/experiment.ipynb`` (notebook 01's training
loop with the levers the sweeps turn), once per seed (default: 4 seeds, 2 epochs, 10,000
training images, the notebook's other defaults, which make it notebook 01's run; ``--fast``
trains with the hand-written fast step instead) twice: with
``rnn_helpers.runs.sweep.run_sweep`` in this process (one run after another, no Dask), then
with ``--workers`` runs at once on a Dask cluster started on this machine
(``rnn_helpers.runs.cluster.local_client``). Both sweeps go into a temporary folder. Prints,
and writes as JSON with ``--json``: the machine (CPU model, cores, load average before and
after), each sweep's wall time and runs per minute, the ratio of the two, and whether both
gave the same test and validation accuracies.

    python benchmarks/sweep_throughput.py
    python benchmarks/sweep_throughput.py --runs 8 --workers 4 --epochs 1 --fast

Needs the MNIST files (see docs/data.md) and the cluster extra.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from rnn_helpers.runs import records
from rnn_helpers.runs.cluster import local_client
from rnn_helpers.runs.sweep import run_sweep

EXPERIMENT = Path(__file__).resolve().parents[1] / "sweeps" / "experiment.ipynb"


def load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=4, help="runs in the grid (seeds 1..runs)")
    parser.add_argument("--workers", type=int, default=2, help="runs at once on the local cluster")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--fast", action="store_true", help="train with the fast step (fast=True)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel for the runs")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    return parser


def sweep_twice(sets: list[dict], workers: int, kernel: str) -> tuple[list, list, float, float]:
    """The grid one run after another, then on a local cluster of ``workers``: both sweeps'
    rows and wall times ``(alone, spread, sequential_s, clustered_s)``."""
    with tempfile.TemporaryDirectory(prefix="sweep-throughput-") as folder:
        start = time.perf_counter()
        alone = run_sweep(EXPERIMENT, sets, Path(folder, "sequential"), kernel_name=kernel, progress=False)
        sequential = time.perf_counter() - start
        with local_client(workers) as client:
            start = time.perf_counter()  # the cluster's start-up (a few seconds) is not counted
            spread = run_sweep(
                EXPERIMENT, sets, Path(folder, "cluster"), kernel_name=kernel, progress=False, client=client
            )
            clustered = time.perf_counter() - start
    failed = [r["run"] for r in alone + spread if r["status"] != "done"]
    if failed:
        raise SystemExit(f"runs failed: {failed}")
    return alone, spread, sequential, clustered


def main() -> None:
    args = _parser().parse_args()
    fast = {"fast": True} if args.fast else {}
    sets = [
        {"seed": seed, "epochs": args.epochs, "n_train": args.n_train, **fast}
        for seed in range(1, args.runs + 1)
    ]
    report: dict = {
        "machine": {"cpu": records.cpu_model(), "cores": os.cpu_count(), "load_before": load()},
        "grid": {"runs": args.runs, "epochs": args.epochs, "n_train": args.n_train, "fast": args.fast},
    }
    alone, spread, sequential, clustered = sweep_twice(sets, args.workers, args.kernel)
    report["machine"]["load_after"] = load()
    same = all(
        a["test_accuracy"] == b["test_accuracy"] and a["val_accuracy"] == b["val_accuracy"]
        for a, b in zip(alone, spread, strict=True)
    )
    report["sequential"] = {
        "seconds": round(sequential, 1),
        "runs_per_minute": round(60 * args.runs / sequential, 2),
    }
    report[f"workers_{args.workers}"] = {
        "seconds": round(clustered, 1),
        "runs_per_minute": round(60 * args.runs / clustered, 2),
    }
    report["speed_up"] = round(sequential / clustered, 2)
    report["same_accuracies"] = same
    report["test_accuracies"] = [r["test_accuracy"] for r in alone]
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores")
    print(f"load average (1, 5, 15 min) before: {m['load_before']}, after: {m['load_after']}")
    print(f"grid: {args.runs} runs x {args.epochs} epochs, n_train {args.n_train}, fast {args.fast}")
    print(f"sequential:           {sequential:6.1f} s  {60 * args.runs / sequential:5.2f} runs/min")
    print(
        f"--workers {args.workers}:          {clustered:6.1f} s  {60 * args.runs / clustered:5.2f} runs/min"
    )
    print(f"speed-up: {sequential / clustered:.2f}x; same test and validation accuracies: {same}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
