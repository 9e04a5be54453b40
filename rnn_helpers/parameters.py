"""Check a notebook's parameters before any data is loaded or any training starts.

papermill hands parameters over as Python literals (``-p epochs 3``) or strings, so a
typo ends up here; every bad value gets a message that names it and says what is allowed.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from .datasets import DATASETS

#: Parameters shared by the notebooks, in the order they are documented.
DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.001,
    "epochs": 10,
    "batch_size": 100,
    "display_freq": 100,
    "num_hidden_units": 128,
    "cell": "rnn",
    "lr_schedule": "cosine",
    "clip_norm": 1.0,
    "augment_shift": 0,
    "weight_decay": 0.0,
    "ema_momentum": None,
    "label_smoothing": 0.0,
    "seed": 42,
    "dataset": "mnist",
    "data_dir": None,
    "output_dir": None,
    "n_train": None,
}


class ParameterError(ValueError):
    """A notebook parameter has a value that cannot work."""


def _none_like(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))


def _finite_number(value: Any) -> bool:
    """True for an int or float that is finite (``True`` / ``False`` do not count)."""
    return not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(value)


def _positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    if allow_none and _none_like(value):
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        extra = " or None" if allow_none else ""
        raise ParameterError(f"{name} = {value!r}: it must be a whole number >= 1{extra}.")
    return int(value)


def check_parameters(**params: Any) -> dict[str, Any]:
    """Validate notebook parameters; return them cleaned (e.g. ``"None"`` becomes ``None``).

    Checks ``learning_rate`` (finite, > 0), ``epochs``, ``batch_size``, ``display_freq``,
    ``num_hidden_units`` (whole numbers >= 1), ``cell`` ("rnn", "lstm" or "gru"),
    ``lr_schedule`` ("constant" or "cosine"),
    ``clip_norm`` (None or a number > 0), ``augment_shift`` (whole number 0 to 13),
    ``weight_decay`` (a number >= 0), ``ema_momentum`` (None or strictly between 0 and 1),
    ``label_smoothing`` (a number >= 0 and < 1),
    ``seed`` (whole number >= 0), ``dataset`` (a known name), ``n_train`` (None or a whole
    number >= ``batch_size``), and that ``data_dir`` / ``output_dir`` / ``model_dir`` /
    ``results_dir`` are None or text. Unknown names are passed through.

    Raises:
        ParameterError: the first bad value, with what is allowed.
    """
    out = dict(params)
    if "learning_rate" in out:
        lr = out["learning_rate"]
        if not _finite_number(lr) or lr <= 0:
            raise ParameterError(
                f"learning_rate = {lr!r}: it must be a number > 0 (the original used 0.001)."
            )
        out["learning_rate"] = float(lr)
    for name in ("epochs", "batch_size", "display_freq", "num_hidden_units"):
        if name in out:
            out[name] = _positive_int(name, out[name])
    if "seed" in out:
        seed = out["seed"]
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise ParameterError(f"seed = {seed!r}: it must be a whole number >= 0.")
    if "cell" in out:
        cell = str(out["cell"]).strip().lower()
        if cell not in ("rnn", "lstm", "gru"):
            raise ParameterError(f"cell = {out['cell']!r}: use 'rnn' (the vanilla RNN), 'lstm' or 'gru'.")
        out["cell"] = cell
    if "lr_schedule" in out:
        schedule = str(out["lr_schedule"]).strip().lower()
        if schedule not in ("constant", "cosine"):
            raise ParameterError(
                f"lr_schedule = {out['lr_schedule']!r}: use 'constant' (the original) or 'cosine'."
            )
        out["lr_schedule"] = schedule
    if "clip_norm" in out:
        clip = out["clip_norm"]
        if _none_like(clip):
            out["clip_norm"] = None
        elif not _finite_number(clip) or clip <= 0:
            raise ParameterError(f"clip_norm = {clip!r}: it must be a number > 0, or None for no clipping.")
        else:
            out["clip_norm"] = float(clip)
    if "augment_shift" in out:
        shift = out["augment_shift"]
        if isinstance(shift, bool) or not isinstance(shift, Integral) or not 0 <= shift <= 13:
            raise ParameterError(
                f"augment_shift = {shift!r}: it must be a whole number of pixels from 0 (no augmentation) "
                "to 13; 1 or 2 is typical."
            )
        out["augment_shift"] = int(shift)
    if "weight_decay" in out:
        decay = out["weight_decay"]
        if not _finite_number(decay) or decay < 0:
            raise ParameterError(
                f"weight_decay = {decay!r}: it must be a number >= 0 "
                "(0 switches it off; 1e-4 is a small value)."
            )
        out["weight_decay"] = float(decay)
    if "ema_momentum" in out:
        momentum = out["ema_momentum"]
        if _none_like(momentum):
            out["ema_momentum"] = None
        elif not _finite_number(momentum) or not 0 < momentum < 1:
            raise ParameterError(
                f"ema_momentum = {momentum!r}: it must be None (no weight averaging) or a number "
                "strictly between 0 and 1, such as 0.999."
            )
        else:
            out["ema_momentum"] = float(momentum)
    if "label_smoothing" in out:
        smoothing = out["label_smoothing"]
        if not _finite_number(smoothing) or not 0 <= smoothing < 1:
            raise ParameterError(
                f"label_smoothing = {smoothing!r}: it must be a number >= 0 and < 1 "
                "(0 switches it off; 0.1 is usual)."
            )
        out["label_smoothing"] = float(smoothing)
    if "dataset" in out:
        name = str(out["dataset"]).strip().lower().replace("-", "_")
        if name not in DATASETS:
            known = ", ".join(repr(k) for k in DATASETS)
            raise ParameterError(f"dataset = {out['dataset']!r}: unknown; choose one of {known}.")
        out["dataset"] = name
    if "n_train" in out:
        out["n_train"] = _positive_int("n_train", out["n_train"], allow_none=True)
        if out["n_train"] is not None and "batch_size" in out and out["n_train"] < out["batch_size"]:
            raise ParameterError(
                f"n_train = {out['n_train']} is smaller than batch_size = {out['batch_size']}: "
                "an epoch would have no full batch. Use a larger n_train or a smaller batch_size."
            )
    for name in ("data_dir", "output_dir", "model_dir", "results_dir"):
        if name in out:
            value = out[name]
            if _none_like(value):
                out[name] = None
            elif not isinstance(value, str):
                raise ParameterError(f"{name} = {value!r}: it must be a folder path (text) or None.")
    return out


def check_batch_size(batch_size: int, n_train: int) -> None:
    """Raise :class:`ParameterError` when ``batch_size`` exceeds the training examples available."""
    if batch_size > n_train:
        raise ParameterError(
            f"batch_size = {batch_size} is larger than the training set ({n_train} examples): "
            f"use a batch_size of at most {n_train}."
        )
