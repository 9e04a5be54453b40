"""Training speed: notebook 01's training loop with its two steps, plain Keras ``model.fit`` and PyTorch.

Trains the original tutorial's configuration (55,000 MNIST images, batch 100, 128 units,
Adam starting at learning rate 0.001) in several ways, side by side, for the vanilla RNN
(``--cell rnn``, the default), the LSTM (``--cell lstm``), the GRU (``--cell gru``) or
all three one after the other (``--cell all``):

  (a) notebook 01's loop with its visible ``train_step`` (``tf.GradientTape`` inside
      ``tf.function``, ``rnn_helpers.training.make_train_step``) on the model of
      ``rnn_helpers.model.RNN``, whose recurrent layer is unrolled over the 28 rows
      (``unroll=True``, TensorFlow 1's ``static_rnn``): what notebook 01 runs. The reference
      that every other method's time is divided by;
  (a-loop) the same step on the same network with ``unroll=False`` (Keras's while loop
      over the rows): what unrolling buys;
  (f) notebook 01's loop with the hand-written fast step (``make_train_step(...,
      fast=True)``, ``rnn_helpers.fast``): what ``train(fast=True)`` and the sweeps'
      experiments use;
  (b) plain Keras: ``SimpleRNN`` / ``LSTM`` / ``GRU`` + ``Dense`` compiled with Adam,
      trained by ``model.fit``;
  (t) PyTorch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` + ``nn.Linear`` with its own
      training loop over the same batches, with PyTorch's default threads, when
      ``torch`` can be imported (PyTorch is not a dependency of the project; ``--no-torch``
      leaves it out);
  and with ``--all``:
  (d) the fast step run a hundred batches per compiled call inside a ``tf.while_loop``
      (no Python per batch: what a per-batch call costs);
  (a'), (f') (a) and (f) with TensorFlow's default threads instead of the thread layout of
      ``start_tensorflow()`` (what that layout does; on machines with more than two cores
      ``start_tensorflow()`` keeps the defaults, and then they time the same thing).

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
lets Keras shuffle instead. Each method runs in its own worker process (so each gets its
own thread settings and its own peak memory): (a), (a-loop), (f) and (d) as the notebooks
run, after ``start_tensorflow()``; (b) with TensorFlow's default threads, as a Keras user
gets it. All start from the same weights (PyTorch's copied over, gates reordered where its
layout differs, and checked to give the same logits). After one warm-up epoch each
(tracing and compilation), the timed epochs alternate, a a-loop f b t a a-loop f b t ...,
so that any background load hits all alike. Printed and written as JSON: the machine (CPU
model, cores), per-epoch wall time (median, min, max), examples per second, achieved
GFLOP/s against a float32 matmul peak measured on the spot (the FLOP of the matmuls only:
forward, and twice that for the backward pass), peak memory, final validation accuracy,
and the ratio of each method's median epoch time to the reference's, (a).

    python benchmarks/train_speed.py                    # the vanilla RNN: (a), (a-loop), (f), (b), (t)
    python benchmarks/train_speed.py --cell all         # the same for the RNN, the LSTM and the GRU
    python benchmarks/train_speed.py --cell lstm --all  # also (d), (a') and (f')
    python benchmarks/train_speed.py --epochs 6 --repeats 2 --units 64
    python benchmarks/train_speed.py --also-tuned-fit   # (b) again with the notebooks' threads

Needs the MNIST files (see docs/data.md).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMESTEPS = NUM_INPUT = 28
N_CLASSES = 10
BATCH = 100
#: Training examples per epoch: MNIST's 55,000, in whole batches.
EXAMPLES_PER_EPOCH = 55000 // BATCH * BATCH

OPTIMIZERS = {
    "notebook": "Adam from 0.001, cosine decay over the run, clipnorm 1.0 (the notebooks' default)",
    "original": "Adam 0.001, constant, no clipping (the original tutorial)",
}

#: Weight matrices per recurrent layer: one for the vanilla RNN, one per gate otherwise.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LAYER_NAMES = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
TORCH_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def flops_per_example(units: int, cell: str = "rnn") -> float:
    """Floating-point operations to train on one example: forward matmuls, and twice that
    for the backward pass (gradients with respect to activations and to weights)."""
    gates = GATES[cell]
    forward = TIMESTEPS * (2 * NUM_INPUT * gates * units + 2 * units * gates * units) + 2 * units * N_CLASSES
    return 3.0 * forward


# --- what every method trains on, and with ----------------------------------------------


@dataclass(frozen=True)
class Config:
    """What every method of one comparison trains: the cell, its size, the optimiser."""

    cell: str = "rnn"
    units: int = 128
    seed: int = 0
    optimizer: str = "notebook"  # a key of OPTIMIZERS
    fit_shuffle: bool = False  # (b): let Keras shuffle instead of getting (a)'s batch order
    epochs_in_all: int = 5  # epochs each method trains, the warm-up included (the cosine's length)


@dataclass
class Data:
    """Training and validation images ``(N, 28, 28)`` with one-hot labels ``(N, 10)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray

    @property
    def batches(self) -> int:
        """Optimiser steps per epoch."""
        return len(self.y_train) // BATCH


