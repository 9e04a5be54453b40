"""Figures of the tutorial. Each function returns a ``matplotlib.figure.Figure``.

The figures are created without pyplot, so nothing is shown behind the caller's back and
everything works headless: a notebook displays a figure by leaving it as the last
expression of a cell (or with ``display(fig)``); a script saves it with ``fig.savefig``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def _label(value: int, class_names: Sequence[str] | None) -> str:
    return class_names[int(value)] if class_names is not None else str(int(value))


def plot_images(
    images: np.ndarray,
    cls_true: Sequence[int],
    cls_pred: Sequence[int] | None = None,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
    image_shape: tuple[int, int] = (28, 28),
) -> Figure:
    """Up to 9 images in a 3x3 grid, titled ``True: x`` or ``True: x, Pred: y``.

    Args:
        images: ``(n, 784)`` or ``(n, 28, 28)``; the first 9 are drawn (fewer when
            fewer images or labels are given).
        cls_true: true class of each image.
        cls_pred: predicted class of each image, if any.
        title: title above the grid.
        class_names: names to show instead of class numbers (e.g. Fashion-MNIST's).
    """
    shown = min(9, len(images), len(cls_true), len(cls_pred) if cls_pred is not None else 9)
    fig = Figure(figsize=(7.5, 8))
    axes = fig.subplots(3, 3)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= shown:
            ax.axis("off")
            continue
        ax.imshow(np.reshape(images[i], image_shape), cmap="binary")
        text = f"True: {_label(cls_true[i], class_names)}"
        if cls_pred is not None:
            text += f", Pred: {_label(cls_pred[i], class_names)}"
        ax.set_title(text, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=16)
    return fig


def plot_example_errors(
    images: np.ndarray,
    cls_true: np.ndarray,
    cls_pred: np.ndarray,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """The first 9 misclassified images of a set, titled ``True: x, Pred: y``."""
    cls_true, cls_pred = np.asarray(cls_true), np.asarray(cls_pred)
    incorrect = cls_pred != cls_true
    return plot_images(images[incorrect], cls_true[incorrect], cls_pred[incorrect], title, class_names)


def plot_training_curves(history: Mapping[str, Sequence[float]] | object) -> Figure:
    """Loss and accuracy per epoch, training and validation, side by side.

    ``history`` is a :class:`rnn_helpers.training.History` or a mapping with the keys
    ``epoch``, ``train_loss``, ``val_loss``, ``train_accuracy``, ``val_accuracy``.
    """
    h = history if isinstance(history, Mapping) else history.as_dict()
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key, name in ((ax_loss, "loss", "Loss (cross-entropy)"), (ax_acc, "accuracy", "Accuracy")):
        ax.plot(h["epoch"], h[f"train_{key}"], "o-", label="training (mean over the epoch)")
        ax.plot(h["epoch"], h[f"val_{key}"], "s-", label="validation (after the epoch)")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_acc.yaxis.set_major_formatter(lambda value, _: f"{value:.1%}")
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    counts: np.ndarray, class_names: Sequence[str] | None = None, title: str = "Confusion matrix"
) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted class) with its counts written in."""
    counts = np.asarray(counts)
    n = counts.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    fig = Figure(figsize=(8, 7))
    ax = fig.subplots()
    # Colour by the share of each true class, so that errors stand out beside the diagonal.
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(np.sqrt(shares), cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                ax.text(
                    j,
                    i,
                    str(counts[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if shares[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(n), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true class (square-root scale)")
    colorbar.set_ticks(np.sqrt([0, 0.01, 0.1, 0.5, 1]), labels=["0", "1%", "10%", "50%", "100%"])
    fig.tight_layout()
    return fig
