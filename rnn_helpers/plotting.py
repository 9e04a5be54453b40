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


def plot_validation_curves(
    curves: Mapping[str, Sequence[float]],
    title: str = "Validation accuracy per epoch",
    zoom: float | None = None,
) -> Figure:
    """Several runs' validation accuracy per epoch on one plot, one line per run.

    Args:
        curves: run label -> validation accuracy after epoch 1, 2, ... (lists may differ
            in length).
        title: the plot's title.
        zoom: if given, the lower edge of the accuracy axis (e.g. 0.95), to separate close
            curves; ``None`` shows the whole range.
    """
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, "o-", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    if zoom is not None:
        top = max((max(v) for v in curves.values() if len(v)), default=1.0)
        ax.set_ylim(zoom, min(1.0, top + (top - zoom) * 0.05))
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:.1%}")
    ax.grid(alpha=0.3)
    ax.legend()
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


def plot_prediction_over_rows(
    images: np.ndarray,
    probabilities: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str] | None = None,
    rows_shown: Sequence[int] = (7, 14, 21),
) -> Figure:
    """For each image: the image with the rows read so far, and its class probabilities after each row.

    Args:
        images: ``(n, 784)`` or ``(n, 28, 28)``.
        probabilities: ``(n, 28, n_classes)`` from ``rnn_helpers.inside.stepwise_probabilities``.
        labels: true class of each image.
        rows_shown: after how many rows to draw a marker line on the probability maps.
    """
    n, timesteps, n_classes = probabilities.shape
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    fig = Figure(figsize=(10, 2.6 * n))
    axes = fig.subplots(n, 2, gridspec_kw={"width_ratios": [1, 3.2]}, squeeze=False)
    fig.subplots_adjust(hspace=0.45)
    for i in range(n):
        image = np.reshape(images[i], (timesteps, -1))
        ax_img, ax_prob = axes[i]
        ax_img.imshow(image, cmap="binary")
        for k in rows_shown:
            ax_img.axhline(k - 0.5, color="tab:red", lw=0.8, ls="--")
        ax_img.set_xticks([])
        ax_img.set_yticks([0, 27], ["row 1", "row 28"], fontsize=7)
        ax_img.set_title(f"true: {names[int(labels[i])]}", fontsize=9)
        im = ax_prob.imshow(
            probabilities[i].T,
            aspect="auto",
            cmap="viridis",
            vmin=0,
            vmax=1,
            extent=(0.5, timesteps + 0.5, n_classes - 0.5, -0.5),
        )
        for k in rows_shown:
            ax_prob.axvline(k + 0.5, color="tab:red", lw=0.8, ls="--")
        ax_prob.set_yticks(range(n_classes), names, fontsize=7)
        final = int(probabilities[i, -1].argmax())
        ax_prob.set_title(f"class probabilities after each row (final answer: {names[final]})", fontsize=9)
        if i == n - 1:
            ax_prob.set_xlabel("rows read")
    fig.colorbar(im, ax=axes[:, 1].tolist(), fraction=0.02, pad=0.01, label="probability")
    return fig


def plot_accuracy_by_rows(
    accuracy: Sequence[float], title: str = "Test accuracy if the network answered early"
) -> Figure:
    """Accuracy against the number of rows read (k = 1 .. 28)."""
    accuracy = np.asarray(accuracy)
    rows = np.arange(1, len(accuracy) + 1)
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(rows, accuracy, "o-", ms=4)
    ax.set_xlabel("rows read before answering")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return fig


def plot_hidden_state(
    states: np.ndarray, image: np.ndarray | None = None, title: str = "Hidden state"
) -> Figure:
    """Heat map of one image's hidden units (rows) over the timesteps (columns), beside the image."""
    timesteps, units = states.shape
    fig = Figure(figsize=(10, 4.5))
    if image is not None:
        ax_img, ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 3.5]})
        ax_img.imshow(np.reshape(image, (timesteps, -1)), cmap="binary")
        ax_img.set_xticks([])
        ax_img.set_ylabel("row")
    else:
        ax = fig.subplots()
    im = ax.imshow(
        states.T,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        extent=(0.5, timesteps + 0.5, units - 0.5, -0.5),
        interpolation="nearest",  # one block per unit and step (and a small PNG)
    )
    ax.set_xlabel("timestep (row read)")
    ax.set_ylabel("hidden unit")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="activation (tanh)")
    return fig


def plot_projection(
    points: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str] | None = None,
    title: str = "Final hidden states, first two principal components",
    max_points: int = 2500,
) -> Figure:
    """A 2-D scatter of ``points`` ``(N, 2)`` coloured by class, with a legend.

    At most ``max_points`` of them are drawn (an evenly spread, fixed selection), which
    shows the same clusters as all 10,000 and keeps the figure small.
    """
    labels = np.asarray(labels)
    if len(points) > max_points:
        chosen_points = np.linspace(0, len(points) - 1, max_points).astype(int)
        points, labels = np.asarray(points)[chosen_points], labels[chosen_points]
    n_classes = int(labels.max()) + 1 if class_names is None else len(class_names)
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    fig = Figure(figsize=(7.5, 6.5))
    ax = fig.subplots()
    colours = matplotlib_colormap("tab10")
    for c in range(n_classes):
        chosen = labels == c
        ax.scatter(
            points[chosen, 0], points[chosen, 1], s=3, linewidths=0, color=colours(c % 10), label=names[c]
        )
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.set_title(title)
    ax.legend(markerscale=4, fontsize=8, loc="best")
    return fig


def plot_spectrum(
    eigenvalues: Mapping[str, np.ndarray], title: str = "Eigenvalues of the recurrent matrix W_h"
) -> Figure:
    """Eigenvalues in the complex plane, one colour per entry (e.g. before and after training)."""
    fig = Figure(figsize=(6.5, 6.5))
    ax = fig.subplots()
    angle = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(angle), np.sin(angle), color="grey", lw=1, label="unit circle")
    for name, values in eigenvalues.items():
        largest = np.abs(values).max()
        ax.scatter(values.real, values.imag, s=12, alpha=0.7, label=f"{name} (largest |λ| = {largest:.2f})")
    ax.set_aspect("equal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_gradient_through_time(
    ratios: Mapping[str, Sequence[float]],
    title: str = "The gradient going back in time",
) -> Figure:
    """How much of the gradient reaches each hidden state: one curve per entry of ``ratios``,
    each ``||d loss / d h_t|| / ||d loss / d h_T||`` for ``t = 1 .. T``, on a log scale.

    The time axis runs from ``T`` (left) back to 1 (right), the way backpropagation
    through time goes; the dotted line at 1 is no growth and no decay.
    """
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    for name, values in ratios.items():
        values = np.asarray(values)
        ax.semilogy(np.arange(1, len(values) + 1), values, "o-", ms=3, label=name)
    timesteps = max(len(values) for values in ratios.values())
    ax.axhline(1, color="grey", lw=1, ls=":")
    ax.set_xlim(timesteps + 0.5, 0.5)
    ax.set_xlabel("timestep t (backpropagation goes from the last row back to the first)")
    ax.set_ylabel(f"||d loss / d h_t|| / ||d loss / d h_{timesteps}||")
    ax.grid(alpha=0.3, which="major")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    return fig


def matplotlib_colormap(name: str):
    """A Matplotlib colormap by name (without importing pyplot)."""
    from matplotlib import colormaps

    return colormaps[name]
