"""The original TensorFlow 1 tutorial's graph code, running on TensorFlow 2.21 through ``tf.compat.v1``.

Run it in a process of its own (``BasicRNNCell`` needs the legacy Keras, which a process
must choose before TensorFlow starts; ``python -m rnn_helpers.tf1`` does that)::

    python -m rnn_helpers.tf1 train                        # the original: 10 epochs, 55,000 images
    python -m rnn_helpers.tf1 train --epochs 1 --n-train 2000 --out steps.npz --save ckpt/model
    python -m rnn_helpers.tf1 evaluate ckpt/model --out logits.npz

From Python (a notebook, a test), :func:`rnn_helpers.tf1.migration.run_tf1` starts that
process and reads its results back; nothing else in the project imports this module.
Importing it changes nothing: :func:`prepare` readies the process (graph mode, quiet logs)
and checks that it can run.

It needs the project's ``tf1`` extra (the ``tf-keras`` package, version 2.21 like
TensorFlow): ``pip install -e ".[tf1]"``. ``tf.compat.v1`` still offers placeholders,
sessions, ``get_variable``, ``static_rnn``, ``AdamOptimizer`` and ``Saver``, but its
``BasicRNNCell`` is a Keras 2 layer: it refuses to work with Keras 3 and works again with
``tf-keras`` once ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow starts.

Between the ``# --- original ---`` markers below the code is the original tutorial's,
line for line, except for these differences (also listed in docs/migrating_from_tf1.md):

1. ``import tensorflow.compat.v1 as tf`` and ``tf.disable_v2_behavior()`` (in :func:`prepare`)
   instead of ``import tensorflow as tf``: the TensorFlow 1 API and graph mode on TensorFlow 2.
2. ``tensorflow.contrib`` is gone: ``rnn`` is a two-name stand-in for ``tensorflow.contrib.rnn``
   holding ``tf.nn.rnn_cell.BasicRNNCell`` and ``tf.nn.static_rnn``, so ``RNN()`` reads as before.
3. ``load_data``, ``randomize`` and ``get_next_batch`` are the project's (``rnn_helpers``):
   ``tensorflow.examples.tutorials.mnist`` was removed, and it gives the same arrays
   (the same 55,000 / 5,000 / 10,000 split, flattened, one-hot). ``randomize`` takes a seeded
   NumPy generator, so that a TensorFlow 2 run can draw exactly the same batches.
4. The hyperparameters and the graph are built in functions (:func:`build_graph`,
   :func:`train`), so that they can be set from the command line; the original's values are
   the defaults. A graph-level seed (``tf.set_random_seed``) makes the starting weights
   reproducible; the original had none.
5. The optimiser step also fetches the batch's loss and accuracy (``sess.run([optimizer,
   loss, accuracy], ...)``) and records them: their values *before* the update, which is what the
   TensorFlow 2 train step returns; the original ran ``[loss, accuracy]`` a second time after
   the step, every ``display_freq`` iterations, so its printed loss was the one after the update.
6. The test also runs on all 10,000 test images (the original: the first 1,000, still
   printed as before); plotting is left to the notebooks; ``InteractiveSession`` is closed at
   the end, as the original's text says. TensorFlow's deprecation warnings and start-up
   log lines are silenced.
7. The tutorial's page lost a few fragments of code in rendering (the ``sess.run(...)`` calls
   of the training and test cells, the arguments of the two ``tf.get_variable`` calls); they
   are completed in the one way the surrounding code allows.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import warnings

import numpy as np
import tensorflow.compat.v1 as tf

from .. import get_next_batch, load_data, randomize
from . import INSTALL_HINT, TF1Unavailable, tf1_available


def prepare() -> None:
    """Ready this process for the TensorFlow 1 code: check that it runs with legacy Keras
    (``tf-keras``, chosen before TensorFlow started), switch to graph mode, quieten the logs.

    Raises:
        TF1Unavailable: ``tf-keras`` is missing or does not match TensorFlow, or the process
            started TensorFlow with Keras 3; says what to do.
    """
    if not tf1_available():
        raise TF1Unavailable(
            "The TensorFlow 1 code needs the tf-keras package (tf.compat.v1's BasicRNNCell does not "
            f"work with Keras 3), and it is not installed. Install the project's tf1 extra: {INSTALL_HINT}"
        )
    if os.environ.get("TF_USE_LEGACY_KERAS", "").lower() not in ("1", "true", "yes"):
        raise TF1Unavailable(
            "rnn_helpers.tf1.original needs TensorFlow to start with TF_USE_LEGACY_KERAS=1, but this "
            "process started it with Keras 3. Run it in a process of its own: "
            "`python -m rnn_helpers.tf1 ...`, or rnn_helpers.tf1.migration.run_tf1(...) from Python."
        )
    import tf_keras

    if tf_keras.__version__.split(".")[:2] != tf.__version__.split(".")[:2]:
        raise TF1Unavailable(
            f"tf-keras {tf_keras.__version__} does not match TensorFlow {tf.__version__}: their versions "
            f"must share major and minor numbers. Reinstall the tf1 extra: {INSTALL_HINT}"
        )
    tf.logging.set_verbosity(tf.logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*is deprecated", category=UserWarning)
    tf.disable_v2_behavior()


class _ContribRNN:
    """Stand-in for ``tensorflow.contrib.rnn`` (removed): the two names the original uses from
    it, looked up when used (``tf.nn.rnn_cell`` needs the legacy Keras of :func:`prepare`)."""

    @property
    def BasicRNNCell(self):  # noqa: N802 (TensorFlow 1's name)
        return tf.nn.rnn_cell.BasicRNNCell

    @property
    def static_rnn(self):
        return tf.nn.static_rnn


rnn = _ContribRNN()

#: The variables of the original graph, by the names ``Saver`` stores them under.
VARIABLE_NAMES = {
    "kernel": "rnn/basic_rnn_cell/kernel",
    "bias": "rnn/basic_rnn_cell/bias",
    "W": "W",
    "b": "b",
}

# --- original: data dimension ---
num_input = 28  # MNIST data input (image shape: 28x28)
timesteps = 28  # Timesteps
n_classes = 10  # Number of classes, one class per digit
# --- end of original ---


# --- original: network helper functions ---
# weight and bais wrappers
def weight_variable(shape):
    """
    Create a weight variable with appropriate initialization
    :param name: weight name
    :param shape: weight shape
    :return: initialized weight variable
    """
    initer = tf.truncated_normal_initializer(stddev=0.01)
    return tf.get_variable("W", dtype=tf.float32, shape=shape, initializer=initer)


def bias_variable(shape):
    """
    Create a bias variable with appropriate initialization
    :param name: bias variable name
    :param shape: bias variable shape
    :return: initialized bias variable
    """
    initial = tf.constant(0.0, shape=shape, dtype=tf.float32)
    return tf.get_variable("b", dtype=tf.float32, initializer=initial)


def RNN(x, weights, biases, timesteps, num_hidden):
    # Prepare data shape to match `rnn` function requirements
    # Current data input shape: (batch_size, timesteps, n_input)
    # Required shape: 'timesteps' tensors list of shape (batch_size, n_input)

    # Unstack to get a list of 'timesteps' tensors of shape (batch_size, n_input)
    x = tf.unstack(x, timesteps, 1)

    # Define a rnn cell with tensorflow
    rnn_cell = rnn.BasicRNNCell(num_hidden)

    # Get lstm cell output
    # If no initial_state is provided, dtype must be specified
    # If no initial cell state is provided, they will be initialized to zero
    states_series, current_state = rnn.static_rnn(rnn_cell, x, dtype=tf.float32)

    # Linear activation, using rnn inner loop last output
    return tf.matmul(current_state, weights) + biases


# --- end of original ---


def build_graph(learning_rate: float = 0.001, num_hidden_units: int = 128) -> types.SimpleNamespace:
    """Sections 5.1 to 5.4 of the original, in the current default graph.

    Returns a namespace of the graph's tensors and ops: ``x``, ``y``, ``output_logits``,
    ``y_pred``, ``cls_prediction``, ``loss``, ``optimizer``, ``accuracy``, ``init``.
    """
    # --- original: create the network graph ---
    # Placeholders for inputs (x) and outputs(y)
    x = tf.placeholder(tf.float32, shape=[None, timesteps, num_input], name="X")
    y = tf.placeholder(tf.float32, shape=[None, n_classes], name="Y")

    # create weight matrix initialized randomely from N~(0, 0.01)
    W = weight_variable(shape=[num_hidden_units, n_classes])

    # create bias vector initialized as zero
    b = bias_variable(shape=[n_classes])

    output_logits = RNN(x, W, b, timesteps, num_hidden_units)
    y_pred = tf.nn.softmax(output_logits)

    # Model predictions
    cls_prediction = tf.argmax(output_logits, axis=1, name="predictions")

    # Define the loss function, optimizer, and accuracy
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=output_logits), name="loss"
    )
    optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate, name="Adam-op").minimize(loss)
    correct_prediction = tf.equal(tf.argmax(output_logits, 1), tf.argmax(y, 1), name="correct_pred")
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32), name="accuracy")

    # Creating the op for initializing all variables
    init = tf.global_variables_initializer()
    # --- end of original ---
    return types.SimpleNamespace(
        x=x,
        y=y,
        output_logits=output_logits,
        y_pred=y_pred,
        cls_prediction=cls_prediction,
        loss=loss,
        optimizer=optimizer,
        accuracy=accuracy,
        init=init,
    )


def model_variables() -> dict[str, tf.Variable]:
    """The graph's four trainable variables, keyed ``kernel``, ``bias``, ``W``, ``b``."""
    by_name = {v.op.name: v for v in tf.global_variables()}
    return {key: by_name[name] for key, name in VARIABLE_NAMES.items()}


