"""Draw a digit, watch the RNN read it: an interactive widget, and the same as a static figure.

:class:`DigitReader` shows a canvas to draw on with the mouse (or a finger or pen). When a
stroke ends, the drawing is prepared as MNIST's digits were (:func:`rnn_helpers.drawing.mnist_style`),
and the trained vanilla RNN reads the 28×28 result row by row: the widget shows the image
the network receives, the row being read, the class probabilities after each row
(:func:`rnn_helpers.inside.stepwise_probabilities`, one NumPy pass) and the final answer.
A slider, or the play button, goes through the 28 rows.

The widget is an `anywidget <https://anywidget.dev>`_: its JavaScript and CSS are the files
``static/digit_reader.js`` and ``static/digit_reader.css`` of this package, sent to the
browser by the kernel. Nothing is fetched from the internet, so it works offline.

:func:`plot_reading` draws the same panels as a Matplotlib figure, for places where
widgets do not run (a notebook viewed on the web, a PDF), and :func:`load_or_train_model`
returns notebook 01's saved model when there is one, else trains a quick one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import keras
import numpy as np
import traitlets
from matplotlib.figure import Figure

from .drawing import EmptyDrawingError, draw_strokes, mnist_style
from .inside import rnn_weights, stepwise_probabilities

STATIC = Path(__file__).parent / "static"


@dataclass
class Reading:
    """What the network made of one image.

    Attributes:
        image: the ``(28, 28)`` image the network received, values in [0, 1].
        probabilities: ``(28, n_classes)``: the class probabilities after each row.
    """

    image: np.ndarray
    probabilities: np.ndarray

    @property
    def prediction(self) -> int:
        """The final answer: the most probable class after the last row."""
        return int(self.probabilities[-1].argmax())

    @property
    def confidence(self) -> float:
        """The final answer's probability."""
        return float(self.probabilities[-1].max())


def read_image(model: keras.Model, image: np.ndarray) -> Reading:
    """Let the vanilla RNN ``model`` read one prepared ``(28, 28)`` image (or 784 values) row by row."""
    timesteps, features = model.input_shape[1:]
    image = np.asarray(image, dtype=np.float32).reshape(timesteps, features)
    probabilities = stepwise_probabilities(model, image[None])[0]
    return Reading(image=image, probabilities=probabilities)


def read_drawing(model: keras.Model, drawing: np.ndarray) -> Reading:
    """Prepare a drawing as MNIST's digits were (:func:`~rnn_helpers.drawing.mnist_style`), then read it.

    Raises:
        EmptyDrawingError: nothing is drawn.
    """
    return read_image(model, mnist_style(drawing))


class DigitReader(anywidget.AnyWidget):
    """Draw a digit with the mouse and watch a trained vanilla RNN read it row by row.

    Args:
        model: a vanilla RNN from :func:`rnn_helpers.model.RNN` (trained, or it guesses).
        class_names: names of the classes (default "0" ... "9").
        note: a line shown under the widget, e.g. where the model comes from.

    The synced traits are the widget's state: ``strokes`` comes from the browser (one list
    of ``[x, y]`` canvas points per stroke); ``image``, ``probabilities``, ``prediction``
    and ``confidence`` go back to it. Setting ``strokes`` from Python works the same way
    (that is how the tests draw).
    """

    _esm = STATIC / "digit_reader.js"
    _css = STATIC / "digit_reader.css"

    strokes = traitlets.List(help="drawn strokes: lists of [x, y] canvas points").tag(sync=True)
    canvas_size = traitlets.Int(280, help="the drawing canvas is this many pixels square").tag(sync=True)
    line_width = traitlets.Float(22.0, help="pen width in canvas pixels").tag(sync=True)
    image = traitlets.List(help="the 28 rows of 28 values the network receives").tag(sync=True)
    probabilities = traitlets.List(help="class probabilities after each row").tag(sync=True)
    prediction = traitlets.Int(-1, help="final answer (class index); -1 before anything is drawn").tag(
        sync=True
    )
    confidence = traitlets.Float(0.0, help="probability of the final answer").tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self, model: keras.Model, class_names: Sequence[str] | None = None, note: str = "", **kwargs: Any
    ) -> None:
        rnn_weights(model)  # refuses anything but the vanilla RNN, before the widget is shown
        n_classes = model.output_shape[-1]
        names = [str(i) for i in range(n_classes)] if class_names is None else [str(n) for n in class_names]
        if len(names) != n_classes:
            raise ValueError(f"{len(names)} class names for a model with {n_classes} classes.")
        self._model = model
        super().__init__(class_names=names, note=note, **kwargs)

    def __repr__(self) -> str:
        # shown where the widget cannot be (a notebook viewed on the web, a terminal)
        answer = "nothing drawn yet" if self.prediction < 0 else f"reads {self.class_names[self.prediction]}"
        return (
            f"DigitReader ({answer}): a drawing board that needs a running kernel, in JupyterLab "
            "or Jupyter Notebook with the 'widgets' extra installed."
        )

    @traitlets.observe("strokes")
    def _on_strokes(self, change: dict[str, Any]) -> None:
        self.error = ""
        try:
            drawing = draw_strokes(change["new"], size=self.canvas_size, line_width=self.line_width)
            reading = read_drawing(self._model, drawing)
        except EmptyDrawingError:
            self._show(None)
        except Exception as error:  # shown in the widget: an observer's exception would be lost
            self._show(None)
            self.error = f"{type(error).__name__}: {error}"
        else:
            self._show(reading)

    def _show(self, reading: Reading | None) -> None:
        with self.hold_sync():
            if reading is None:
                self.image, self.probabilities, self.prediction, self.confidence = [], [], -1, 0.0
            else:
                self.image = np.round(reading.image, 3).tolist()
                self.probabilities = np.round(reading.probabilities, 4).tolist()
                self.prediction, self.confidence = reading.prediction, reading.confidence