def load_mnist() -> Data:
    """The tutorial's MNIST training and validation sets, as sequences of 28 rows."""
    from rnn_helpers import load_data

    x_train, y_train, x_valid, y_valid = load_data("train")
    shape = (-1, TIMESTEPS, NUM_INPUT)
    return Data(x_train.reshape(shape), y_train, x_valid.reshape(shape), y_valid)


def benchmark_optimizer(config: Config, data: Data):
    """A fresh Keras optimiser as ``config.optimizer`` describes it."""
    from rnn_helpers.training import make_optimizer

    if config.optimizer == "original":
        return make_optimizer(0.001)
    steps = config.epochs_in_all * data.batches
    return make_optimizer(0.001, lr_schedule="cosine", total_steps=steps, clip_norm=1.0)


def starting_model(config: Config):
    """The network every method starts from: ``rnn_helpers.model.RNN`` (recurrent layer
    unrolled), the same weights in every worker (they all seed alike before building it)."""
    from rnn_helpers.model import RNN

    return RNN(TIMESTEPS, NUM_INPUT, config.units, N_CLASSES, seed=config.seed, cell=config.cell)


def while_loop_twin(model, config: Config):
    """The same network with the same weights, its recurrent layer run as Keras's while loop
    over the rows (``unroll=False``) instead of unrolled."""
    import keras

    from rnn_helpers.model import OutputLayer

    layer = getattr(keras.layers, LAYER_NAMES[config.cell])(config.units, unroll=False, name="rnn")
    inputs = keras.Input(shape=(TIMESTEPS, NUM_INPUT), name="X")
    twin = keras.Model(inputs, OutputLayer(N_CLASSES, name="output")(layer(inputs)))
    twin.set_weights(model.get_weights())
    return twin


def keras_accuracy(model, data: Data) -> Callable[[], float]:
    """``accuracy()``: the model's accuracy on the whole validation set."""
    from rnn_helpers.evaluation import evaluate

    return lambda: evaluate(model, data.x_valid, data.y_valid)[1]


# --- one builder per method: (epoch, accuracy) callables --------------------------------
#
# Each builder takes (config, data) and returns ``epoch()``, which trains one epoch, and
# ``accuracy()``, the validation accuracy at that point. Every epoch's batch order is drawn
# from ``np.random.default_rng(config.seed)`` the same way (``randomize`` on the unshuffled
# arrays), so all methods see the same batches in the same order.


def notebook_epoch(step, optimizer, data: Data, seed: int) -> Callable[[], None]:
    """``epoch()``: one epoch of notebook 01's loop (section 6) calling ``step`` once per batch,
    without its printed lines and without the validation at the end of the epoch."""
    from rnn_helpers import get_next_batch, randomize
    from rnn_helpers.training import History

    rng = np.random.default_rng(seed)
    history = History(optimizer, N_CLASSES, display_freq=100)

    def epoch():
        x_epoch, y_epoch = randomize(data.x_train, data.y_train, rng)
        for iteration in range(data.batches):
            start, end = iteration * BATCH, (iteration + 1) * BATCH
            x_batch, y_batch = get_next_batch(x_epoch, y_epoch, start, end)
            loss_batch, acc_batch, gradient_norm = step(x_batch, y_batch)
            history.add_batch(iteration, loss_batch, acc_batch, gradient_norm)

    return epoch


