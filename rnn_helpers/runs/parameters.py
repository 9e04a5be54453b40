"""Every notebook parameter, declared once: name, default, allowed values, one line of help.

The notebooks' ``parameters`` cells, their checks, the parameter table in
``docs/parameters.md`` and the sweeps' notion of "the defaults" all come from
:data:`PARAMETERS` (``tests/test_parameters.py`` keeps the cells in step with it).

A notebook checks its parameters through :func:`rnn_helpers.runs.start_run`, right after
its ``parameters`` cell, which calls :func:`check_notebook_parameters`.

papermill hands values over as Python literals (``-p epochs 3``) or strings, so a typo
ends up here: every bad value gets a :class:`ParameterError` that names it and says what
is allowed, and so does a parameter name the notebook does not know (``-p epoch 3``).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from ..data.datasets import DATASETS

#: The largest hidden state allowed: 4,096 units already mean 16.8 million recurrent weights.
MAX_HIDDEN_UNITS = 4096


class ParameterError(ValueError):
    """A notebook parameter has a value that cannot work, or a name no notebook knows."""


def _none_like(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))


def _finite_number(value: Any) -> bool:
    """True for an int or float that is finite (``True`` / ``False`` do not count)."""
    return not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, Integral)


# --- checks: each takes (name, value) and returns the cleaned value or raises ParameterError ---


def positive_number(hint: str) -> Callable[[str, Any], float]:
    def check(name: str, value: Any) -> float:
        if not _finite_number(value) or value <= 0:
            raise ParameterError(f"{name} = {value!r}: it must be a number > 0 ({hint}).")
        return float(value)

    return check


def whole_number(low: int, high: int | None = None, hint: str = "") -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if not _whole(value) or value < low or (high is not None and value > high):
            allowed = f"from {low} to {high}" if high is not None else f">= {low}"
            raise ParameterError(f"{name} = {value!r}: it must be a whole number {allowed}{hint}.")
        return int(value)

    return check


def hidden_units(name: str, value: Any) -> int:
    units = whole_number(1)(name, value)
    if units > MAX_HIDDEN_UNITS:
        gigabytes = 16 * units * units / 1e9  # W_h, its gradient and Adam's two moments, float32
        raise ParameterError(
            f"{name} = {units}: at most {MAX_HIDDEN_UNITS}. The recurrent matrix alone would hold "
            f"{units * units:,} weights (about {gigabytes:,.0f} GB to train with Adam); "
            "the original used 128."
        )
    return units


def choice(allowed: Callable[[], Sequence[str]], hint: Callable[[], str] | None = None):
    """One of ``allowed()`` (case and ``-``/``_`` do not matter); ``allowed`` is looked up
    when checking, from the module that implements the choices."""

    def check(name: str, value: Any) -> str:
        names = list(allowed())
        key = str(value).strip().lower().replace("-", "_")
        if key not in names:
            listed = hint() if hint else "choose one of " + ", ".join(map(repr, names))
            raise ParameterError(f"{name} = {value!r}: unknown; {listed}.")
        return key

    return check


def optional(check: Callable[[str, Any], Any], meaning: str) -> Callable[[str, Any], Any]:
    """``None`` (or the text "None") for ``meaning``, else whatever ``check`` accepts."""

    def wrapped(name: str, value: Any) -> Any:
        if _none_like(value):
            return None
        try:
            return check(name, value)
        except ParameterError as error:
            raise ParameterError(f"{str(error).rstrip('.')}; or None ({meaning}).") from None

    return wrapped


def fraction(low_inclusive: bool, hint: str) -> Callable[[str, Any], float]:
    """A number in [0, 1) or (0, 1)."""

    def check(name: str, value: Any) -> float:
        ok = _finite_number(value) and (0 <= value if low_inclusive else 0 < value) and value < 1
        if not ok:
            bounds = ">= 0 and < 1" if low_inclusive else "strictly between 0 and 1"
            raise ParameterError(f"{name} = {value!r}: it must be a number {bounds} ({hint}).")
        return float(value)

    return check


def non_negative_number(hint: str) -> Callable[[str, Any], float]:
    def check(name: str, value: Any) -> float:
        if not _finite_number(value) or value < 0:
            raise ParameterError(f"{name} = {value!r}: it must be a number >= 0 ({hint}).")
        return float(value)

    return check


def bounded_number(low: float, high: float, hint: str) -> Callable[[str, Any], float]:
    def check(name: str, value: Any) -> float:
        if not _finite_number(value) or not low <= value <= high:
            raise ParameterError(f"{name} = {value!r}: it must be a number from {low} to {high} ({hint}).")
        return float(value)

    return check


def flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ParameterError(f"{name} = {value!r}: it must be True or False.")


def folder(name: str, value: Any) -> str | None:
    if _none_like(value):
        return None
    if not isinstance(value, str):
        raise ParameterError(f"{name} = {value!r}: it must be a folder path (text) or None.")
    return value


#: The cells of ``rnn_helpers.model.CELLS``, its ``RECURRENT_INITIALIZERS`` and the schedules of
#: ``rnn_helpers.training.SCHEDULES``, named here so that checking parameters does not start
#: TensorFlow (a test keeps them equal).
CELL_NAMES = ("rnn", "lstm", "gru")
RECURRENT_INIT_NAMES = ("orthogonal", "identity")
SCHEDULE_NAMES = ("constant", "cosine")


def _cells() -> list[str]:
    return list(CELL_NAMES)


def _schedules() -> list[str]:
    return list(SCHEDULE_NAMES)


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter.

    Attributes:
        name: the variable name in the notebooks' ``parameters`` cells.
        default: its value there (notebook 01's; a notebook may override it, see
            :data:`NOTEBOOKS`).
        allowed: the allowed values, in words (for the docs).
        help: one line: what it does.
        check: ``check(name, value)`` returns the cleaned value or raises ParameterError.
    """

    name: str
    default: Any
    allowed: str
    help: str
    check: Callable[[str, Any], Any]


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter(
            "learning_rate",
            0.001,
            "number > 0",
            "Adam's initial learning rate",
            positive_number("the original used 0.001"),
        ),
        Parameter("epochs", 10, "whole number >= 1", "passes over the training set", whole_number(1)),
        Parameter("batch_size", 100, "whole number >= 1", "examples per training step", whole_number(1)),
        Parameter(
            "display_freq",
            100,
            "whole number >= 1",
            "print the batch loss and accuracy every display_freq iterations",
            whole_number(1),
        ),
        Parameter(
            "num_hidden_units",
            128,
            f"whole number from 1 to {MAX_HIDDEN_UNITS}",
            "size of the RNN's hidden state",
            hidden_units,
        ),
        Parameter(
            "cell",
            "rnn",
            "'rnn', 'lstm', 'gru'",
            "'rnn': the vanilla RNN of this tutorial; 'lstm' or 'gru' for a gated cell instead",
            choice(_cells, lambda: "use 'rnn' (the vanilla RNN), " + ", ".join(map(repr, _cells()[1:]))),
        ),
        Parameter(
            "fast",
            False,
            "True, False",
            "True: train with the hand-written fast step of rnn_helpers.fast (same mathematics, faster); "
            "False: notebook 01's train_step",
            flag,
        ),
        Parameter(
            "lr_schedule",
            "cosine",
            "'constant', 'cosine'",
            "'constant' (the original), or 'cosine': the rate falls from learning_rate to 0 over the run",
            choice(_schedules, lambda: "use 'constant' (the original) or 'cosine'"),
        ),
        Parameter(
            "clip_norm",
            1.0,
            "number > 0, or None",
            "rescale any gradient whose norm exceeds this; None: no clipping",
            optional(positive_number("1.0 is usual"), "no clipping"),
        ),
        Parameter(
            "augment_shift",
            0,
            "whole number from 0 to 13",
            "move each training image by up to this many pixels, anew each epoch; 0: off",
            whole_number(0, 13, " (pixels; 0 switches it off, 1 or 2 is typical)"),
        ),
        Parameter(
            "weight_decay",
            0.0,
            "number >= 0",
            "> 0: AdamW's decoupled weight decay; 0: plain Adam",
            non_negative_number("0 switches it off; 1e-4 is a small value"),
        ),
        Parameter(
            "ema_momentum",
            None,
            "number strictly between 0 and 1, or None",
            "e.g. 0.999: evaluate and keep a moving average of the weights; None: off",
            optional(fraction(False, "such as 0.999"), "no weight averaging"),
        ),
        Parameter(
            "label_smoothing",
            0.0,
            "number >= 0 and < 1",
            "e.g. 0.1: train towards 0.91 for the true class and 0.01 for the others",
            fraction(True, "0 switches it off; 0.1 is usual"),
        ),
        Parameter(
            "augment_rotation",
            0.0,
            "number from 0 to 45",
            "rotate each training image by up to this many degrees, anew each epoch; 0: off",
            bounded_number(0, 45, "degrees; 0 switches it off, 10 is small"),
        ),
        Parameter(
            "augment_scale",
            0.0,
            "number >= 0 and < 1",
            "rescale each training image by up to this fraction (0.1: 90% to 110%), anew each epoch; 0: off",
            fraction(True, "0 switches it off; 0.1 is small"),
        ),
        Parameter(
            "warmup_epochs",
            0.0,
            "number >= 0 and below epochs",
            "raise the learning rate linearly from 0 over this many epochs first; 0: no warm-up",
            non_negative_number("0 switches it off; 1 is usual"),
        ),
        Parameter(
            "recurrent_init",
            "orthogonal",
            "'orthogonal', 'identity'",
            "how the recurrent matrix W_h starts: Keras's orthogonal default, or the identity (IRNN)",
            choice(lambda: list(RECURRENT_INIT_NAMES)),
        ),
        Parameter(
            "normalize_inputs",
            False,
            "True, False",
            "True: centre the pixels on 0 with unit spread (the training images' mean and std)",
            flag,
        ),
        Parameter(
            "seed",
            42,
            "whole number >= 0",
            "same seed on the same machine -> same weights, same batches, same results",
            whole_number(0),
        ),
        Parameter(
            "dataset",
            "mnist",
            ", ".join(map(repr, DATASETS)),
            "the dataset to learn",
            choice(lambda: list(DATASETS)),
        ),
        Parameter(
            "data_dir",
            None,
            "folder path, or None",
            "folder with the data files; None looks in the standard places (see docs/data.md)",
            folder,
        ),
        Parameter(
            "output_dir",
            None,
            "folder path, or None",
            "where the run's results go; None: output/<notebook name> in the project",
            folder,
        ),
        Parameter(
            "n_train",
            None,
            "whole number >= batch_size, or None",
            "train on the first n_train training examples for a quick run; None: all 55,000",
            optional(whole_number(1), "all of them"),
        ),
        Parameter(
            "model_dir",
            None,
            "folder path, or None",
            "folder of a notebook-01 run to reload model.keras from; None: train here",
            folder,
        ),
        Parameter(
            "rows_shown",
            10,
            "whole number from 1 to 550",
            "training steps shown side by side (notebook 04)",
            whole_number(1, 550),
        ),
        Parameter(
            "results_dir",
            None,
            "folder path, or None",
            "the sweeps' results to show; None: sweeps/results in this project",
            folder,
        ),
    )
}

