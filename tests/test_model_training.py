"""Model building, the training loop, evaluation: small models on synthetic data."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_helpers.evaluation import confusion_matrix, evaluate, predict_logits, softmax_cross_entropy
from rnn_helpers.model import RNN, OutputLayer, bias_variable, weight_variable
from rnn_helpers.training import (
    STEPS_BEFORE_JUDGING,
    History,
    TrainingDiverged,
    TrainingNotLearning,
    format_epoch,
    format_iteration,
    set_seed,
    train,
)


def bright_row_task(n: int, seed: int = 0, timesteps: int = 10, num_input: int = 6, n_classes: int = 4):
    """Sequences whose class is the (timestep // ...) band holding one bright row: learnable fast."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    x = rng.uniform(0, 0.1, size=(n, timesteps, num_input)).astype(np.float32)
    band = timesteps // n_classes
    rows = labels * band + rng.integers(0, band, n)
    x[np.arange(n), rows, :] = 1.0
    return x, np.eye(n_classes, dtype=np.float32)[labels]


def test_weight_and_bias_variables():
    set_seed(0)
    w = weight_variable((200, 50), seed=3)
    b = bias_variable((50,))
    values = np.asarray(w)
    assert w.shape == (200, 50) and w.trainable
    assert abs(values.std() - 0.0088) < 0.001  # stddev 0.01, truncated at two sigmas
    assert np.abs(values).max() <= 0.02 + 1e-7
    assert np.all(np.asarray(b) == 0) and b.shape == (50,)
    assert np.array_equal(values, np.asarray(weight_variable((200, 50), seed=3)))


def test_rnn_shapes_and_parameter_count():
    model = RNN(timesteps=28, num_input=28, num_hidden_units=128, n_classes=10, seed=0)
    assert model.output_shape == (None, 10)
    # SimpleRNN: 28*128 + 128*128 + 128; output layer: 128*10 + 10 (as the original graph)
    assert model.count_params() == 28 * 128 + 128 * 128 + 128 + 128 * 10 + 10
    logits = model(np.zeros((3, 28, 28), np.float32))
    assert logits.shape == (3, 10)
    # zero input -> zero hidden state -> logits equal the (zero) bias
    assert np.allclose(np.asarray(logits), 0.0)


def test_rnn_computes_the_vanilla_recurrence():
    model = RNN(timesteps=5, num_input=3, num_hidden_units=4, n_classes=2, seed=0)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    rnn, out = model.get_layer("rnn"), model.get_layer("output")
    w_x, w_h, b_h = (np.asarray(v) for v in rnn.cell.weights)
    h = np.zeros((2, 4), np.float32)
    for t in range(5):
        h = np.tanh(x[:, t] @ w_x + h @ w_h + b_h)
    expected = h @ np.asarray(out.W) + np.asarray(out.b)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-6)


def test_output_layer_initialisation():
    model = RNN(num_hidden_units=64, seed=5)
    out = model.get_layer("output")
    assert isinstance(out, OutputLayer)
    assert np.all(np.asarray(out.b) == 0)
    assert np.abs(np.asarray(out.W)).max() <= 0.02 + 1e-7


def test_save_and_reload_predicts_the_same(tmp_path):
    model = RNN(timesteps=6, num_input=5, num_hidden_units=7, n_classes=3, seed=1)
    x = np.random.default_rng(1).random((4, 6, 5), dtype=np.float32)
    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(again(x)))


def test_training_learns_and_logs():
    set_seed(0)
    x, y = bright_row_task(600)
    xv, yv = bright_row_task(200, seed=1)
    model = RNN(timesteps=10, num_input=6, num_hidden_units=16, n_classes=4, seed=0)
    before, _ = evaluate(model, xv, yv)
    lines = []
    history = train(
        model,
        x,
        y,
        xv,
        yv,
        epochs=3,
        batch_size=50,
        display_freq=5,
        learning_rate=0.01,
        seed=0,
        log=lines.append,
    )
    assert isinstance(history, History)
    assert history.epoch == [1, 2, 3]
    assert history.val_loss[-1] < before
    assert history.val_accuracy[-1] > 0.6  # chance is 0.25
    # the original's log shape: 12 iterations per epoch, logged at 0, 5, 10
    assert lines[0] == "Training epoch: 1"
    assert lines[1].startswith("iter   0:\t Loss=") and "Training Accuracy=" in lines[1]
    assert sum(line.startswith("iter") for line in lines) == 9
    assert lines[-1].startswith("Epoch: 3, validation loss: ")
    assert len(history.logged) == 9 and history.logged[-1]["iteration"] == 10
    assert all(len(v) == 3 for k, v in history.as_dict().items() if k != "logged")