def _loop_with_step(config: Config, data: Data, *, unroll: bool = True, fast: bool = False):
    import keras

    from rnn_helpers.training import make_train_step

    model = starting_model(config)
    if model.get_layer("rnn").unroll is not True:
        raise RuntimeError("rnn_helpers.model.RNN no longer unrolls its recurrent layer: relabel (a)")
    if not unroll:
        model = while_loop_twin(model, config)
    optimizer = benchmark_optimizer(config, data)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    step = make_train_step(model, optimizer, loss_fn, fast=fast)  # fast=True refuses a model it can't train
    return notebook_epoch(step, optimizer, data, config.seed), keras_accuracy(model, data)


def build_plain(config: Config, data: Data):
    """(a): notebook 01's loop with its visible ``train_step``, on the unrolled layer."""
    return _loop_with_step(config, data)


def build_plain_loop(config: Config, data: Data):
    """(a-loop): the same step on the same network with ``unroll=False``."""
    return _loop_with_step(config, data, unroll=False)


def build_fast(config: Config, data: Data):
    """(f): notebook 01's loop with the hand-written fast step (``fast=True``)."""
    return _loop_with_step(config, data, fast=True)


def chunked_steps(model, optimizer, batch_size: int):
    """(d)'s compiled call: ``steps(x_all, y_all, permutation, first, count)`` takes the fast
    step's optimiser steps on ``count`` batches, from batch ``first`` of ``permutation``,
    in a ``tf.while_loop``, and returns their losses."""
    import tensorflow as tf

    from rnn_helpers.fast import forward_backward
    from rnn_helpers.fast.common import in_trainable_order
    from rnn_helpers.model import rnn_variables

    cell, variables = rnn_variables(model)
    trainable = list(model.trainable_variables)
    optimizer.build(trainable)
    state = [*trainable, *optimizer.variables]

    @tf.function(reduce_retracing=True)
    def steps(x_all, y_all, permutation, first, count):
        losses = tf.TensorArray(tf.float32, size=count)

        def body(i, losses):
            indices = tf.slice(permutation, [(first + i) * batch_size], [batch_size])
            weights = [tf.convert_to_tensor(v) for v in variables]
            x_batch, y_batch = tf.gather(x_all, indices), tf.gather(y_all, indices)
            loss, _, gradients = forward_backward(cell, weights, x_batch, y_batch)
            gradients = in_trainable_order(trainable, variables, gradients)
            with tf.control_dependencies([loss, *weights]):
                optimizer.apply_gradients(zip(gradients, trainable, strict=True))
            with tf.control_dependencies([tf.identity(v) for v in state]):
                return i + 1, losses.write(i, loss)

        _, losses = tf.while_loop(lambda i, _: i < count, body, (0, losses), parallel_iterations=1)
        return losses.stack()

    return steps


def build_chunked(config: Config, data: Data):
    """(d): the fast step, a hundred batches per compiled call."""
    import tensorflow as tf

    model = starting_model(config)
    steps = chunked_steps(model, benchmark_optimizer(config, data), BATCH)
    x_all, y_all = tf.constant(data.x_train), tf.constant(data.y_train)
    rng = np.random.default_rng(config.seed)

    def epoch():
        permutation = tf.constant(rng.permutation(len(data.y_train)), tf.int32)  # randomize's order
        for first in range(0, data.batches, 100):
            count = min(100, data.batches - first)
            steps(x_all, y_all, permutation, tf.constant(first), tf.constant(count)).numpy()

    return epoch, keras_accuracy(model, data)


