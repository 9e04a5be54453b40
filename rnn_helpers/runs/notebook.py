"""A notebook's run in two calls: :func:`start_run` at the top, :meth:`Run.save` at the end.

::

    run = start_run(globals(), "01_vanilla_rnn_mnist")   # right after the parameters cell
    ...                                                   # load, build, train, test, plot
    run.save(figures, history=history, test=test, model=model)

``start_run`` checks the parameters (a bad value, or a name the notebook does not take,
stops here with a message that says what is allowed; from then on each parameter in the
notebook holds its checked value), opens and locks the output folder (it fails here, before
any training, if the results could not be written), starts TensorFlow without its start-up
chatter, and fixes the random seeds. Everything the run writes goes into ``run.path``, a
staging folder; ``run.save`` writes the figures and ``metrics.json`` there and swaps the
folder into place, all at once (:mod:`rnn_helpers.runs.folders`).

:func:`show_source` shows the code of a function the notebook imports, so that what the
page shows is what runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from .folders import RunFolder
from .parameters import check_notebook_parameters
from .records import display_path, save_figures, versions, write_json


class Run:
    """One notebook run: its checked parameters and its output folder.

    Attributes:
        notebook: the notebook's name (``"01_vanilla_rnn_mnist"``).
        params: the checked parameters, in the declared order.
        path: the staging folder to write into (None for a notebook without ``output_dir``).
        final: where the results end up (None likewise).
    """

    def __init__(self, notebook: str, params: dict[str, Any], folder: RunFolder | None):
        self.notebook, self.params, self._folder = notebook, params, folder

    @property
    def path(self) -> Path | None:
        return None if self._folder is None else self._folder.path

    @property
    def final(self) -> Path | None:
        return None if self._folder is None else self._folder.final

    @property
    def is_open(self) -> bool:
        return self._folder is not None and self._folder.is_open

    def discard(self) -> None:
        """Give the run up: its staging folder goes, the output folder is unchanged."""
        if self._folder is not None:
            self._folder.discard()

    def save(
        self,
        figures: Mapping[str, Any] | None = None,
        *,
        history: Any = None,
        model: Any = None,
        **results: Any,
    ) -> list[Path]:
        """Write the figures (``name -> Figure``, as ``name.png``) and ``metrics.json``, then put
        the results in place of the output folder's previous ones, all at once; print and
        return what was written.

        ``metrics.json`` holds the notebook's name, its checked parameters, ``results`` (e.g.
        ``test={"loss": ..., "accuracy": ...}``), with a ``history``
        (:class:`rnn_helpers.training.History`) its per-epoch curves, final values and training
        time, with a ``model`` its parameter count, and the library versions.
        """
        if self._folder is None:
            raise RuntimeError(f"{self.notebook} has no output folder to save into.")
        save_figures(figures or {}, self.path)
        metrics: dict[str, Any] = {"notebook": self.notebook, "parameters": self.params}
        if history is not None:
            curves = history.as_dict()
            metrics["final"] = {key: curves[key][-1] for key in
                                ("train_loss", "train_accuracy", "val_loss", "val_accuracy")}  # fmt: skip
            metrics["training_seconds"] = sum(curves["epoch_seconds"])
            metrics["history"] = curves
        if model is not None:
            metrics["parameter_count"] = int(model.count_params())
        metrics.update(results)
        metrics["versions"] = versions()
        write_json(self.path / "metrics.json", metrics)
        written = self._folder.commit()
        for path in written:
            print("wrote", display_path(path))
        return written


def start_run(namespace: MutableMapping[str, Any], notebook: str) -> Run:
    """Check the parameters, open the output folder, start TensorFlow quietly, fix the seeds.

    Args:
        namespace: the notebook's ``globals()``: the parameters are read from it, and each is
            replaced by its checked value (``"None"`` becomes ``None``, ``1`` for a learning
            rate ``1.0``). An earlier, unfinished run of the same notebook found there (the
            notebook run again in the same kernel) is given up first.
        notebook: the notebook's name, as declared in :mod:`rnn_helpers.runs.parameters`.

    Prints one line: TensorFlow's version and device, and where the results go.

    Raises:
        ParameterError: a bad parameter, named, with what is allowed.
        OutputDirError: the output folder cannot take the results (see
            :class:`rnn_helpers.runs.folders.RunFolder`).
    """
    for value in list(namespace.values()):
        if isinstance(value, Run) and value.notebook == notebook and value.is_open:
            value.discard()
    params = check_notebook_parameters(namespace, notebook)
    namespace.update(params)
    folder = RunFolder.open(params["output_dir"], notebook) if "output_dir" in params else None
    from .startup import start_tensorflow

    line = start_tensorflow()  # TensorFlow's first import: after the checks, which need none
    from ..training import set_seed

    if "seed" in params:
        set_seed(params["seed"])
    where = f"; results go to {display_path(folder.final)}" if folder is not None else ""
    print(f"{line}{where}")
    return Run(notebook, params, folder)


def show_source(*functions: Callable) -> Any:
    """The source code of ``functions``, for a notebook to show (an IPython Markdown object):
    the code that runs, read from the package itself."""
    from IPython.display import Markdown

    blocks = [inspect.getsource(function).rstrip() for function in functions]
    return Markdown("```python\n" + "\n\n\n".join(blocks) + "\n```")