def get_weights(sess: tf.Session) -> dict[str, np.ndarray]:
    """The current weights, split as the Keras port keeps them: ``W_x``, ``W_h``, ``b_h``, ``W``, ``b``.

    ``BasicRNNCell`` keeps one kernel ``[W_x; W_h]`` of shape ``(num_input + H, H)``: it
    multiplies ``concat([x_t, h_{t-1}])`` by it.
    """
    values = sess.run(model_variables())
    kernel = values["kernel"]
    return {
        "W_x": kernel[:num_input],
        "W_h": kernel[num_input:],
        "b_h": values["bias"],
        "W": values["W"],
        "b": values["b"],
    }


def set_weights(sess: tf.Session, weights: dict[str, np.ndarray]) -> None:
    """Load ``W_x``, ``W_h``, ``b_h``, ``W``, ``b`` into the graph (``kernel = [W_x; W_h]``).

    Raises:
        ValueError: a weight is missing or has the wrong shape; names it.
    """
    missing = [k for k in ("W_x", "W_h", "b_h", "W", "b") if k not in weights]
    if missing:
        raise ValueError(f"Starting weights lack {', '.join(missing)}: give W_x, W_h, b_h, W and b.")
    values = {
        "kernel": np.concatenate([weights["W_x"], weights["W_h"]], axis=0),
        "bias": weights["b_h"],
        "W": weights["W"],
        "b": weights["b"],
    }
    for key, variable in model_variables().items():
        expected = tuple(variable.shape.as_list())
        if values[key].shape != expected:
            raise ValueError(
                f"Starting weight {key} has shape {values[key].shape}, but the graph needs {expected} "
                "(is --num-hidden-units the same as the weights'?)."
            )
        variable.load(values[key].astype(np.float32), sess)