def build_fit(config: Config, data: Data):
    """(b): a plain Keras ``Sequential`` (recurrent layer + ``Dense``) trained by ``model.fit``."""
    import keras

    start = starting_model(config).get_weights()  # first: building a layer draws from the seed
    layer = getattr(keras.layers, LAYER_NAMES[config.cell])
    plain = keras.Sequential(
        [keras.Input((TIMESTEPS, NUM_INPUT)), layer(config.units), keras.layers.Dense(N_CLASSES)]
    )
    plain.set_weights(start)  # the same starting point as (a)
    plain.compile(
        optimizer=benchmark_optimizer(config, data),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(config.seed)

    def epoch():
        if config.fit_shuffle:
            plain.fit(data.x_train, data.y_train, batch_size=BATCH, epochs=1, shuffle=True, verbose=0)
            return
        order = rng.permutation(len(data.y_train))  # randomize's order: the same batches as (a)
        x_epoch, y_epoch = data.x_train[order], data.y_train[order]
        plain.fit(x_epoch, y_epoch, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)

    return epoch, keras_accuracy(plain, data)


# --- (t): the same network in PyTorch ---------------------------------------------------


def torch_network(cell: str, units: int, keras_model):
    """PyTorch's layer and output layer holding ``keras_model``'s weights: ``(layer, head)``.

    Keras's gate blocks are LSTM i f c o (PyTorch's order) and GRU z r h (PyTorch: r z n).
    The vanilla RNN and the LSTM have one bias in Keras: PyTorch's second stays zero and
    is not trained."""
    import torch

    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        NUM_INPUT, units, batch_first=True
    )
    head = torch.nn.Linear(units, N_CLASSES)
    kernel, recurrent, bias, W, b = keras_model.get_weights()
    blocks = [1, 0, 2] if cell == "gru" else list(range(GATES[cell]))

    def reordered(matrix):
        parts = [matrix[..., g * units : (g + 1) * units] for g in blocks]
        return torch.from_numpy(np.ascontiguousarray(np.concatenate(parts, axis=-1)))

    with torch.no_grad():
        layer.weight_ih_l0.copy_(reordered(kernel).T)
        layer.weight_hh_l0.copy_(reordered(recurrent).T)
        if cell == "gru":
            layer.bias_ih_l0.copy_(reordered(bias[0]))
            layer.bias_hh_l0.copy_(reordered(bias[1]))
        else:
            layer.bias_ih_l0.copy_(torch.from_numpy(bias))
            layer.bias_hh_l0.zero_()
            layer.bias_hh_l0.requires_grad_(False)
        head.weight.copy_(torch.from_numpy(W.T.copy()))
        head.bias.copy_(torch.from_numpy(b))
    return layer, head


def check_same_logits(logits_of, keras_model, x: np.ndarray, cell: str) -> None:
    """Raise ``RuntimeError`` unless PyTorch's copy gives the Keras model's logits on ``x``."""
    import torch

    with torch.no_grad():
        found = logits_of(torch.from_numpy(x)).numpy()
    difference = np.abs(found - np.asarray(keras_model(x))).max()
    if difference > 1e-4:
        raise RuntimeError(f"PyTorch's {cell} does not reproduce the Keras model (logits: {difference})")


def torch_optimizer(config: Config, parameters: list, optimizer_steps: int):
    """PyTorch's counterpart of :func:`benchmark_optimizer`: ``(optimizer, scheduler, clip)``;
    ``scheduler`` is None for a constant rate; ``clip``: clip each gradient to norm 1."""
    import torch

    optimizer = torch.optim.Adam(parameters, lr=0.001, eps=1e-7)
    if config.optimizer != "notebook":
        return optimizer, None, False

    def cosine(step):
        return 0.5 * (1 + np.cos(np.pi * min(step, optimizer_steps) / optimizer_steps))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, cosine), True


def torch_training(config: Config, keras_model, data: Data, optimizer_steps: int):
    """(t) from ``keras_model``'s weights: ``(train_on, accuracy)``, ``train_on(x_epoch, y_epoch)``
    training on one epoch's shuffled arrays, batch by batch."""
    import torch

    torch.manual_seed(config.seed)
    layer, head = torch_network(config.cell, config.units, keras_model)

    def logits_of(x):
        output, _ = layer(x)
        return head(output[:, -1])

    check_same_logits(logits_of, keras_model, data.x_valid[:50], config.cell)
    parameters = [p for p in (*layer.parameters(), *head.parameters()) if p.requires_grad]
    optimizer, scheduler, clip = torch_optimizer(config, parameters, optimizer_steps)

    def train_on(x_epoch, y_epoch):
        for start in range(0, len(y_epoch) - BATCH + 1, BATCH):
            x_batch = torch.from_numpy(x_epoch[start : start + BATCH])
            labels = torch.from_numpy(y_epoch[start : start + BATCH].argmax(1))
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
            predicted = logits_of(torch.from_numpy(data.x_valid)).argmax(1).numpy()
        return float(np.mean(predicted == data.y_valid.argmax(1)))

    return train_on, accuracy


def build_torch(config: Config, data: Data):
    """(t): PyTorch's layer and output layer, from (a)'s starting weights, on (a)'s batches."""
    from rnn_helpers import randomize

    steps = config.epochs_in_all * data.batches
    train_on, accuracy = torch_training(config, starting_model(config), data, steps)
    rng = np.random.default_rng(config.seed)
    return (lambda: train_on(*randomize(data.x_train, data.y_train, rng))), accuracy


# --- the methods, and the worker process each runs in -----------------------------------