def test_same_seed_same_results():
    x, y = bright_row_task(300)
    runs = []
    for _ in range(2):
        set_seed(7)
        model = RNN(timesteps=10, num_input=6, num_hidden_units=8, n_classes=4, seed=7)
        runs.append(train(model, x, y, x[:50], y[:50], epochs=2, batch_size=30, seed=7, log=None))
    assert runs[0].val_loss == runs[1].val_loss
    assert runs[0].train_loss == runs[1].train_loss


def test_divergence_is_reported_with_the_iteration():
    x, y = bright_row_task(200)
    x[37, 2, 3] = np.nan  # one poisoned example: its batch produces a NaN loss
    # the loop shuffles with np.random.default_rng(seed): find where example 37 lands
    iteration = int(np.argmax(np.random.default_rng(4).permutation(200) == 37)) // 20
    model = RNN(timesteps=10, num_input=6, num_hidden_units=8, n_classes=4, seed=0)
    with pytest.raises(
        TrainingDiverged,
        match=rf"loss became nan at epoch 1, iteration {iteration} .*smaller learning_rate \(it was 0.1 at",
    ):
        train(
            model,
            x,
            y,
            x[:20],
            y[:20],
            epochs=1,
            batch_size=20,
            seed=4,
            log=None,
            optimizer=keras.optimizers.SGD(0.1),
        )


def test_shuffling_is_unseeded_when_seed_is_none():
    """From the same weights, seed=None gives a different batch order every run; a seed the same."""
    x, y = bright_row_task(100)
    initial = RNN(timesteps=10, num_input=6, num_hidden_units=4, n_classes=4, seed=0).get_weights()

    def first_losses(seed):
        model = RNN(timesteps=10, num_input=6, num_hidden_units=4, n_classes=4, seed=0)
        model.set_weights(initial)
        history = train(
            model, x, y, x[:10], y[:10], epochs=1, batch_size=25, display_freq=1, seed=seed, log=None
        )
        return [entry["loss"] for entry in history.logged]

    assert first_losses(3) == first_losses(3)
    unseeded = [first_losses(None) for _ in range(3)]
    assert unseeded[0] != unseeded[1] or unseeded[1] != unseeded[2]


def test_history_stops_a_run_that_diverges_without_nan():
    history = History(keras.optimizers.SGD(10.0), n_classes=10)
    history.add_batch(0, 2.3, 0.1)
    with pytest.raises(
        TrainingNotLearning,
        match=r"validation loss is 160, far above the 2.30 .*it was 10 at this point; e.g. 1;",
    ):
        history.end_epoch(160.0, 0.07)


def test_history_stops_a_run_at_chance_only_after_enough_steps():
    early = History(n_classes=10)
    for i in range(STEPS_BEFORE_JUDGING - 1):
        early.add_batch(i, 2.3, 0.1)
    early.end_epoch(2.31, 0.11)  # too early to judge: no error
    late = History(keras.optimizers.SGD(1e6), n_classes=10)
    for i in range(STEPS_BEFORE_JUDGING):
        late.add_batch(i, 2.3, 0.1)
    with pytest.raises(TrainingNotLearning, match=r"accuracy is 12.0%, no better than chance \(10%\)"):
        late.end_epoch(2.4, 0.12)
    learning = History(n_classes=10)
    for i in range(STEPS_BEFORE_JUDGING):
        learning.add_batch(i, 1.0, 0.6)
    learning.end_epoch(0.9, 0.7)  # a network that learns passes
    assert learning.val_accuracy == [0.7] and learning.train_loss == [1.0]


def test_history_records_what_the_loop_reports():
    history = History(n_classes=4, display_freq=2)
    for i, (loss, accuracy) in enumerate([(1.0, 0.5), (0.8, 0.6), (0.6, 0.7)]):
        history.add_batch(i, np.float32(loss), accuracy)
    history.end_epoch(0.5, 0.8)
    assert history.train_loss == [pytest.approx(0.8)] and history.train_accuracy == [pytest.approx(0.6)]
    assert [entry["iteration"] for entry in history.logged] == [0, 2]
    assert history.steps == 3 and len(history.epoch_seconds) == 1
    with pytest.raises(TrainingDiverged, match="iteration 7 .*step 4"):
        history.add_batch(7, float("inf"), 0.0)


