"""The hand-written training steps: backpropagation through time written out by hand, for
speed. TensorFlow only; nothing here imports the rest of the package.

Notebook 01 trains with the plain ``tf.GradientTape`` step it shows; this is the faster
path of the same mathematics that :func:`rnn_helpers.training.train` takes with
``fast=True`` (the sweeps' experiments) and that ``benchmarks/train_speed.py`` measures.
Notebook 06 derives the vanilla RNN's version from the equations and checks it.

* :mod:`~rnn_helpers.fast.rnn`: the vanilla RNN's forward and backward pass;
* :mod:`~rnn_helpers.fast.gated`: the same for Keras's LSTM and GRU;
* :mod:`~rnn_helpers.fast.common`: pieces all three share (the output layer, layouts);
* :mod:`~rnn_helpers.fast.step`: a batch split in independent parts, and the training step.
"""

from .step import PART_FORWARD_BACKWARD, forward_backward, gradients, make_train_step

CELLS = tuple(PART_FORWARD_BACKWARD)

__all__ = ["CELLS", "forward_backward", "gradients", "make_train_step"]