@dataclass(frozen=True)
class Method:
    """One way of training: its tag (``(a)``), what it is, how to build it, its threads."""

    tag: str
    description: str  # "{layer}" and "{torch}" stand for the cell's Keras and PyTorch names
    build: Callable[[Config, Data], tuple[Callable[[], None], Callable[[], float]]]
    notebook_threads: bool = True  # start_tensorflow() first, as the notebooks do

    def label(self, cell: str) -> str:
        return f"{self.tag} {self.description.format(layer=LAYER_NAMES[cell], torch=TORCH_NAMES[cell])}"


METHODS = {
    "plain": Method("(a)", "notebook 01: train_step, unroll=True", build_plain),
    "plain-loop": Method("(a-loop)", "train_step, unroll=False (a while loop)", build_plain_loop),
    "fast": Method("(f)", "notebook 01's loop, fast step", build_fast),
    "fit": Method("(b)", "Keras model.fit ({layer})", build_fit, notebook_threads=False),
    "torch": Method("(t)", "PyTorch nn.{torch}", build_torch, notebook_threads=False),
    "chunked": Method("(d)", "fast step, 100 batches per call", build_chunked),
    "plain-default-threads": Method("(a')", "(a), TensorFlow's default threads", build_plain, False),
    "fast-default-threads": Method("(f')", "(f), TensorFlow's default threads", build_fast, False),
    "fit-tuned": Method("(b')", "model.fit, the notebooks' threads", build_fit),
}
#: The method every other one's median epoch time is divided by: what notebook 01 runs.
REFERENCE = "plain"


def matmul_peak() -> float:
    """GFLOP/s of a 1024x1024 float32 matmul, the best of five rounds of ten."""
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


def _timed(epoch: Callable[[], None]) -> float:
    started = time.perf_counter()
    epoch()
    return time.perf_counter() - started


def _peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _worker(method: str, conn, config: Config) -> None:
    """One training method in its own process, driven by commands over ``conn``: ``epoch``
    (answers its seconds), ``evaluate``, ``memory``, ``peak``; anything else stops it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rnn_helpers.runs.startup import muted_stderr, start_tensorflow

    if METHODS[method].notebook_threads:
        start_tensorflow()  # the notebooks' set-up, including their thread layout
    else:
        with muted_stderr():  # TensorFlow's start-up lines, but its default threads
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
    from rnn_helpers.training import set_seed

    set_seed(config.seed)
    epoch, accuracy = METHODS[method].build(config, load_mnist())
    answers = {
        "epoch": lambda: _timed(epoch),
        "evaluate": accuracy,
        "memory": _peak_memory_mib,
        "peak": matmul_peak,
    }
    conn.send("ready")
    while (command := conn.recv()) in answers:
        conn.send(answers[command]())
    conn.send(None)


# --- the comparison ---------------------------------------------------------------------


@dataclass
class Measurements:
    """Per method: the timed epochs' seconds, the final validation accuracy of each repeat,
    the largest peak memory; and the matmul peak."""

    times: dict[str, list[float]]
    accuracy: dict[str, list[float]]
    memory: dict[str, float]
    peak: float | None = None
    load_at_end: tuple[float, ...] = field(default_factory=tuple)


def _ask(conn, command: str):
    conn.send(command)
    return conn.recv()


def start_workers(methods: list[str], config: Config) -> dict:
    """One worker process per method, started together: ``{method: (process, conn)}`` once
    each has loaded the data and built its model."""
    context = mp.get_context("spawn")
    workers = {}
    for method in methods:
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(method, child, config), daemon=True)
        process.start()
        child.close()  # so that a worker that dies closes the pipe
        workers[method] = (process, parent)
    for method, (_, conn) in workers.items():
        try:
            message = conn.recv() if conn.poll(600) else None
        except EOFError:
            message = None
        if message != "ready":
            stop_workers(workers)
            raise RuntimeError(f"worker {method} failed to start (see its error above)")
    return workers


def stop_workers(workers: dict) -> None:
    for process, conn in workers.values():
        if process.is_alive():
            with contextlib.suppress(EOFError, BrokenPipeError):  # it stopped already
                _ask(conn, "stop")
        process.join(timeout=30)


def measure(methods: dict[str, str], config: Config, epochs: int, repeats: int) -> Measurements:
    """Run the comparison: per repeat, fresh workers, a warm-up epoch each, then ``epochs``
    timed epochs taken in turn; ``methods`` maps each method to its label."""
    found = Measurements({m: [] for m in methods}, {m: [] for m in methods}, dict.fromkeys(methods, 0.0))
    for repeat in range(repeats):
        workers = start_workers(list(methods), config)
        where = f"[{config.cell}, repeat {repeat + 1}]"
        if found.peak is None:
            found.peak = _ask(workers["fit"][1], "peak")
        for method, (_, conn) in workers.items():
            print(f"{where} {methods[method]}: warm-up epoch {_ask(conn, 'epoch'):.2f} s", flush=True)
        for epoch in range(epochs):
            for method, (_, conn) in workers.items():
                found.times[method].append(_ask(conn, "epoch"))
                print(
                    f"{where} epoch {epoch + 1}: {methods[method]} {found.times[method][-1]:.2f} s",
                    flush=True,
                )
        for method, (_, conn) in workers.items():
            found.accuracy[method].append(_ask(conn, "evaluate"))
            found.memory[method] = max(found.memory[method], _ask(conn, "memory"))
        stop_workers(workers)
    found.load_at_end = os.getloadavg()
    return found


def torch_version() -> str | None:
    """PyTorch's version when it can be imported, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def machine(found: Measurements, with_torch: bool) -> dict:
    """The machine the comparison ran on, for the report and the JSON."""
    from rnn_helpers.runs import records
    from rnn_helpers.runs.startup import usable_cores

    return {
        "processor": records.cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),
        "platform": platform.platform(terse=True),
        "load_average_at_end": found.load_at_end,
        "tensorflow": importlib.metadata.version("tensorflow"),
        "torch": torch_version() if with_torch else None,
        "matmul_peak_gflops": found.peak,
    }


