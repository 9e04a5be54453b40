"""Training speed: notebook 01's training loop against plain Keras ``model.fit`` and PyTorch.

Trains the original tutorial's configuration (55,000 MNIST images, batch 100, 128 units,
Adam starting at learning rate 0.001) in several ways, side by side, for the vanilla RNN
(``--cell rnn``, the default), the LSTM (``--cell lstm``), the GRU (``--cell gru``) or
all three one after the other (``--cell all``):

  (a) notebook 01's loop (``rnn_helpers.training.train``): one call of the fast step
      (``rnn_helpers.fast_rnn.make_fast_train_step``) per batch;
  (b) plain Keras: ``SimpleRNN`` / ``LSTM`` / ``GRU`` + ``Dense`` compiled with Adam,
      trained by ``model.fit``;
  (c) the same loop as (a) with the plain ``tf.GradientTape`` step (``fast=False``);
  (t) PyTorch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` + ``nn.Linear`` with its own
      training loop over the same batches, with PyTorch's default threads, when
      ``torch`` can be imported (PyTorch is not a dependency of the project; ``--no-torch``
      leaves it out);
  and with ``--all``:
  (d) the fast step run a hundred batches per compiled call inside a ``tf.while_loop``
      (no Python per batch: what a per-batch call costs);
  (a'), (c') (a) and (c) with TensorFlow's default threads instead of the two-core layout
      of ``start_tensorflow()`` (what that layout does).

All use the same optimiser: by default the notebooks' (Adam from 0.001 with a cosine
decay over the run and gradient clipping of each gradient to norm 1); ``--optimizer
original`` uses the original's constant Adam 0.001. (With the constant rate, final
accuracies after a few epochs are noisy: two numerically equivalent runs given the same
batches drift apart by up to a percentage point, so the accuracy comparison says little;
the timing is unaffected.) PyTorch's Adam gets Keras's epsilon (1e-7); its LSTM and RNN
keep their second bias (``bias_hh``) at zero and frozen, so that all train the same
network with the same number of weights; the GRU has two biases in both.

By default (b) is handed each epoch's batches in the same order as (a) (``fit`` with
``shuffle=False`` on arrays shuffled the same way, which costs it nothing measurable), so
that their final validation accuracies can only differ by float rounding; ``--fit-shuffle``
lets Keras shuffle instead. Each runs in its own worker process (so each gets its own
thread settings and its own peak memory): (a) and (c) as the notebooks run them, after
``start_tensorflow()``; (b) with TensorFlow's default threads, as a Keras user gets it. All
start from the same weights (PyTorch's copied over, gates reordered where its layout
differs, and checked to give the same logits). After one warm-up epoch each (tracing and
compilation), the timed epochs alternate, a b c t a b c t ..., so that any background load
hits all alike. Printed and written as JSON: per-epoch wall time (median, min, max),
examples per second, achieved GFLOP/s against a float32 matmul peak measured on the spot
(the FLOP of the matmuls only: forward, and twice that for the backward pass), peak
memory, final validation accuracy, and the ratio of each method's median epoch time to
(a)'s.

    python benchmarks/train_speed.py                    # the vanilla RNN: (a), (b), (c), (t)
    python benchmarks/train_speed.py --cell all         # the same for the RNN, the LSTM and the GRU
    python benchmarks/train_speed.py --cell lstm --all  # (a) to (d), (a'), (c') and (t)
    python benchmarks/train_speed.py --epochs 6 --repeats 2 --units 64
    python benchmarks/train_speed.py --also-tuned-fit   # (b) again with (a)'s thread settings

Needs the MNIST files (see docs/data.md).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMESTEPS = NUM_INPUT = 28
N_CLASSES = 10


OPTIMIZERS = {
    "notebook": "Adam from 0.001, cosine decay over the run, clipnorm 1.0 (the notebooks' default)",
    "original": "Adam 0.001, constant, no clipping (the original tutorial)",
}


#: Weight matrices per recurrent layer: one for the vanilla RNN, one per gate otherwise.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LAYER_NAMES = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


def flops_per_example(units: int, cell: str = "rnn") -> float:
    """Floating-point operations to train on one example: forward matmuls, and twice that
    for the backward pass (gradients with respect to activations and to weights)."""
    gates = GATES[cell]
    forward = TIMESTEPS * (2 * NUM_INPUT * gates * units + 2 * units * gates * units) + 2 * units * N_CLASSES
    return 3.0 * forward


def _chunked_steps(model, optimizer, batch_size: int):
    """(d): the fast step run ``count`` batches per compiled call in a ``tf.while_loop``."""
    import tensorflow as tf

    from rnn_helpers.fast_rnn import fast_rnn_variables, forward_backward, in_trainable_order

    cell, variables = fast_rnn_variables(model)
    trainable = list(model.trainable_variables)
    optimizer.build(trainable)
    state = [*trainable, *optimizer.variables]

    @tf.function(reduce_retracing=True)
    def steps(x_all, y_all, permutation, first, count):
        losses = tf.TensorArray(tf.float32, size=count)

        def body(i, losses):
            indices = tf.slice(permutation, [(first + i) * batch_size], [batch_size])
            weights = [tf.convert_to_tensor(v) for v in variables]
            loss, _, gradients = forward_backward(
                weights, tf.gather(x_all, indices), tf.gather(y_all, indices), cell=cell
            )
            gradients = in_trainable_order(model, variables, gradients)
            with tf.control_dependencies([loss, *weights]):
                optimizer.apply_gradients(zip(gradients, trainable, strict=True))
            with tf.control_dependencies([tf.identity(v) for v in state]):
                return i + 1, losses.write(i, loss)

        _, losses = tf.while_loop(lambda i, _: i < count, body, (0, losses), parallel_iterations=1)
        return losses.stack()

    return steps


def _torch_training(config: dict, keras_model, x_train, y_train, x_valid, y_valid, optimizer_steps: int):
    """(t): the same network in PyTorch, from ``keras_model``'s weights: ``(epoch, accuracy)``
    functions, ``epoch(x_epoch, y_epoch)`` training on one epoch's shuffled arrays."""
    import numpy as np
    import torch

    cell, units = config["cell"], config["units"]
    torch.manual_seed(config["seed"])
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        NUM_INPUT, units, batch_first=True
    )
    head = torch.nn.Linear(units, N_CLASSES)
    kernel, recurrent, bias, W, b = keras_model.get_weights()
    # Keras's gate blocks: LSTM i f c o (PyTorch's order), GRU z r h (PyTorch: r z n)
    blocks = [1, 0, 2] if cell == "gru" else list(range(GATES[cell]))

    def reorder(matrix):
        return np.concatenate([matrix[..., g * units : (g + 1) * units] for g in blocks], axis=-1)

    with torch.no_grad():
        layer.weight_ih_l0.copy_(torch.from_numpy(reorder(kernel).T.copy()))
        layer.weight_hh_l0.copy_(torch.from_numpy(reorder(recurrent).T.copy()))
        if cell == "gru":
            layer.bias_ih_l0.copy_(torch.from_numpy(reorder(bias[0])))
            layer.bias_hh_l0.copy_(torch.from_numpy(reorder(bias[1])))
        else:  # one bias in Keras: PyTorch's second stays zero and is not trained
            layer.bias_ih_l0.copy_(torch.from_numpy(bias))
            layer.bias_hh_l0.zero_()
            layer.bias_hh_l0.requires_grad_(False)
        head.weight.copy_(torch.from_numpy(W.T.copy()))
        head.bias.copy_(torch.from_numpy(b))

    def logits_of(x):
        output, _ = layer(x)
        return head(output[:, -1])

    with torch.no_grad():  # the same network: the same logits as the Keras model
        sample = x_valid[:50]
        expected = np.asarray(keras_model(sample))
        difference = np.abs(logits_of(torch.from_numpy(sample)).numpy() - expected).max()
    if difference > 1e-4:
        raise RuntimeError(f"PyTorch's {cell} does not reproduce the Keras model (logits: {difference})")
    parameters = [p for p in (*layer.parameters(), *head.parameters()) if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=0.001, eps=1e-7)
    scheduler = None
    if config["optimizer"] == "notebook":
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + np.cos(np.pi * min(step, optimizer_steps) / optimizer_steps))
        )
    clip = config["optimizer"] == "notebook"

    def epoch(x_epoch, y_epoch):
        for start in range(0, len(y_epoch) - 99, 100):
            x_batch = torch.from_numpy(x_epoch[start : start + 100])
            labels = torch.from_numpy(y_epoch[start : start + 100].argmax(1))
            loss = torch.nn.functional.cross_entropy(logits_of(x_batch), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:  # Keras's clipnorm: each gradient to norm 1 by itself
                for parameter in parameters:
                    torch.nn.utils.clip_grad_norm_(parameter, 1.0)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss.item()

    def accuracy() -> float:
        with torch.no_grad():
            predicted = logits_of(torch.from_numpy(x_valid)).argmax(1).numpy()
        return float(np.mean(predicted == y_valid.argmax(1)))

    return epoch, accuracy


def _worker(method: str, conn, config: dict) -> None:
    """One training method in its own process, driven by commands over ``conn``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if method in ("project", "fit-tuned", "plain", "chunked"):
        from rnn_helpers.runs.startup import start_tensorflow

        start_tensorflow()  # the notebooks' set-up, including their thread layout
    import keras
    import numpy as np

    from rnn_helpers import get_next_batch, load_data, randomize
    from rnn_helpers.evaluation import evaluate
    from rnn_helpers.model import RNN
    from rnn_helpers.training import History, choose_train_step, make_optimizer, set_seed

    set_seed(config["seed"])
    x_train, y_train, x_valid, y_valid = load_data("train")
    x_train = x_train.reshape(-1, TIMESTEPS, NUM_INPUT)
    x_valid = x_valid.reshape(-1, TIMESTEPS, NUM_INPUT)
    cell = config["cell"]
    model = RNN(TIMESTEPS, NUM_INPUT, config["units"], N_CLASSES, seed=config["seed"], cell=cell)
    optimizer_steps = config["epochs_in_all"] * (len(y_train) // 100)

    def optimizer():
        if config["optimizer"] == "original":
            return make_optimizer(0.001)
        return make_optimizer(0.001, lr_schedule="cosine", total_steps=optimizer_steps, clip_norm=1.0)

    rng = np.random.default_rng(config["seed"])
    num_tr_iter = len(y_train) // 100

    def keras_accuracy(evaluated):
        return lambda: evaluate(evaluated, x_valid, y_valid)[1]

    if method.split("-")[0] in ("project", "plain"):
        # notebook 01's loop (rnn_helpers.training.train), one epoch per command
        step, is_fast = choose_train_step(
            model,
            optimizer(),
            keras.losses.CategoricalCrossentropy(from_logits=True),
            fast=method.startswith("project"),
        )
        if is_fast != method.startswith("project"):
            raise RuntimeError(f"{method}: expected the {'fast' if not is_fast else 'plain'} step")
        history = History()

        def epoch():
            x_epoch, y_epoch = randomize(x_train, y_train, rng)
            for iteration in range(num_tr_iter):
                start = iteration * 100
                x_batch, y_batch = get_next_batch(x_epoch, y_epoch, start, start + 100)
                loss_batch, acc_batch = step(x_batch, y_batch)
                history.add_batch(iteration, loss_batch, acc_batch)

        accuracy = keras_accuracy(model)
    elif method == "chunked":
        import tensorflow as tf

        steps = _chunked_steps(model, optimizer(), 100)
        x_all, y_all = tf.constant(x_train), tf.constant(y_train)

        def epoch():
            permutation = tf.constant(rng.permutation(len(y_train)), tf.int32)
            for first in range(0, num_tr_iter, 100):
                count = min(100, num_tr_iter - first)
                steps(x_all, y_all, permutation, tf.constant(first), tf.constant(count)).numpy()

        accuracy = keras_accuracy(model)
    elif method == "torch":
        torch_epoch, accuracy = _torch_training(
            config, model, x_train, y_train, x_valid, y_valid, optimizer_steps
        )

        def epoch():
            # the same batches, in the same order, as (a)
            torch_epoch(*randomize(x_train, y_train, rng))

    else:
        layer = getattr(keras.layers, LAYER_NAMES[cell])
        plain = keras.Sequential(
            [keras.Input((TIMESTEPS, NUM_INPUT)), layer(config["units"]), keras.layers.Dense(N_CLASSES)]
        )
        plain.set_weights(model.get_weights())  # the same starting point as (a)
        plain.compile(
            optimizer=optimizer(),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )

        def epoch():
            if config["fit_shuffle"]:
                plain.fit(x_train, y_train, batch_size=100, epochs=1, shuffle=True, verbose=0)
                return
            # the same batches, in the same order, as (a): randomize draws each epoch's order
            # from np.random.default_rng(seed) the same way
            order = rng.permutation(len(y_train))
            plain.fit(x_train[order], y_train[order], batch_size=100, epochs=1, shuffle=False, verbose=0)

        accuracy = keras_accuracy(plain)

    def matmul_peak() -> float:
        import tensorflow as tf

        a = tf.random.normal((1024, 1024))
        b = tf.random.normal((1024, 1024))
        tf.matmul(a, b).numpy()
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(10):
                c = tf.matmul(a, b)
            c.numpy()
            best = min(best, (time.perf_counter() - started) / 10)
        return 2 * 1024**3 / best / 1e9

    conn.send("ready")
    while True:
        command = conn.recv()
        if command == "epoch":
            started = time.perf_counter()
            epoch()
            conn.send(time.perf_counter() - started)
        elif command == "evaluate":
            conn.send(accuracy())
        elif command == "memory":
            conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # MiB on Linux
        elif command == "peak":
            conn.send(matmul_peak())
        else:
            conn.send(None)
            return


def _start(method: str, config: dict):
    parent, child = mp.get_context("spawn").Pipe()
    process = mp.get_context("spawn").Process(target=_worker, args=(method, child, config), daemon=True)
    process.start()
    message = parent.recv() if parent.poll(600) else None
    if message != "ready":
        raise RuntimeError(f"worker {method} failed to start (see its error above)")
    return process, parent


def _ask(conn, command: str):
    conn.send(command)
    return conn.recv()


def torch_version() -> str | None:
    """PyTorch's version when it can be imported, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def run(
    epochs: int,
    repeats: int,
    units: int,
    seed: int,
    also_tuned_fit: bool = False,
    fit_shuffle: bool = False,
    optimizer: str = "notebook",
    everything: bool = False,
    cell: str = "rnn",
    with_torch: bool = True,
) -> dict:
    layer = LAYER_NAMES[cell]
    methods = {
        "project": "(a) notebook loop, fast step",
        "plain": "(c) notebook loop, plain train_step",
        "fit": f"(b) keras model.fit ({layer})",
    }
    if with_torch and torch_version() is not None:
        methods["torch"] = f"(t) PyTorch nn.{'RNN' if cell == 'rnn' else layer}"
    if everything:
        methods.update(
            {
                "chunked": "(d) fast step, 100 per call",
                "project-default-threads": "(a') (a), default threads",
                "plain-default-threads": "(c') (c), default threads",
            }
        )
    if also_tuned_fit:
        methods["fit-tuned"] = "(b') keras model.fit, (a)'s threads"
    config = {
        "cell": cell,
        "units": units,
        "seed": seed,
        "fit_shuffle": fit_shuffle,
        "optimizer": optimizer,
        "epochs_in_all": epochs + 1,
    }
    n_examples = 55000 // 100 * 100
    flops_epoch = flops_per_example(units, cell) * n_examples
    times: dict[str, list[float]] = {m: [] for m in methods}
    accuracy: dict[str, list[float]] = {m: [] for m in methods}
    memory: dict[str, float] = dict.fromkeys(methods, 0.0)
    peak = None
    for repeat in range(repeats):
        workers = {m: _start(m, config) for m in methods}
        if peak is None:
            peak = _ask(workers["fit"][1], "peak")
        for method, (_, conn) in workers.items():
            warm = _ask(conn, "epoch")
            print(f"[{cell}, repeat {repeat + 1}] {methods[method]}: warm-up epoch {warm:.2f} s", flush=True)
        for epoch in range(epochs):
            for method, (_, conn) in workers.items():
                seconds = _ask(conn, "epoch")
                times[method].append(seconds)
                print(
                    f"[{cell}, repeat {repeat + 1}] epoch {epoch + 1}: {methods[method]} {seconds:.2f} s",
                    flush=True,
                )
        for method, (process, conn) in workers.items():
            accuracy[method].append(_ask(conn, "evaluate"))
            memory[method] = max(memory[method], _ask(conn, "memory"))
            _ask(conn, "stop")
            process.join(timeout=30)

    import tensorflow as tf

    try:
        processor = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        processor = platform.processor() or platform.machine()
    results = {
        "config": {
            "cell": cell,
            "examples_per_epoch": n_examples,
            "batch_size": 100,
            "units": units,
            "optimizer": OPTIMIZERS[optimizer],
            "timed_epochs_per_repeat": epochs,
            "repeats": repeats,
            "epochs_trained_per_repeat": epochs + 1,
            "seed": seed,
            "batch_order": "keras shuffles (fit shuffle=True)" if fit_shuffle else "identical in all methods",
            "gflop_per_epoch": flops_epoch / 1e9,
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(terse=True),
            "processor": processor,
            "load_average_at_end": os.getloadavg(),
            "tensorflow": tf.__version__,
            "torch": torch_version() if "torch" in methods else None,
            "matmul_peak_gflops": peak,
        },
        "methods": {},
    }
    for method, label in methods.items():
        median = statistics.median(times[method])
        results["methods"][method] = {
            "label": label,
            "epoch_seconds": times[method],
            "median_s": median,
            "min_s": min(times[method]),
            "max_s": max(times[method]),
            "examples_per_s": n_examples / median,
            "gflops": flops_epoch / median / 1e9,
            "percent_of_peak": 100 * flops_epoch / median / 1e9 / peak,
            "peak_memory_mib": memory[method],
            "final_val_accuracy": accuracy[method],
        }
    project = results["methods"]["project"]
    for method in methods:
        if method != "project":
            entry = results["methods"][method]
            entry["ratio_to_project"] = entry["median_s"] / project["median_s"]
            entry["val_accuracy_difference_pp"] = [
                100 * (b - a)
                for a, b in zip(project["final_val_accuracy"], entry["final_val_accuracy"], strict=True)
            ]
    return results


