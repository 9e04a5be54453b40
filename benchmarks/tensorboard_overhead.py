"""TensorBoard logging's cost: notebook 01's training loop with and without event files.

Trains the same network two ways in one process: (a) with a ``History`` that writes
TensorBoard event files (``log_dir``, into a temporary folder, as notebook 01 and the sweeps
do: per logged iteration ``batch_loss`` and ``gradient_norm``, per epoch the losses,
accuracies and learning rate, flushed after every epoch), and (b) with a ``History``
without ``log_dir``. Both start from the same weights with their own optimiser (the
notebooks': Adam from 0.001, cosine decay, clipnorm 1.0), the same seed and so the same
batches; everything else is the same code, ``rnn_helpers.training.train``'s loop. After
one untimed warm-up epoch each (tracing), the timed epochs alternate between the two, in
the order a b, b a, a b, ... so that background load and any drift hit both alike. An
epoch is timed as ``History`` counts it: its training steps, the validation and the
end-of-epoch bookkeeping (where (a) writes and flushes), in wall-clock seconds and in
CPU seconds of this process (all its threads; other programs' load changes these much
less).

Prints the machine (CPU model and cores, load average), per way the seconds per epoch
(median and every epoch, wall and CPU), the ratios of the medians (with logging /
without) and the medians of the rounds' own ratios, whether both ended with the same
validation accuracy (logging must not change training), and, measured apart without any
training, what ``History``'s own bookkeeping of one epoch costs with and without event
files: the part of an epoch that logging can change at all. On a machine shared with
other work, two identical ways differ by several percent from epoch to epoch;
``--control`` measures that noise floor by running (a) without event files too.

    python benchmarks/tensorboard_overhead.py                  # 3 timed epochs each, 55,000 images
    python benchmarks/tensorboard_overhead.py --step fast      # with the hand-written fast step
    python benchmarks/tensorboard_overhead.py --control        # both ways without event files
    python benchmarks/tensorboard_overhead.py --epochs 5 --n-train 10000 --json overhead.json

Needs the MNIST files (see docs/data.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnn_helpers.runs import records  # noqa: E402

#: The two ways, in the order of the first timed round.
ARMS = ("with_logs", "without_logs")
#: What an epoch is timed by: wall-clock seconds, and this process's CPU seconds.
CLOCKS = ("wall", "cpu")


def load_average() -> list[float]:
    """The system's load average over 1, 5 and 15 minutes (empty where unknown)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


@dataclass
class Arm:
    """One way of training: its model, optimiser step, History, shuffling and epoch times."""

    name: str
    model: Any
    step: Any
    history: Any
    rng: np.random.Generator
    x: np.ndarray
    y: np.ndarray
    seconds: dict[str, list[float]] = field(default_factory=lambda: {"wall": [], "cpu": []})


