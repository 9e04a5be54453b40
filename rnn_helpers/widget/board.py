"""The drawing board: an `anywidget <https://anywidget.dev>`_ whose JavaScript and CSS are the
files ``static/digit_reader.js`` and ``static/digit_reader.css`` beside this module, sent to
the browser by the kernel. Nothing is fetched from the internet, so it works offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import keras
import numpy as np
import traitlets

from ..drawing import EmptyDrawingError, draw_strokes
from ..inside import rnn_weights
from .reading import Reading, read_drawing

STATIC = Path(__file__).parent / "static"


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
