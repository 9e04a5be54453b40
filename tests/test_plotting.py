"""Every plotting helper returns a Figure, headless, with the expected titles and labels."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from rnn_helpers.data.datasets import class_names
from rnn_helpers.plotting import plot_confusion_matrix, plot_example_errors, plot_images, plot_training_curves
from rnn_helpers.training import History

IMAGES = np.random.default_rng(0).random((12, 784), dtype=np.float32)


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def test_headless_without_pyplot(tmp_path):
    """No display, no backend chosen: the figures still render, and pyplot is never loaded."""
    script = (
        "import sys, numpy as np\n"
        "from rnn_helpers.plotting import plot_images, plot_confusion_matrix\n"
        f"plot_images(np.zeros((9, 784)), list(range(9))).savefig({str(tmp_path / 'a.png')!r})\n"
        f"plot_confusion_matrix(np.eye(3, dtype=int)).savefig({str(tmp_path / 'b.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND", "WAYLAND_DISPLAY")}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    assert (tmp_path / "a.png").stat().st_size > 1000 and (tmp_path / "b.png").stat().st_size > 1000


def test_plot_images_titles(tmp_path):
    fig = plot_images(IMAGES, np.arange(12) % 10, (np.arange(12) + 1) % 10, title="Correct Examples")
    assert titles(fig)[:3] == ["True: 0, Pred: 1", "True: 1, Pred: 2", "True: 2, Pred: 3"]
    assert len(titles(fig)) == 9
    assert fig.get_suptitle() == "Correct Examples"
    fig.savefig(tmp_path / "images.png")
    assert (tmp_path / "images.png").stat().st_size > 1000


def test_plot_images_without_predictions_and_class_names():
    fig = plot_images(IMAGES.reshape(-1, 28, 28), [9, 0, 5], class_names=class_names("fashion_mnist"))
    assert titles(fig) == ["True: Ankle boot", "True: T-shirt/top", "True: Sandal"]


def test_plot_example_errors_shows_only_errors():
    cls_true = np.array([1, 2, 3, 4, 5])
    cls_pred = np.array([1, 7, 3, 9, 5])
    fig = plot_example_errors(IMAGES[:5], cls_true, cls_pred, title="Misclassified")
    assert titles(fig) == ["True: 2, Pred: 7", "True: 4, Pred: 9"]


def test_training_curves_from_history_or_mapping():
    history = History(
        epoch=[1, 2],
        train_loss=[0.9, 0.5],
        train_accuracy=[0.7, 0.85],
        val_loss=[0.6, 0.4],
        val_accuracy=[0.8, 0.88],
        epoch_seconds=[1, 1],
    )
    for source in (history, history.as_dict()):
        fig = plot_training_curves(source)
        loss_ax, acc_ax = fig.axes
        assert [line.get_ydata().tolist() for line in loss_ax.lines] == [[0.9, 0.5], [0.6, 0.4]]
        assert [line.get_ydata().tolist() for line in acc_ax.lines] == [[0.7, 0.85], [0.8, 0.88]]


def test_training_curves_need_the_keys():
    with pytest.raises(KeyError):
        plot_training_curves({"epoch": [1]})


def test_confusion_matrix_plot_is_labelled():
    counts = np.array([[5, 1], [0, 7]])
    fig = plot_confusion_matrix(counts, ["Coat", "Shirt"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Coat", "Shirt"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Coat", "Shirt"]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "5", "7"]  # zero cells stay empty
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"


def test_validation_curves_one_line_per_run():
    from rnn_helpers.plotting import plot_validation_curves

    curves = {"rnn": [0.9, 0.95, 0.97], "lstm": [0.93, 0.98]}
    fig = plot_validation_curves(curves, title="cells", zoom=0.9)
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["rnn", "lstm"]
    assert ax.lines[1].get_xdata().tolist() == [1, 2] and ax.lines[1].get_ydata().tolist() == [0.93, 0.98]
    assert ax.get_ylim()[0] == 0.9 and ax.get_ylim()[1] <= 1.0 and ax.get_title() == "cells"
    assert ax.get_legend() is not None


def test_gradient_through_time_runs_back_from_the_last_row_on_a_log_scale():
    from rnn_helpers.plotting import plot_gradient_through_time

    vanishing, exploding = np.geomspace(1e-9, 1, 28), np.geomspace(4e3, 1, 28)
    fig = plot_gradient_through_time({"radius 0.5": vanishing, "radius 2": exploding})
    (ax,) = fig.axes
    curves = [line for line in ax.lines if line.get_label() in ("radius 0.5", "radius 2")]
    assert [line.get_xdata().tolist() for line in curves] == [list(range(1, 29))] * 2
    assert curves[0].get_ydata().tolist() == vanishing.tolist()
    assert ax.get_yscale() == "log"
    left, right = ax.get_xlim()
    assert left > 28 > 1 > right, "row 28 on the left, row 1 on the right"
    assert ax.get_ylabel() == "||d loss / d h_t|| / ||d loss / d h_28||"