#: Notebook 01's parameters: the original's five, the seed, the two training additions it
#: explains, and what a run needs.
LESSON = [
    "learning_rate", "epochs", "batch_size", "display_freq", "num_hidden_units", "seed",
    "lr_schedule", "clip_norm", "dataset", "data_dir", "output_dir", "n_train",
]  # fmt: skip

#: What the experiment notebook adds to them: the levers the sweeps turn.
EXPERIMENT_LEVERS = [
    "cell", "fast", "augment_shift", "augment_rotation", "augment_scale", "weight_decay", "ema_momentum",
    "label_smoothing", "warmup_epochs", "recurrent_init", "normalize_inputs",
]  # fmt: skip

#: The parameters each notebook takes, and the defaults where it differs from notebook 01.
NOTEBOOKS: dict[str, dict[str, Any]] = {
    "01_vanilla_rnn_mnist": {"names": LESSON, "defaults": {}},
    "02_inside_the_rnn": {"names": [*LESSON, "model_dir"], "defaults": {}},
    "03_cells_and_tuning": {
        "names": [
            "epochs",
            "learning_rate",
            "batch_size",
            "num_hidden_units",
            "seed",
            "dataset",
            "data_dir",
            "output_dir",
            "n_train",
            "results_dir",
        ],  # fmt: skip
        "defaults": {"epochs": 2},
    },
    "04_from_tf1_to_tf2": {
        "names": [
            "learning_rate",
            "batch_size",
            "num_hidden_units",
            "seed",
            "dataset",
            "data_dir",
            "n_train",
            "rows_shown",
        ],  # fmt: skip
        "defaults": {},
    },
    "05_draw_a_digit": {
        "names": ["model_dir", "epochs", "seed", "data_dir"],
        "defaults": {"model_dir": "../output/01_vanilla_rnn_mnist", "epochs": 3},
    },
    "06_backprop_through_time": {
        "names": [
            "epochs",
            "batch_size",
            "num_hidden_units",
            "seed",
            "dataset",
            "data_dir",
            "output_dir",
            "n_train",
        ],  # fmt: skip
        "defaults": {"epochs": 2},
    },
    "experiment": {"names": [*LESSON, *EXPERIMENT_LEVERS], "defaults": {}},
}