def plot_reading(
    reading: Reading,
    class_names: Sequence[str] | None = None,
    drawing: np.ndarray | None = None,
    row: int | None = None,
    title: str | None = None,
) -> Figure:
    """The widget's panels as a figure: [the drawing,] the image received, probabilities per row, answer.

    Args:
        reading: from :func:`read_drawing` or :func:`read_image`.
        class_names: names of the classes (default "0" ... "9").
        drawing: the drawing before preparation, shown first when given.
        row: mark the row being read (1 .. 28) and show the probabilities after it;
            default: after the last row.
        title: a title over the figure.
    """
    timesteps, n_classes = reading.probabilities.shape
    names = [str(i) for i in range(n_classes)] if class_names is None else list(class_names)
    row = timesteps if row is None else int(row)
    if not 1 <= row <= timesteps:
        raise ValueError(f"row = {row}: it must be between 1 and {timesteps}.")
    panels = (["drawing"] if drawing is not None else []) + ["image", "map", "bars"]
    ratios = {"drawing": 1.0, "image": 1.0, "map": 1.6, "bars": 1.0}
    fig = Figure(figsize=(3.0 * sum(ratios[p] for p in panels), 3.4), layout="constrained")
    axes = dict(
        zip(panels, fig.subplots(1, len(panels), width_ratios=[ratios[p] for p in panels]), strict=True)
    )
    if drawing is not None:
        axes["drawing"].imshow(drawing, cmap="binary", vmin=0, vmax=1)
        axes["drawing"].set_title("the drawing", fontsize=9)
        axes["drawing"].set_xticks([])
        axes["drawing"].set_yticks([])
    ax = axes["image"]
    shown = reading.image.copy()
    shown[row:] *= 0.25  # rows not read yet, faded
    ax.imshow(shown, cmap="binary", vmin=0, vmax=1)
    ax.add_patch(_row_box(row, shown.shape[1]))
    ax.set_title(f"what the network receives: row {row} of {timesteps}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([0, timesteps - 1], ["row 1", f"row {timesteps}"], fontsize=7)
    ax = axes["map"]
    ax.imshow(
        reading.probabilities.T,
        aspect="auto",
        cmap="viridis",
        vmin=0,
        vmax=1,
        extent=(0.5, timesteps + 0.5, n_classes - 0.5, -0.5),
    )
    ax.axvline(row + 0.5, color="tab:red", lw=1)
    ax.set_yticks(range(n_classes), names, fontsize=7)
    ax.set_xlabel("rows read")
    ax.set_title("class probabilities after each row", fontsize=9)
    ax = axes["bars"]
    after = reading.probabilities[row - 1]
    best = int(after.argmax())
    ax.barh(range(n_classes), after, color=["tab:red" if c == best else "tab:blue" for c in range(n_classes)])
    ax.set_yticks(range(n_classes), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(f"after row {row}: {names[best]} ({after[best]:.0%})", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _row_box(row: int, width: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((-0.5, row - 1.5), width, 1, fill=False, edgecolor="tab:red", lw=1.5)


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
    from . import load_data
    from .model import RNN, load_trained_model, model_file
    from .results import display_path
    from .training import make_optimizer, train

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
        model,
        x_train,
        y_train,
        x_valid,
        y_valid,
        epochs=epochs,
        batch_size=100,
        seed=seed,
        optimizer=optimizer,
        log=None,
    )
    if log is not None:
        for epoch, accuracy in zip(history.epoch, history.val_accuracy, strict=True):
            log(f"epoch {epoch}: validation accuracy {accuracy:.1%}")
    note = (
        f"{where}: this is a quick model trained here ({epochs} epochs, "
        f"{history.val_accuracy[-1]:.1%} validation accuracy). Run notebook 01 to use its model."
    )
    return model, note
