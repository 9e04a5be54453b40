"""The network the widget reads with: notebook 01's saved model, or a quick one trained here."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import keras

from ..loading import load_data
from ..model import RNN, load_trained_model, model_file
from ..runs.records import display_path
from ..training import make_optimizer, train


def load_or_train_model(
    model_dir: str | os.PathLike[str] | None,
    *,
    epochs: int = 3,
    seed: int = 42,
    data_dir: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    log: Callable[[str], None] | None = print,
) -> tuple[keras.Model, str]:
    """Notebook 01's trained model when ``model_dir`` holds one, else a quickly trained one.

    Args:
        model_dir: a notebook-01 output folder (with ``model.keras``) or that file; ``None``
            or a folder without a saved model: train here.
        epochs: epochs of the quick training (notebook 01's recipe on all 55,000 training
            images: Adam 0.001 falling along a cosine, gradients clipped to norm 1).
        seed: seed of the weights and of the shuffling.
        data_dir: where MNIST is (see :func:`rnn_helpers.load_data`).
        n_train: train on the first ``n_train`` training images only (for a quicker, worse
            model); ``None``: all of them.
        log: where a line per epoch goes; ``None`` for silence.

    Returns:
        ``(model, note)``: the vanilla RNN, and a sentence saying where it comes from.

    Raises:
        ValueError: ``model_dir`` holds some other model than the tutorial's vanilla RNN.
    """
    if model_dir is not None:
        saved = model_file(model_dir)
        if saved.is_file():
            return load_trained_model(
                saved
            ), f"Using the model trained by notebook 01 ({display_path(saved)})."
        where = f"No saved model in {display_path(Path(model_dir).expanduser())}"
    else:
        where = "model_dir = None"
    x_train, y_train, x_valid, y_valid = load_data("train", data_dir=data_dir, flatten=False)
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    keras.utils.set_random_seed(seed)
    model = RNN(28, 28, 128, 10, seed=seed)
    optimizer = make_optimizer(
        0.001, lr_schedule="cosine", total_steps=epochs * (len(y_train) // 100), clip_norm=1.0
    )
    history = train(
        model, x_train, y_train, x_valid, y_valid, epochs=epochs, seed=seed, optimizer=optimizer, log=None
    )
    if log is not None:
        for epoch, accuracy in zip(history.epoch, history.val_accuracy, strict=True):
            log(f"epoch {epoch}: validation accuracy {accuracy:.1%}")
    note = (
        f"{where}: this is a quick model trained here ({epochs} epochs, "
        f"{history.val_accuracy[-1]:.1%} validation accuracy). Run notebook 01 to use its model."
    )
    return model, note
