"""What the network makes of one image, row by row: a :class:`Reading`.

The image is prepared as MNIST's digits were (:func:`rnn_helpers.drawing.mnist_style`, for a
drawing) and read by the trained vanilla RNN; the class probabilities after each row come
from one NumPy pass over its weights (:func:`rnn_helpers.inside.stepwise_probabilities`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from ..drawing import mnist_style
from ..inside import stepwise_probabilities


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