#: Parameters that only shape the training of a new model: with a ``model_dir`` to reload
#: one from, they cannot take effect.
TRAINING_ONLY = ("learning_rate", "epochs", "batch_size", "display_freq", "num_hidden_units",
                 "lr_schedule", "clip_norm", "n_train")  # fmt: skip


def _notebook(notebook: str) -> dict[str, Any]:
    if notebook not in NOTEBOOKS:
        raise ValueError(
            f"No parameters are declared for notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}."
        )
    return NOTEBOOKS[notebook]


def declared_defaults(notebook: str) -> dict[str, Any]:
    """The parameters ``notebook`` takes with their declared default values, in its order."""
    entry = _notebook(notebook)
    return {name: entry["defaults"].get(name, PARAMETERS[name].default) for name in entry["names"]}


#: Notebook 01's parameters and defaults.
DEFAULTS: dict[str, Any] = declared_defaults("01_vanilla_rnn_mnist")


#: How many of the training file's first images form the validation set (as in the original).
VALIDATION_SIZE = 5000


def check_parameters(**params: Any) -> dict[str, Any]:
    """Check the given parameters; return them cleaned (e.g. ``"None"`` becomes ``None``,
    ``1`` for a learning rate becomes ``1.0``).

    Each value is checked by its :class:`Parameter`; ``n_train`` must also be at least
    ``batch_size`` and at most the training images the dataset has.

    Raises:
        ParameterError: the first bad value (in the order given) with what is allowed, or
            a name that is not a parameter, with the known names.
    """
    unknown = [name for name in params if name not in PARAMETERS]
    if unknown:
        raise ParameterError(
            f"Unknown parameter(s): {', '.join(unknown)}. Known parameters: {', '.join(PARAMETERS)}."
        )
    out = {name: PARAMETERS[name].check(name, value) for name, value in params.items()}
    n_train, batch_size = out.get("n_train"), out.get("batch_size")
    if n_train is not None and batch_size is not None and n_train < batch_size:
        raise ParameterError(
            f"n_train = {n_train} is smaller than batch_size = {batch_size}: "
            "an epoch would have no full batch. Use a larger n_train or a smaller batch_size."
        )
    available = DATASETS[out.get("dataset", "mnist")].n_images[0] - VALIDATION_SIZE
    if batch_size is not None and batch_size > (n_train or available):
        raise ParameterError(
            f"batch_size = {batch_size} is larger than the training set ({n_train or available} examples): "
            f"use a batch_size of at most {n_train or available}."
        )
    warmup, epochs = out.get("warmup_epochs"), out.get("epochs")
    if warmup and epochs is not None and warmup >= epochs:
        raise ParameterError(
            f"warmup_epochs = {warmup:g} is not below epochs = {epochs}: the warm-up must leave epochs "
            "to train at the full rate."
        )
    if n_train is not None and n_train > available:
        raise ParameterError(
            f"n_train = {n_train}: the training set has only {available:,} images (the first "
            f"{VALIDATION_SIZE:,} of the file are the validation set). Use at most {available}, "
            "or None for all of them."
        )
    return out