def test_log_line_formats():
    assert format_iteration(0, 2.2814, 0.17) == "iter   0:\t Loss=2.28,\tTraining Accuracy=17.0%"
    assert format_epoch(3, 0.1901, 0.956) == "Epoch: 3, validation loss: 0.19, validation accuracy: 95.6%"


def test_evaluate_matches_keras_metrics():
    x, y = bright_row_task(2500)
    model = RNN(timesteps=10, num_input=6, num_hidden_units=8, n_classes=4, seed=0)
    loss, accuracy = evaluate(model, x, y, batch_size=1000)  # 3 batches, the last one partial
    logits = np.asarray(model(x))
    expected_loss = float(keras.losses.CategoricalCrossentropy(from_logits=True)(y, logits))
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert accuracy == pytest.approx(np.mean(logits.argmax(1) == y.argmax(1)))
    np.testing.assert_allclose(predict_logits(model, x, 700), logits, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, x[:0], y[:0])


def test_softmax_cross_entropy_is_stable():
    logits = np.array([[1000.0, 0.0], [0.0, 0.0]], np.float32)
    labels = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    np.testing.assert_allclose(softmax_cross_entropy(logits, labels), [0.0, np.log(2)], atol=1e-12)
    tf_loss = tf.nn.softmax_cross_entropy_with_logits(labels, logits).numpy()
    np.testing.assert_allclose(softmax_cross_entropy(logits, labels), tf_loss, rtol=1e-6)


def test_confusion_matrix():
    counts = confusion_matrix(np.array([0, 1, 1, 2, 2, 2]), np.array([0, 1, 2, 2, 2, 0]), 3)
    assert counts.tolist() == [[1, 0, 0], [0, 1, 1], [1, 0, 2]]
    assert counts.sum() == 6


def test_make_optimizer():
    from rnn_helpers.training import make_optimizer

    constant = make_optimizer(0.001)
    assert isinstance(constant, keras.optimizers.Adam) and constant.clipnorm is None
    assert float(constant.learning_rate) == pytest.approx(0.001)
    cosine = make_optimizer(0.001, lr_schedule="cosine", total_steps=100, clip_norm=1.0)
    assert cosine.clipnorm == 1.0
    schedule = keras.optimizers.schedules.deserialize(cosine.get_config()["learning_rate"])
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert float(schedule(0)) == pytest.approx(0.001)
    assert float(schedule(50)) == pytest.approx(0.0005, rel=1e-4)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="needs total_steps"):
        make_optimizer(0.001, lr_schedule="cosine")
    with pytest.raises(ValueError, match="lr_schedule='step'"):
        make_optimizer(0.001, lr_schedule="step")


