"""The widget's panels as a Matplotlib figure, for places where widgets do not run (a
notebook viewed on the web, a PDF): the drawing, the image the network receives, the class
probabilities after each row, and the answer after the row being read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .reading import Reading


def plot_reading(
    reading: Reading,
    class_names: Sequence[str] | None = None,
    drawing: np.ndarray | None = None,
    row: int | None = None,
    title: str | None = None,
) -> Figure:
    """The widget's panels as a figure: [the drawing,] the image received, probabilities per row, answer.

    Args:
        reading: from :func:`~rnn_helpers.widget.read_drawing` or :func:`~rnn_helpers.widget.read_image`.
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
    _image_panel(axes["image"], reading, row)
    _map_panel(axes["map"], reading, row, names)
    _bars_panel(axes["bars"], reading, row, names)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _image_panel(ax: Any, reading: Reading, row: int) -> None:
    """The image received, the rows not read yet faded, the row being read boxed in red."""
    from matplotlib.patches import Rectangle

    timesteps = reading.image.shape[0]
    shown = reading.image.copy()
    shown[row:] *= 0.25
    ax.imshow(shown, cmap="binary", vmin=0, vmax=1)
    ax.add_patch(Rectangle((-0.5, row - 1.5), shown.shape[1], 1, fill=False, edgecolor="tab:red", lw=1.5))
    ax.set_title(f"what the network receives: row {row} of {timesteps}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([0, timesteps - 1], ["row 1", f"row {timesteps}"], fontsize=7)


def _map_panel(ax: Any, reading: Reading, row: int, names: list[str]) -> None:
    """The class probabilities after each row, a red line after the row being read."""
    timesteps, n_classes = reading.probabilities.shape
    ax.imshow(reading.probabilities.T, aspect="auto", cmap="viridis", vmin=0, vmax=1,
              extent=(0.5, timesteps + 0.5, n_classes - 0.5, -0.5))  # fmt: skip
    ax.axvline(row + 0.5, color="tab:red", lw=1)
    ax.set_yticks(range(n_classes), names, fontsize=7)
    ax.set_xlabel("rows read")
    ax.set_title("class probabilities after each row", fontsize=9)


def _bars_panel(ax: Any, reading: Reading, row: int, names: list[str]) -> None:
    """The probabilities after the row being read, the answer in red."""
    n_classes = reading.probabilities.shape[1]
    after = reading.probabilities[row - 1]
    best = int(after.argmax())
    ax.barh(range(n_classes), after, color=["tab:red" if c == best else "tab:blue" for c in range(n_classes)])
    ax.set_yticks(range(n_classes), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(f"after row {row}: {names[best]} ({after[best]:.0%})", fontsize=9)
