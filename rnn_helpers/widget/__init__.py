"""Draw a digit, watch the RNN read it (notebook 05): an interactive widget, and the same as a
static figure.

:class:`DigitReader` shows a canvas to draw on with the mouse (or a finger or pen). When a
stroke ends, the drawing is prepared as MNIST's digits were (:func:`rnn_helpers.drawing.mnist_style`),
and the trained vanilla RNN reads the 28×28 result row by row: the widget shows the image
the network receives, the row being read, the class probabilities after each row
(:func:`rnn_helpers.inside.stepwise_probabilities`, one NumPy pass) and the final answer.
A slider, or the play button, goes through the 28 rows.

The widget is an `anywidget <https://anywidget.dev>`_: its JavaScript and CSS are the files
``static/digit_reader.js`` and ``static/digit_reader.css`` of this subpackage, sent to the
browser by the kernel. Nothing is fetched from the internet, so it works offline.

:func:`plot_reading` draws the same panels as a Matplotlib figure, for places where
widgets do not run (a notebook viewed on the web, a PDF), and :func:`load_or_train_model`
returns notebook 01's saved model when there is one, else trains a quick one.
"""

from .board import DigitReader
from .figure import plot_reading
from .model import load_or_train_model
from .reading import Reading, read_drawing, read_image

__all__ = ["DigitReader", "Reading", "load_or_train_model", "plot_reading", "read_drawing", "read_image"]