def test_load_trained_model(tmp_path):
    from rnn_helpers.model import load_trained_model

    model = RNN(timesteps=4, num_input=3, num_hidden_units=5, n_classes=2, seed=0)
    model.save(tmp_path / "model.keras")
    again = load_trained_model(tmp_path, timesteps=4, num_input=3, n_classes=2)
    x = np.ones((2, 4, 3), np.float32)
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
    with pytest.raises(FileNotFoundError, match="Run notebook 01 with -p output_dir"):
        load_trained_model(tmp_path / "missing")
    other = keras.Sequential([keras.Input((4, 3)), keras.layers.LSTM(5), keras.layers.Dense(2)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="does not hold the tutorial's vanilla RNN"):
        load_trained_model(tmp_path / "other.keras")
    # a vanilla RNN of another shape (say, another dataset's) is named as such, not used
    with pytest.raises(
        ValueError, match="inputs of 4x3 and 2 classes, but here the images are 28x28 with 10"
    ):
        load_trained_model(tmp_path)


@pytest.mark.parametrize(
    "cell,layer,params",
    [
        ("rnn", keras.layers.SimpleRNN, 28 * 16 + 16 * 16 + 16),
        ("lstm", keras.layers.LSTM, 4 * (28 * 16 + 16 * 16 + 16)),
        ("gru", keras.layers.GRU, 3 * (28 * 16 + 16 * 16 + 2 * 16)),
    ],
)
def test_cell_choice(cell, layer, params, tmp_path):
    model = RNN(num_hidden_units=16, cell=cell, seed=0)
    assert isinstance(model.get_layer("rnn"), layer)
    assert model.get_layer("rnn").count_params() == params
    assert model.count_params() == params + 16 * 10 + 10
    x, y = bright_row_task(60, timesteps=28, num_input=28, n_classes=10)
    history = train(model, x, y, x[:20], y[:20], epochs=1, batch_size=20, seed=0, log=None)
    assert np.isfinite(history.train_loss[0])
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(
        np.asarray(keras.models.load_model(tmp_path / "m.keras")(x[:3])), np.asarray(model(x[:3]))
    )


def test_unknown_cell():
    with pytest.raises(ValueError, match="cell='transformer': choose one of 'rnn', 'lstm', 'gru'"):
        RNN(cell="transformer")


def test_make_optimizer_weight_decay_and_averaging():
    from rnn_helpers.training import make_optimizer

    plain = make_optimizer(0.001)
    assert not plain.use_ema and not isinstance(plain, keras.optimizers.AdamW)
    decayed = make_optimizer(0.001, weight_decay=1e-4, ema_momentum=0.99)
    assert isinstance(decayed, keras.optimizers.AdamW) and decayed.weight_decay == pytest.approx(1e-4)
    assert decayed.use_ema and decayed.ema_momentum == pytest.approx(0.99)
    with pytest.raises(ValueError, match="ema_momentum=1.0: it must lie strictly between 0 and 1"):
        make_optimizer(0.001, ema_momentum=1.0)
    with pytest.raises(ValueError, match="weight_decay=-1: it must be >= 0"):
        make_optimizer(0.001, weight_decay=-1)


@pytest.mark.parametrize("fast", [True, False])
def test_weight_averaging_is_used_for_validation_and_kept(fast):
    """With ema_momentum the validation numbers come from the averaged weights, the model
    ends up holding them, and they differ from the last raw weights."""
    from rnn_helpers.training import averaged_weights, make_optimizer

    x, y = bright_row_task(600)
    xv, yv = bright_row_task(200, seed=1)
    set_seed(0)
    model = RNN(timesteps=10, num_input=6, num_hidden_units=16, n_classes=4, seed=0)
    optimizer = make_optimizer(0.01, ema_momentum=0.9)
    seen = []

    def spy(line: str) -> None:  # after the last epoch: raw and averaged weights, before finalising
        if line.startswith("Epoch: 2"):
            seen.append([v.numpy().copy() for v in model.trainable_variables])
            with averaged_weights(model, optimizer):
                seen.append([v.numpy().copy() for v in model.trainable_variables])
                seen.append(evaluate(model, xv, yv))
            seen.append([v.numpy().copy() for v in model.trainable_variables])

    history = train(
        model, x, y, xv, yv, epochs=2, batch_size=50, seed=0, optimizer=optimizer, fast=fast, log=spy
    )
    raw, averaged, (val_loss, val_accuracy), restored = seen
    assert all(np.array_equal(a, b) for a, b in zip(raw, restored, strict=True))  # put back after the block
    assert not all(np.allclose(a, b) for a, b in zip(raw, averaged, strict=True))
    assert history.val_loss[-1] == pytest.approx(val_loss) and history.val_accuracy[-1] == val_accuracy
    final = [v.numpy() for v in model.trainable_variables]
    assert all(
        np.array_equal(a, b) for a, b in zip(averaged, final, strict=True)
    )  # the model keeps the average


def test_averaged_weights_without_averaging_changes_nothing():
    from rnn_helpers.training import averaged_weights, make_optimizer

    model = RNN(timesteps=4, num_input=3, num_hidden_units=5, n_classes=2, seed=0)
    before = [v.numpy().copy() for v in model.trainable_variables]
    for optimizer in (make_optimizer(0.01), make_optimizer(0.01, ema_momentum=0.9)):  # the second is unbuilt
        with averaged_weights(model, optimizer):
            assert all(
                np.array_equal(a, v.numpy()) for a, v in zip(before, model.trainable_variables, strict=True)
            )


@pytest.mark.parametrize("fast", [True, False])
def test_augmentation_changes_the_training_data_each_epoch(fast):
    """``augment`` hands every epoch a fresh shifted copy of the shuffled images; none: the data itself."""
    from rnn_helpers.augmentation import make_augment

    assert make_augment(0) is None
    shift = make_augment(1)
    calls = []

    def recording(images, rng):
        out = shift(images, rng)
        calls.append((images, out))
        return out

    x, y = bright_row_task(200)
    set_seed(0)
    model = RNN(timesteps=10, num_input=6, num_hidden_units=8, n_classes=4, seed=0)
    options = {"epochs": 2, "batch_size": 50, "seed": 0, "augment": recording, "fast": fast, "log": None}
    history = train(model, x, y, x[:50], y[:50], **options)
    assert np.all(np.isfinite(history.train_loss))
    assert len(calls) == 2  # once per epoch
    (first_in, first_out), (second_in, second_out) = calls
    assert not np.array_equal(first_out, first_in) and not np.array_equal(first_out, second_out)
    assert sorted(map(bytes, first_in)) == sorted(map(bytes, x))  # the shuffled training images


def test_smooth_labels():
    from rnn_helpers.training import smooth_labels

    y = np.eye(10, dtype=np.float32)[[3, 7]]
    smoothed = smooth_labels(y, 0.1)
    assert smoothed.dtype == np.float32 and smoothed[0, 3] == pytest.approx(0.91)
    assert smoothed[0, 0] == pytest.approx(0.01) and np.allclose(smoothed.sum(1), 1.0)
    assert np.array_equal(smoothed.argmax(1), [3, 7])
    assert smooth_labels(y, 0.0) is y
    with pytest.raises(ValueError, match="label_smoothing=1.0: it must be >= 0 and < 1"):
        smooth_labels(y, 1.0)


@pytest.mark.parametrize("fast", [True, False])
def test_label_smoothing_trains_on_soft_targets(fast):
    """Smoothed targets change the training (its loss cannot reach 0) but not how accuracy is counted."""
    x, y = bright_row_task(400)
    results = {}
    for smoothing in (0.0, 0.2):
        set_seed(0)
        model = RNN(timesteps=10, num_input=6, num_hidden_units=16, n_classes=4, seed=0)
        history = train(
            model,
            x,
            y,
            x[:100],
            y[:100],
            epochs=3,
            batch_size=50,
            learning_rate=0.01,
            seed=0,
            label_smoothing=smoothing,
            fast=fast,
            log=None,
        )
        results[smoothing] = history
    # the loss against smoothed targets has a floor: the entropy of (0.85, 0.05, 0.05, 0.05) = 0.59
    assert min(results[0.2].train_loss) > 0.59 > results[0.0].train_loss[-1]
    assert results[0.2].train_accuracy[-1] > 0.5 and results[0.2].val_accuracy[-1] > 0.5


def test_the_recurrent_matrix_can_start_as_the_identity():
    identity = RNN(num_hidden_units=6, seed=0, recurrent_initializer="identity")
    np.testing.assert_array_equal(identity.get_layer("rnn").cell.recurrent_kernel.numpy(), np.eye(6))
    orthogonal = RNN(num_hidden_units=6, seed=0).get_layer("rnn").cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(orthogonal @ orthogonal.T, np.eye(6), atol=1e-5)
    assert not np.allclose(orthogonal, np.eye(6))
    with pytest.raises(
        ValueError, match="recurrent_initializer='zeros': choose one of 'orthogonal', 'identity'"
    ):
        RNN(num_hidden_units=6, recurrent_initializer="zeros")


@pytest.mark.parametrize("lr_schedule", ["cosine", "constant"])
def test_a_warm_up_rises_from_zero_then_follows_the_schedule(lr_schedule):
    from rnn_helpers.training import make_optimizer

    optimizer = make_optimizer(0.002, lr_schedule=lr_schedule, total_steps=100, warmup_steps=10)
    schedule = optimizer._learning_rate if hasattr(optimizer, "_learning_rate") else optimizer.learning_rate
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == pytest.approx(0.0, abs=1e-9) and rates[1] == pytest.approx(0.001, rel=1e-4)
    assert rates[2] == pytest.approx(0.002, rel=1e-4)
    if lr_schedule == "cosine":
        assert rates[3] == pytest.approx(0.001, rel=1e-3) and rates[4] == pytest.approx(0.0, abs=1e-8)
    else:
        assert rates[3] == pytest.approx(0.002, rel=1e-4) and rates[4] == pytest.approx(0.002, rel=1e-4)
    with pytest.raises(
        ValueError, match="warmup_steps=100: it must be >= 0 and fewer than the run's 100 steps"
    ):
        make_optimizer(0.002, lr_schedule="cosine", total_steps=100, warmup_steps=100)


def test_standardize_centres_the_inputs_with_the_training_statistics():
    from rnn_helpers.loading import standardize

    rng = np.random.default_rng(0)
    x_train, x_test = (
        rng.random((200, 28, 28), dtype=np.float32) * 0.5,
        rng.random((50, 28, 28), dtype=np.float32),
    )
    train_std, test_std = standardize(x_train, x_test)
    assert abs(train_std.mean()) < 1e-5 and train_std.std() == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(test_std, (x_test - x_train.mean()) / x_train.std(), rtol=1e-5, atol=1e-5)
    assert train_std.dtype == test_std.dtype == np.float32