def train(  # over 60 lines: the original's loop, kept whole between its markers
    sess: tf.Session,
    graph: types.SimpleNamespace,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    epochs: int = 10,
    batch_size: int = 100,
    display_freq: int = 100,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    """Section 6 of the original: the training loop, printing as the original did.

    Returns the per-step ``step_loss`` and ``step_accuracy`` (each batch's, before its
    update) and the per-epoch ``valid_loss`` and ``valid_accuracy`` (first 1,000 validation
    images, as in the original).
    """
    x, y, optimizer, loss, accuracy = graph.x, graph.y, graph.optimizer, graph.loss, graph.accuracy
    rng = np.random.default_rng(seed)
    step_loss, step_accuracy, valid_loss, valid_accuracy = [], [], [], []
    # --- original: train ---
    global_step = 0
    # Number of training iterations in each epoch
    num_tr_iter = int(len(y_train) / batch_size)
    for epoch in range(epochs):
        print("Training epoch: {}".format(epoch + 1))
        x_train, y_train = randomize(x_train, y_train, rng)
        for iteration in range(num_tr_iter):
            global_step += 1
            start = iteration * batch_size
            end = (iteration + 1) * batch_size
            x_batch, y_batch = get_next_batch(x_train, y_train, start, end)
            x_batch = x_batch.reshape((batch_size, timesteps, num_input))
            # Run optimization op (backprop)
            feed_dict_batch = {x: x_batch, y: y_batch}
            _, loss_batch, acc_batch = sess.run([optimizer, loss, accuracy], feed_dict=feed_dict_batch)
            step_loss.append(loss_batch)
            step_accuracy.append(acc_batch)

            if iteration % display_freq == 0:
                # Calculate and display the batch loss and accuracy
                print(
                    "iter {0:3d}:\t Loss={1:.2f},\tTraining Accuracy={2:.01%}".format(
                        iteration, loss_batch, acc_batch
                    )
                )

        # Run validation after every epoch

        feed_dict_valid = {x: x_valid[:1000].reshape((-1, timesteps, num_input)), y: y_valid[:1000]}
        loss_valid, acc_valid = sess.run([loss, accuracy], feed_dict=feed_dict_valid)
        print(
            "Epoch: {0}, validation loss: {1:.2f}, validation accuracy: {2:.01%}".format(
                epoch + 1, loss_valid, acc_valid
            )
        )
        # --- end of original ---
        valid_loss.append(loss_valid)
        valid_accuracy.append(acc_valid)
    return {
        "step_loss": np.array(step_loss, np.float32),
        "step_accuracy": np.array(step_accuracy, np.float32),
        "valid_loss": np.array(valid_loss, np.float32),
        "valid_accuracy": np.array(valid_accuracy, np.float32),
    }


def test(
    sess: tf.Session, graph: types.SimpleNamespace, x_test: np.ndarray, y_test: np.ndarray
) -> dict[str, np.ndarray]:
    """Section 7.2 of the original (first 1,000 test images, printed as before), then all of them.

    Returns ``test_logits`` for every test image and ``test_loss`` / ``test_accuracy`` on all of them.
    """
    x, y, loss, accuracy = graph.x, graph.y, graph.loss, graph.accuracy
    # --- original: test (plots left out) ---
    # Test the network (only on 1000 samples) after training
    # Accuracy
    feed_dict_test = {x: x_test[:1000].reshape((-1, timesteps, num_input)), y: y_test[:1000]}
    loss_test, acc_test = sess.run([loss, accuracy], feed_dict=feed_dict_test)
    print("Test loss: {0:.2f}, test accuracy: {1:.01%}".format(loss_test, acc_test))
    # --- end of original ---
    print(f"  (the original's test: the first {len(y_test[:1000])} test images)")
    feed_dict_all = {x: x_test.reshape((-1, timesteps, num_input)), y: y_test}
    logits, loss_all, acc_all = sess.run([graph.output_logits, loss, accuracy], feed_dict=feed_dict_all)
    print(f"All {len(y_test)} test images: test loss: {loss_all:.4f}, test accuracy: {acc_all:.2%}")
    return {"test_logits": logits, "test_loss": np.float32(loss_all), "test_accuracy": np.float32(acc_all)}


def _write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` through a temporary file, so no half-written file is left."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp.npz")
    try:
        np.savez(temporary, **arrays)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _read_weights(path: str) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--init {path}: no such file (an .npz with W_x, W_h, b_h, W and b).")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def run_training(args: argparse.Namespace) -> None:
    """The ``train`` command: the original tutorial from start to end, with the chosen options."""
    tf.set_random_seed(args.seed)
    # --- original: load the data ---
    x_train, y_train, x_valid, y_valid = load_data(mode="train", dataset=args.dataset, data_dir=args.data_dir)
    print("Size of:")
    print("- Training-set:\t\t{}".format(len(y_train)))
    print("- Validation-set:\t{}".format(len(y_valid)))
    # --- end of original ---
    if args.n_train is not None:
        x_train, y_train = x_train[: args.n_train], y_train[: args.n_train]
        print(f"Training on the first {len(y_train)} training images.")
    if args.batch_size > len(y_train):
        raise SystemExit(f"error: --batch-size {args.batch_size} is larger than the {len(y_train)} images.")
    graph = build_graph(learning_rate=args.learning_rate, num_hidden_units=args.num_hidden_units)
    # --- original: initialize all variables and start the session ---
    sess = tf.InteractiveSession()
    sess.run(graph.init)
    # --- end of original ---
    if args.init:
        set_weights(sess, _read_weights(args.init))
    results = {f"initial_{key}": value for key, value in get_weights(sess).items()}
    results.update(
        train(
            sess,
            graph,
            x_train,
            y_train,
            x_valid,
            y_valid,
            epochs=args.epochs,
            batch_size=args.batch_size,
            display_freq=args.display_freq,
            seed=args.seed,
        )
    )
    results.update({f"final_{key}": value for key, value in get_weights(sess).items()})
    x_test, y_test = load_data(mode="test", dataset=args.dataset, data_dir=args.data_dir)
    results.update(test(sess, graph, x_test, y_test))
    if args.save:
        saved = tf.train.Saver().save(sess, args.save)
        print(f"Saved the checkpoint {os.path.basename(saved)} (tf.train.Saver).")
    sess.close()
    if args.out:
        _write_npz(args.out, results)


def run_evaluation(args: argparse.Namespace) -> None:
    """The ``evaluate`` command: restore a checkpoint into the original graph and test it."""
    checkpoint = args.checkpoint
    if os.path.isdir(checkpoint):
        checkpoint = tf.train.latest_checkpoint(checkpoint) or checkpoint
    if not tf.train.checkpoint_exists(checkpoint):
        raise SystemExit(
            f"error: no TensorFlow checkpoint at {args.checkpoint} (give its prefix, e.g. ckpt/model)."
        )
    stored = dict(tf.train.list_variables(checkpoint))
    missing = [name for name in VARIABLE_NAMES.values() if name not in stored]
    if missing:
        raise SystemExit(
            f"error: the checkpoint {args.checkpoint} lacks {', '.join(missing)}: it does not hold the "
            "original tutorial's graph."
        )
    graph = build_graph(num_hidden_units=stored[VARIABLE_NAMES["W"]][0])
    sess = tf.InteractiveSession()
    sess.run(graph.init)
    restored = [v for v in tf.global_variables() if v.op.name in stored]
    tf.train.Saver(var_list=restored).restore(sess, checkpoint)
    fresh = len(tf.global_variables()) - len(restored)
    print(
        f"Restored {len(restored)} variables"
        + (f" ({fresh} optimiser variables start fresh)." if fresh else ".")
    )
    x_test, y_test = load_data(mode="test", dataset=args.dataset, data_dir=args.data_dir)
    results = test(sess, graph, x_test, y_test)
    sess.close()
    if args.out:
        _write_npz(args.out, results)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rnn_helpers.tf1",
        description="The original TensorFlow 1 tutorial's code (placeholders, Session, BasicRNNCell, "
        "static_rnn, AdamOptimizer) on TensorFlow 2 through tf.compat.v1 and tf-keras.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("train", "train the original graph (the original's hyperparameters by default), then test it"),
        ("evaluate", "restore a tf.train.Saver checkpoint of the original graph and test it"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--dataset", default="mnist", help="mnist (default) or fashion_mnist")
        sub.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
        sub.add_argument("--out", default=None, help="write the results to this .npz file")
        if name == "evaluate":
            sub.add_argument("checkpoint", help="checkpoint prefix (e.g. ckpt/model) or its folder")
            continue
        sub.add_argument("--epochs", type=_positive, default=10)
        sub.add_argument("--batch-size", type=_positive, default=100)
        sub.add_argument("--learning-rate", type=float, default=0.001)
        sub.add_argument("--display-freq", type=_positive, default=100)
        sub.add_argument("--num-hidden-units", type=_positive, default=128)
        sub.add_argument("--n-train", type=_positive, default=None, help="train on the first N images only")
        sub.add_argument("--seed", type=int, default=42, help="graph-level seed and the batch order's seed")
        sub.add_argument("--init", default=None, help="starting weights: .npz with W_x, W_h, b_h, W, b")
        sub.add_argument("--save", default=None, help="save a tf.train.Saver checkpoint under this prefix")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: it must be a whole number >= 1")
    return value


def main(argv: list[str] | None = None) -> None:
    """``python -m rnn_helpers.tf1``: run a command (see :func:`parse_args`), after :func:`prepare`."""
    args = parse_args(argv)
    try:
        prepare()
    except TF1Unavailable as error:
        sys.exit(f"error: {error}")
    try:
        if args.command == "train":
            run_training(args)
        else:
            run_evaluation(args)
    except (ValueError, FileNotFoundError) as error:  # bad weights, missing files, data not found
        sys.exit(f"error: {error}")
