"""Running the notebooks: parameters, output folders, records, sweeps, Dask.

Built on the tutorial's modules (which never import this); standard library only at import
time, so that the sweep's own process never starts TensorFlow.

* :mod:`~rnn_helpers.runs.notebook`: a notebook's run in two calls, :func:`start_run` and
  ``run.save(...)``, and :func:`show_source`;
* :mod:`~rnn_helpers.runs.parameters`: every notebook parameter, declared once, its check,
  and the one parser of a ``parameters`` cell;
* :mod:`~rnn_helpers.runs.folders`: output folders written all at once (stage, then swap),
  locked, and never holding anything a run did not write;
* :mod:`~rnn_helpers.runs.records`: ``metrics.json``, figures, versions, tables;
* :mod:`~rnn_helpers.runs.startup`: TensorFlow started without its log noise, threads;
* :mod:`~rnn_helpers.runs.execute`: one run of a notebook in a temporary folder, what a
  sweep runs in its own process or on a Dask worker;
* :mod:`~rnn_helpers.runs.sweep` (``python -m rnn_helpers.runs.sweep``): a notebook over a
  grid of parameters; :mod:`~rnn_helpers.runs.cluster`: the same on a Dask cluster;
* :mod:`~rnn_helpers.runs.hparams`: a sweep's parameters and results for TensorBoard.
"""

__all__ = ["Run", "show_source", "start_run"]


def __getattr__(name: str):
    # imported when first used, so that ``python -m rnn_helpers.runs.<module>`` runs a module
    # that is not already imported
    if name in __all__:
        from . import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'rnn_helpers.runs' has no attribute {name!r}")