def method_entry(
    label: str, times: list[float], accuracy: list[float], memory: float, flops_epoch: float, peak: float
) -> dict:
    """One method's line of the results."""
    median = statistics.median(times)
    return {
        "label": label,
        "epoch_seconds": times,
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "examples_per_s": EXAMPLES_PER_EPOCH / median,
        "gflops": flops_epoch / median / 1e9,
        "percent_of_peak": 100 * flops_epoch / median / 1e9 / peak,
        "peak_memory_mib": memory,
        "final_val_accuracy": accuracy,
    }


def compare_to_reference(entries: dict[str, dict]) -> None:
    """Add each method's ratio of median epoch times to the reference's, and the difference
    of their final validation accuracies (percentage points)."""
    reference = entries[REFERENCE]
    for method, entry in entries.items():
        if method == REFERENCE:
            continue
        entry["ratio_to_reference"] = entry["median_s"] / reference["median_s"]
        entry["val_accuracy_difference_pp"] = [
            100 * (b - a)
            for a, b in zip(reference["final_val_accuracy"], entry["final_val_accuracy"], strict=True)
        ]


def chosen_methods(cell: str, everything: bool, with_torch: bool, also_tuned_fit: bool) -> dict[str, str]:
    """The methods to compare, in the order they take turns, with their labels."""
    chosen = ["plain", "plain-loop", "fast", "fit"]
    if with_torch and torch_version() is not None:
        chosen.append("torch")
    if everything:
        chosen += ["chunked", "plain-default-threads", "fast-default-threads"]
    if also_tuned_fit:
        chosen.append("fit-tuned")
    return {method: METHODS[method].label(cell) for method in chosen}


def run(config: Config, epochs: int, repeats: int, methods: dict[str, str]) -> dict:
    """Compare ``methods`` (from :func:`chosen_methods`) on ``config``; the results as a dict."""
    found = measure(methods, config, epochs, repeats)
    flops_epoch = flops_per_example(config.units, config.cell) * EXAMPLES_PER_EPOCH
    entries = {
        method: method_entry(
            label, found.times[method], found.accuracy[method], found.memory[method], flops_epoch, found.peak
        )
        for method, label in methods.items()
    }
    compare_to_reference(entries)
    return {
        "config": {
            "cell": config.cell,
            "examples_per_epoch": EXAMPLES_PER_EPOCH,
            "batch_size": BATCH,
            "units": config.units,
            "optimizer": OPTIMIZERS[config.optimizer],
            "timed_epochs_per_repeat": epochs,
            "repeats": repeats,
            "epochs_trained_per_repeat": epochs + 1,
            "seed": config.seed,
            "batch_order": "keras shuffles (fit shuffle=True)"
            if config.fit_shuffle
            else "identical in all methods",
            "gflop_per_epoch": flops_epoch / 1e9,
            "reference": REFERENCE,
        },
        "machine": machine(found, "torch" in methods),
        "methods": entries,
    }