def parse_assignments(source: str) -> dict[str, Any]:
    """The names a cell of plain assignments binds, with their values: ``{"epochs": 10, ...}``.

    A value that is not a plain literal is kept as its source text. This is the one parser of
    a parameters cell: of the notebooks' own, of papermill's injected one, and of the
    notebooks a sweep runs.

    Raises:
        SyntaxError: the cell is not Python.
    """
    values: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                values[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                values[target.id] = ast.unparse(value)
    return values


def parameters_cell(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """The values the cell tagged ``parameters`` of a notebook (its JSON, a dict) assigns.

    A cell that is not plain Python is kept whole, under ``"(parameters cell)"``, so that any
    change to it still counts as a change; ``{}`` when the notebook has no such cell.
    """
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        try:
            return parse_assignments(source)
        except SyntaxError:
            return {"(parameters cell)": source}
    return {}


def injected_names(namespace: Mapping[str, Any]) -> list[str]:
    """The names papermill assigned in its injected ``# Parameters`` cell, if this kernel ran
    one (found in IPython's input history ``In``); ``[]`` otherwise (e.g. in JupyterLab)."""
    history = namespace.get("In")
    if not isinstance(history, list):
        return []
    for source in reversed(history):
        if isinstance(source, str) and source.lstrip().startswith("# Parameters"):
            try:
                return list(parse_assignments(source))
            except SyntaxError:
                return []
    return []


def check_notebook_parameters(namespace: Mapping[str, Any], notebook: str) -> dict[str, Any]:
    """Check every parameter of ``notebook`` as it stands in ``namespace`` (the notebook's
    ``globals()``); return ``name -> checked value`` in the declared order.

    Raises:
        ParameterError: a bad value; a parameter missing from the namespace; a name passed
            to the run (``papermill -p NAME ...``) that ``notebook`` does not take, listing
            the names it does take; or one that cannot take effect beside another
            (training parameters beside a ``model_dir`` to reload a model from).
    """
    names = _notebook(notebook)["names"]
    given = injected_names(namespace)
    unknown = [name for name in given if name not in names]
    if unknown:
        levers = [name for name in unknown if name in EXPERIMENT_LEVERS]
        where = (
            f" {', '.join(levers)}: {'levers' if len(levers) > 1 else 'a lever'} of the experiment notebook, "
            "which trains with notebook 01's loop: papermill sweeps/experiment.ipynb OUT.ipynb --cwd sweeps "
            "-p NAME VALUE (docs/running.md)."
            if levers and notebook != "experiment"
            else ""
        )
        raise ParameterError(
            f"Unknown parameter(s) for {notebook}: {', '.join(unknown)}. "
            f"This notebook takes: {', '.join(names)}.{where}"
        )
    missing = [name for name in names if name not in namespace]
    if missing:
        raise ParameterError(
            f"The parameters cell does not define {', '.join(missing)}: run it first (it is the cell "
            "tagged 'parameters' at the top)."
        )
    checked = check_parameters(**{name: namespace[name] for name in names})
    ignored = [name for name in given if name in TRAINING_ONLY and name in names]
    if checked.get("model_dir") is not None and ignored:
        raise ParameterError(
            f"{', '.join(ignored)}: these train a new model, but model_dir = {checked['model_dir']!r} "
            "reloads a trained one, so they would have no effect. Drop them, or set model_dir None "
            "to train here."
        )
    return checked


def check_batch_size(batch_size: int, n_train: int) -> None:
    """Raise :class:`ParameterError` when ``batch_size`` exceeds the training examples available."""
    if batch_size > n_train:
        raise ParameterError(
            f"batch_size = {batch_size} is larger than the training set ({n_train} examples): "
            f"use a batch_size of at most {n_train}."
        )


def parameters_table(notebook: str | None = None) -> str:
    """The parameters (of one notebook, or all) as a Markdown table: name, default, allowed, help."""
    names = _notebook(notebook)["names"] if notebook else list(PARAMETERS)
    defaults = declared_defaults(notebook) if notebook else {n: PARAMETERS[n].default for n in names}
    lines = ["| parameter | default | allowed | what it does |", "| --- | --- | --- | --- |"]
    for name in names:
        p = PARAMETERS[name]
        lines.append(f"| `{name}` | `{defaults[name]!r}` | {p.allowed} | {p.help} |")
    return "\n".join(lines)


def parameters_page() -> str:
    """``docs/parameters.md``: every notebook's parameters as Markdown tables."""
    parts = [
        "# Notebook parameters",
        "",
        "Every parameter of the notebooks is declared once, in `rnn_helpers/runs/parameters.py`: the "
        "notebooks' checks and these tables come from there, and a test keeps each notebook's "
        "`parameters` cell in step with it. Set them in the `parameters` cell in JupyterLab, or "
        "with `-p NAME VALUE` on papermill's command line. A value that is not allowed, or a name "
        "the notebook does not take, stops the run before anything is loaded or trained, with a "
        "message that says what is allowed.",
        "",
        "(This page is written by `python -m rnn_helpers.runs.parameters > docs/parameters.md`.)",
    ]
    for notebook in NOTEBOOKS:
        parts += ["", f"## {notebook}", "", parameters_table(notebook)]
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnn_helpers.runs.parameters``: print ``docs/parameters.md``."""
    print(parameters_page(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