def make_arm(name: str, weights: list, data: dict, config: dict, log_dir: Path | None) -> Arm:
    """A fresh model holding ``weights``, the notebooks' optimiser, and a History that writes
    event files into ``log_dir`` (None: none)."""
    import keras

    from rnn_helpers.model import RNN
    from rnn_helpers.training import History, make_optimizer, make_train_step

    model = RNN(28, 28, config["units"], data["y_train"].shape[1], seed=config["seed"])
    model.set_weights(weights)
    steps = (config["epochs"] + 1) * (len(data["y_train"]) // config["batch_size"])
    optimizer = make_optimizer(0.001, lr_schedule="cosine", total_steps=steps, clip_norm=1.0)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    step = make_train_step(model, optimizer, loss_fn, fast=config["step"] == "fast")
    history = History(optimizer, data["y_train"].shape[1], config["display_freq"], log_dir=log_dir)
    rng = np.random.default_rng(config["seed"])
    return Arm(name, model, step, history, rng, data["x_train"], data["y_train"])


def run_epoch(arm: Arm, data: dict, config: dict) -> float:
    """One epoch of ``train``'s loop (progress lines built, not printed); its wall-clock and
    CPU seconds are added to ``arm.seconds``."""
    from rnn_helpers import get_next_batch, randomize
    from rnn_helpers.evaluation import evaluate
    from rnn_helpers.training import format_iteration

    start, cpu_start = time.perf_counter(), time.process_time()
    batch_size, display_freq = config["batch_size"], config["display_freq"]
    arm.x, arm.y = randomize(arm.x, arm.y, arm.rng)
    for iteration in range(len(arm.y) // batch_size):
        begin, end = iteration * batch_size, (iteration + 1) * batch_size
        x_batch, y_batch = get_next_batch(arm.x, arm.y, begin, end)
        loss_batch, acc_batch, gradient_norm = arm.step(x_batch, y_batch)
        arm.history.add_batch(iteration, loss_batch, acc_batch, gradient_norm)
        if iteration % display_freq == 0:
            format_iteration(iteration, loss_batch, acc_batch)
    loss_valid, acc_valid = evaluate(arm.model, data["x_valid"], data["y_valid"])
    arm.history.end_epoch(loss_valid, acc_valid)
    arm.seconds["wall"].append(time.perf_counter() - start)
    arm.seconds["cpu"].append(time.process_time() - cpu_start)


def measure(data: dict, config: dict, log_dir: Path | None) -> dict[str, Any]:
    """Train both ways, epochs alternating (see the module's docstring).

    Args:
        data: ``x_train`` ``(N, 28, 28)``, ``y_train`` one-hot ``(N, C)``, ``x_valid``, ``y_valid``.
        config: ``epochs`` (timed, each way), ``units``, ``batch_size``, ``display_freq``,
            ``seed``, ``step`` (``"plain"``: notebook 01's ``train_step``; ``"fast"``).
        log_dir: where the logging way writes its event files (``train/``, ``validation/``);
            None for the control (both ways without).

    Returns:
        ``{"wall": {way: [seconds, ...]}, "cpu": {way: [...]}, "val_accuracy": {way: last},
        "bookkeeping_ms": {way: milliseconds}}``, ways ``with_logs`` and ``without_logs``.
    """
    from rnn_helpers.model import RNN
    from rnn_helpers.training import set_seed

    set_seed(config["seed"])
    weights = RNN(28, 28, config["units"], data["y_train"].shape[1], seed=config["seed"]).get_weights()
    arms = {
        "with_logs": make_arm("with_logs", weights, data, config, log_dir),
        "without_logs": make_arm("without_logs", weights, data, config, None),
    }
    for arm in arms.values():  # warm-up: tracing and compilation, not timed
        run_epoch(arm, data, config)
        arm.seconds = {"wall": [], "cpu": []}
    for round_ in range(config["epochs"]):
        for name in ARMS if round_ % 2 == 0 else ARMS[::-1]:
            run_epoch(arms[name], data, config)
    for arm in arms.values():
        arm.history.close()
    result: dict[str, Any] = {
        clock: {name: arm.seconds[clock] for name, arm in arms.items()} for clock in CLOCKS
    }
    result["val_accuracy"] = {name: arm.history.val_accuracy[-1] for name, arm in arms.items()}
    steps = len(data["y_train"]) // config["batch_size"]
    with tempfile.TemporaryDirectory(prefix="tensorboard-bookkeeping-") as folder:
        result["bookkeeping_ms"] = {
            "with_logs": bookkeeping_ms(steps, config["display_freq"], Path(folder)),
            "without_logs": bookkeeping_ms(steps, config["display_freq"], None),
        }
    return result


def bookkeeping_ms(steps: int, display_freq: int, log_dir: Path | None, epochs: int = 5) -> float:
    """Milliseconds per epoch that ``History`` itself takes for ``steps`` batches and one
    end of epoch, writing event files into ``log_dir`` (None: none); no training."""
    import keras
    import tensorflow as tf

    from rnn_helpers.training import History

    history = History(keras.optimizers.Adam(0.001), 10, display_freq, log_dir=log_dir)
    loss, accuracy, norm = tf.constant(0.3), tf.constant(0.9), tf.constant(0.5)
    history.add_batch(0, loss, accuracy, norm)
    history.end_epoch(0.3, 0.9)  # the event files are opened here, as in the first epoch
    start = time.perf_counter()
    for _ in range(epochs):
        for iteration in range(steps):
            history.add_batch(iteration, loss, accuracy, norm)
        history.end_epoch(0.3, 0.9)
    history.close()
    return (time.perf_counter() - start) / epochs * 1000


def load_mnist(n_train: int | None) -> dict:
    """MNIST's training and validation sets as ``(N, 28, 28)`` images, the first ``n_train``
    training images only when given."""
    from rnn_helpers import load_data

    x_train, y_train, x_valid, y_valid = load_data("train", progress=False)
    if n_train:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    return {"x_train": x_train.reshape(-1, 28, 28), "y_train": y_train,
            "x_valid": x_valid.reshape(-1, 28, 28), "y_valid": y_valid}  # fmt: skip


def ratios(seconds: dict[str, list[float]]) -> tuple[dict[str, float], float, float]:
    """Medians per way, the ratio of the medians (with / without), the median of the rounds' ratios."""
    medians = {name: statistics.median(seconds[name]) for name in ARMS}
    rounds = zip(seconds["with_logs"], seconds["without_logs"], strict=True)
    paired = statistics.median(with_logs / without for with_logs, without in rounds)
    return medians, medians["with_logs"] / medians["without_logs"], paired


def report(result: dict[str, Any], config: dict, machine: dict) -> dict[str, Any]:
    """Print the measurement; return it with the medians and the ratios added."""
    same = result["val_accuracy"]["with_logs"] == result["val_accuracy"]["without_logs"]
    print(f"machine: {machine['cpu']}, {machine['cores']} cores; {machine['tensorflow']}; load average "
          f"(1, 5, 15 min) {machine['load_before']} before, {machine['load_after']} after")  # fmt: skip
    print(f"{config['n_train']} training images, batch {config['batch_size']}, {config['units']} units, "
          f"{config['step']} step, display_freq {config['display_freq']}; "
          f"{config['epochs']} timed epochs each, alternating"
          + ("; CONTROL: both ways without event files" if config["control"] else ""))  # fmt: skip
    summary: dict[str, Any] = {}
    for clock in CLOCKS:
        medians, ratio, paired = ratios(result[clock])
        summary[clock] = {"medians": medians, "ratio": ratio, "paired_ratio": paired}
        for name in ARMS:
            shown = ", ".join(f"{s:.2f}" for s in result[clock][name])
            print(f"{clock:>4} {name:>13}: {medians[name]:.3f} s per epoch (median; epochs: {shown})")
        print(f"{clock:>4} ratio with / without: {ratio:.3f} ({(ratio - 1) * 100:+.1f}%); "
              f"median of the rounds' ratios: {paired:.3f}")  # fmt: skip
    print(f"same final validation accuracy both ways: {same} ({result['val_accuracy']['with_logs']:.4f})")
    book = result["bookkeeping_ms"]
    extra = book["with_logs"] - book["without_logs"]
    share = extra / 1000 / summary["wall"]["medians"]["without_logs"]
    print(f"History's own bookkeeping per epoch (no training): {book['with_logs']:.1f} ms with event "
          f"files, {book['without_logs']:.1f} ms without: {extra:+.1f} ms, "
          f"{share:+.3%} of an epoch")  # fmt: skip
    return {**result, **summary, "same_val_accuracy": same, "config": config, "machine": machine}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs each way (after one warm-up)")
    parser.add_argument("--n-train", type=int, default=None, help="first N training images (default: all)")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--display-freq", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--step", choices=("plain", "fast"), default="plain",
                        help="plain: notebook 01's train_step; fast: the hand-written step")  # fmt: skip
    parser.add_argument("--control", action="store_true",
                        help="both ways without event files: the noise floor of the comparison")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()

    from rnn_helpers.runs.startup import start_tensorflow, usable_cores

    machine = {"cpu": records.cpu_model(), "cores": usable_cores(), "tensorflow": start_tensorflow(),
               "load_before": load_average()}  # fmt: skip
    data = load_mnist(args.n_train)
    config = {"epochs": args.epochs, "units": args.units, "batch_size": args.batch_size,
              "display_freq": args.display_freq, "seed": args.seed, "step": args.step,
              "n_train": len(data["y_train"]), "control": args.control}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tensorboard-overhead-") as folder:
        result = measure(data, config, None if args.control else Path(folder))
    machine["load_after"] = load_average()
    measured = report(result, config, machine)
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