# --- the report -------------------------------------------------------------------------


def _label_width(results: dict) -> int:
    return max(len(entry["label"]) for entry in results["methods"].values())


def _header(results: dict) -> list[str]:
    config, machine = results["config"], results["machine"]
    torch = f", PyTorch {machine['torch']}" if machine.get("torch") else ""
    return [
        f"Training speed, {LAYER_NAMES[config['cell']]}: {config['examples_per_epoch']} examples per epoch, "
        f"batch {config['batch_size']}, {config['units']} units;",
        f"{config['optimizer']};",
        f"{config['timed_epochs_per_repeat']} timed epochs x {config['repeats']} repeat(s) after a warm-up "
        f"epoch; batch order {config['batch_order']}",
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs ({machine['usable_cores']} usable), "
        f"{machine['platform']}, TensorFlow {machine['tensorflow']}{torch}",
        f"Load average at the end {machine['load_average_at_end'][0]:.1f}; float32 matmul peak "
        f"{machine['matmul_peak_gflops']:.0f} GFLOP/s; {config['gflop_per_epoch']:.1f} GFLOP per epoch",
    ]


def _table(results: dict) -> list[str]:
    width = _label_width(results)
    lines = [
        f"{'method':<{width}} {'median s':>8} {'min':>6} {'max':>6} {'ex/s':>7} {'GFLOP/s':>8} "
        f"{'% peak':>7} {'peak MiB':>8} {'val acc':>8}"
    ]
    for entry in results["methods"].values():
        lines.append(
            f"{entry['label']:<{width}} {entry['median_s']:8.2f} {entry['min_s']:6.2f} "
            f"{entry['max_s']:6.2f} {entry['examples_per_s']:7.0f} {entry['gflops']:8.1f} "
            f"{entry['percent_of_peak']:6.1f}% {entry['peak_memory_mib']:8.0f} "
            f"{statistics.mean(entry['final_val_accuracy']):8.2%}"
        )
    return lines


def _ratios(results: dict) -> list[str]:
    methods, width = results["methods"], _label_width(results)
    reference = methods[results["config"]["reference"]]
    lines = [f"Median epoch time relative to the reference, {reference['label']}:"]
    for entry in methods.values():
        if "ratio_to_reference" in entry:
            difference = ", ".join(f"{d:+.2f}" for d in entry["val_accuracy_difference_pp"])
            lines.append(
                f"  {entry['label']:<{width}} {entry['ratio_to_reference']:5.2f}x "
                f"(validation accuracy difference, percentage points: {difference})"
            )
    return lines


def report(results: dict) -> str:
    """The results as text: what was trained and where, a table, the ratios."""
    return "\n".join([*_header(results), "", *_table(results), "", *_ratios(results)])


# --- the command line -------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
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
        "--also-tuned-fit", action="store_true", help="also (b') model.fit with the notebooks' threads"
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="leave PyTorch out even when it can be imported"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also (d) the fast step 100 batches per call, and (a), (f) with TensorFlow's default threads",
    )
    parser.add_argument(
        "--optimizer",
        choices=sorted(OPTIMIZERS),
        default="notebook",
        help="notebook (default): Adam from 0.001 with the notebooks' cosine decay and "
        "clipping; original: constant Adam 0.001 without clipping",
    )
    parser.add_argument(
        "--fit-shuffle",
        action="store_true",
        help="let model.fit shuffle by itself (default: it gets the same batch order as (a), "
        "so that the final accuracies differ only by float rounding)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "train_speed.json",
        help="where to write JSON (one entry per cell)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1 or args.units < 1:
        parser.error("--epochs, --repeats and --units must be at least 1")
    if not args.no_torch and torch_version() is None:
        print("PyTorch is not installed: (t) is left out.", flush=True)
    results = {}
    for cell in list(LAYER_NAMES) if args.cell == "all" else [args.cell]:
        config = Config(cell, args.units, args.seed, args.optimizer, args.fit_shuffle, args.epochs + 1)
        methods = chosen_methods(cell, args.all, not args.no_torch, args.also_tuned_fit)
        results[cell] = run(config, args.epochs, args.repeats, methods)
        print(f"\n{report(results[cell])}\n", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