def report(results: dict) -> str:
    config, machine = results["config"], results["machine"]
    lines = [
        f"Training speed, {LAYER_NAMES[config['cell']]}: {config['examples_per_epoch']} examples per epoch, "
        f"batch {config['batch_size']}, {config['units']} units;\n{config['optimizer']};\n"
        f"{config['timed_epochs_per_repeat']} timed epochs x "
        f"{config['repeats']} repeat(s) after a warm-up epoch; batch order {config['batch_order']}",
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs, {machine['platform']}, "
        f"TensorFlow {machine['tensorflow']}"
        + (f", PyTorch {machine['torch']}" if machine.get("torch") else "")
        + f"; load average at the end {machine['load_average_at_end'][0]:.1f}; "
        f"float32 matmul peak {machine['matmul_peak_gflops']:.0f} GFLOP/s; "
        f"{config['gflop_per_epoch']:.0f} GFLOP per epoch",
        "",
        f"{'method':<38} {'median s':>8} {'min':>6} {'max':>6} {'ex/s':>7} {'GFLOP/s':>8} {'% peak':>7} "
        f"{'peak MiB':>8} {'val acc':>8}",
    ]
    for entry in results["methods"].values():
        accuracy = statistics.mean(entry["final_val_accuracy"])
        lines.append(
            f"{entry['label']:<38} {entry['median_s']:8.2f} {entry['min_s']:6.2f} {entry['max_s']:6.2f} "
            f"{entry['examples_per_s']:7.0f} {entry['gflops']:8.1f} {entry['percent_of_peak']:6.1f}% "
            f"{entry['peak_memory_mib']:8.0f} {accuracy:8.2%}"
        )
    lines.append("")
    for method, entry in results["methods"].items():
        if method != "project":
            difference = ", ".join(f"{d:+.2f}" for d in entry["val_accuracy_difference_pp"])
            lines.append(
                f"ratio {entry['label']} / (a): {entry['ratio_to_project']:.2f}x "
                f"(validation accuracy difference, percentage points: {difference})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cell",
        choices=[*LAYER_NAMES, "all"],
        default="rnn",
        help="the recurrent layer: rnn (default), lstm, gru, or all three one after the other",
    )
    parser.add_argument(
        "--epochs", type=int, default=4, help="timed epochs per method and repeat (default 4)"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="fresh runs of the whole comparison (default 1)"
    )
    parser.add_argument("--units", type=int, default=128, help="hidden units (default 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--also-tuned-fit", action="store_true", help="also time model.fit with (a)'s threads"
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="leave PyTorch out even when it can be imported"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also (d) the fast step 100 batches per call, and (a), (c) with TensorFlow's default threads",
    )
    parser.add_argument(
        "--optimizer",
        choices=sorted(OPTIMIZERS),
        default="notebook",
        help="notebook (default): Adam from 0.001 with the notebooks' cosine decay and clipping; "
        "original: constant Adam 0.001 without clipping",
    )
    parser.add_argument(
        "--fit-shuffle",
        action="store_true",
        help="let model.fit shuffle by itself (default: it gets the same batch order as (a), so that the "
        "final accuracies differ only by float rounding)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "train_speed.json",
        help="where to write JSON (one entry per cell)",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1 or args.units < 1:
        parser.error("--epochs, --repeats and --units must be at least 1")
    if not args.no_torch and torch_version() is None:
        print("PyTorch is not installed: (t) is left out.", flush=True)
    cells = list(LAYER_NAMES) if args.cell == "all" else [args.cell]
    everything = {}
    for cell in cells:
        everything[cell] = run(
            args.epochs,
            args.repeats,
            args.units,
            args.seed,
            args.also_tuned_fit,
            args.fit_shuffle,
            args.optimizer,
            args.all,
            cell,
            not args.no_torch,
        )
        print()
        print(report(everything[cell]))
        print(flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(everything, indent=2) + "\n")
    print(f"\nwrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
