"""The results tables of the README, ``docs/cells_and_tuning.md`` and notebook 03, made from the
committed sweep results (``sweeps/results/*/results.json``), so that every number has one source.

``python -m rnn_helpers.runs.report`` prints each table between the markers the pages hold;
``tests/test_results_tables.py`` fails when a page's table differs from what the results
give, so a re-run that changes a number fails until the pages follow.

Runs are told apart by their parameters: :func:`configuration` is a run's parameters
without its seed, and :func:`over_seeds` gathers the runs of one configuration made with
different seeds.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .parameters import declared_defaults
from .records import markdown_table, project_root
from .sweep import load_results

#: Keys of a sweep's row that are not parameters.
RESULT_KEYS = {"run", "status", "test_accuracy", "val_accuracy", "parameter_count", "seconds_per_epoch",
               "error", "history"}  # fmt: skip


def results_root(folder: str | Path | None = None) -> Path:
    """``folder``, or ``sweeps/results`` of the project when it is None."""
    return Path(folder) if folder is not None else (project_root() or Path.cwd()) / "sweeps" / "results"


def configuration(run: Mapping[str, Any], ignore: Iterable[str] = ("seed",)) -> tuple:
    """A run's parameters without ``ignore`` (the seed), as a hashable, ordered key."""
    defaults = declared_defaults("experiment")
    values = {**defaults, **{k: v for k, v in run.items() if k not in RESULT_KEYS}}
    return tuple((k, values[k]) for k in sorted(values) if k not in ignore and k != "output_dir")


def changes(run: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> str:
    """What a run changes from ``base`` (default: the experiment notebook's defaults, which are
    notebook 01's), e.g. ``"epochs=30, augment_shift=1"``; ``"none"`` when nothing."""
    base = {**declared_defaults("experiment"), **(base or {})}
    shown = [f"{key}={run[key]}" for key in base if key in run and key != "seed" and run[key] != base[key]]
    return ", ".join(shown) or "none"


def over_seeds(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The finished runs grouped by configuration, in order of first appearance: for each,
    the seeds, the mean, lowest and highest validation and test accuracy."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for run in runs:
        if run.get("status") != "failed":
            groups.setdefault(configuration(run), []).append(run)
    summary = []
    for members in groups.values():
        row: dict[str, Any] = {"runs": members, "seeds": [m.get("seed", 42) for m in members]}
        for key in ("val_accuracy", "test_accuracy"):
            values = [m[key] for m in members]
            row[key] = statistics.mean(values)
            row[f"{key}_min"], row[f"{key}_max"] = min(values), max(values)
        summary.append(row)
    return summary


def percent(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def spread(group: Mapping[str, Any], key: str) -> str:
    """``98.71% (98.60–98.83%)`` over the seeds, or the one value."""
    if len(group["seeds"]) == 1:
        return percent(group[key])
    return f"{percent(group[key])} ({percent(group[f'{key}_min'])}–{percent(group[f'{key}_max'])})"


def find(runs: Sequence[Mapping[str, Any]], **parameters: Any) -> Mapping[str, Any]:
    """The one finished run with exactly these parameters (besides the defaults)."""
    wanted = configuration({**parameters}, ignore=())
    found = [r for r in runs if r.get("status") != "failed" and configuration(r, ignore=()) == wanted]
    if len(found) != 1:
        raise LookupError(
            f"{len(found)} runs with {parameters}: the sweep's results are not the expected ones"
        )
    return found[0]


#: name -> function(results folder) -> the table as Markdown; :func:`table` registers one.
TABLES: dict[str, Callable[[Path], str]] = {}


def table(name: str) -> Callable:
    """Register a table under ``name`` (what ``python -m rnn_helpers.runs.report NAME`` prints)."""

    def register(function: Callable[[Path], str]) -> Callable[[Path], str]:
        TABLES[name] = function
        return function

    return register


#: The stage-2 configuration every stage-3 lever starts from (sweeps/tuning.yaml).
BASE = {"fast": True, "epochs": 30, "learning_rate": 0.0015, "augment_shift": 1}
#: The runs of stages 1 and 2, in their order (sweeps/tuning.yaml).
STAGES_1_2 = (
    {"lr_schedule": "constant", "clip_norm": None}, {}, {"fast": True}, {"fast": True, "epochs": 30},
    {"fast": True, "epochs": 30, "learning_rate": 0.0015}, BASE,
)  # fmt: skip
#: The cell of each label, as notebook 03 names them.
CELL_NAMES = {"rnn": "vanilla RNN", "gru": "GRU", "lstm": "LSTM"}


def parameters_of(run: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a sweep set for a run (its row without the results)."""
    return {k: v for k, v in run.items() if k not in RESULT_KEYS}


def differences(run: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    """The parameters (seed aside) whose value in ``run`` differs from ``base``'s, both
    completed with the experiment notebook's defaults."""
    defaults = declared_defaults("experiment")
    ours, theirs = {**defaults, **parameters_of(run)}, {**defaults, **base}
    return [key for key in defaults if key != "seed" and ours[key] != theirs[key]]


def is_base_lever(run: Mapping[str, Any]) -> bool:
    """A seed-42 run that changes exactly one thing from :data:`BASE` (stage 3)."""
    return (
        run.get("seed", 42) == 42 and len(differences(run, BASE)) == 1 and run.get("epochs") == BASE["epochs"]
    )


def cells_rows(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The cells sweep's MNIST runs, one row per cell: name, weights, s/epoch, accuracies."""
    return [{**run, "cell": CELL_NAMES[run["cell"]]} for run in cells
            if run.get("dataset", "mnist") == "mnist" and run.get("status") != "failed"]  # fmt: skip


def stage_rows(tuning: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The runs of stages 1 and 2, in order."""
    return [find(tuning, **parameters) for parameters in STAGES_1_2]


def base_over_seeds(tuning: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """:data:`BASE` over its seeds (stage 3's first rows)."""
    key = configuration(BASE)
    return next(group for group in over_seeds(tuning) if configuration(group["runs"][0]) == key)


def lever_rows(tuning: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stage 3: one row per lever (seed 42), best validation first, with its difference from
    the base's seed-42 validation accuracy."""
    base = find(tuning, **BASE)
    rows = []
    for run in tuning:
        if run.get("status") != "failed" and is_base_lever(run):
            difference = run["val_accuracy"] - base["val_accuracy"]
            rows.append({**run, "lever": changes(parameters_of(run), BASE), "difference": difference})
    return sorted(rows, key=lambda row: -row["val_accuracy"])


def signed_points(value: float) -> str:
    return f"{value * 100:+.2f}"


@table("cells")
def cells_table(root: Path) -> str:
    """Notebook 03's section 3 and docs/cells_and_tuning.md: the three cells, 10 epochs."""
    columns = {"cell": "cell", "parameter_count": "weights", "seconds_per_epoch": "s / epoch",
               "val_accuracy": "validation", "test_accuracy": "test"}  # fmt: skip
    return markdown_table(cells_rows(load_results(root / "cells")), columns)


@table("stages")
def stages_table(root: Path) -> str:
    """Stages 1 and 2 of the tuning sweep: from the original's training to the stage-3 base."""
    tuning = load_results(root / "tuning")
    rows = [{**run, "training": changes(parameters_of(run))} for run in stage_rows(tuning)]
    columns = {"training": "changes from notebook 01's training", "seconds_per_epoch": "s / epoch",
               "val_accuracy": "validation", "test_accuracy": "test"}  # fmt: skip
    return markdown_table(rows, columns)


@table("levers")
def levers_table(root: Path) -> str:
    """Stage 3: one lever at a time from the base, with the base's spread over seeds first."""
    tuning = load_results(root / "tuning")
    base = base_over_seeds(tuning)
    seeds = ", ".join(map(str, base["seeds"]))
    rows = [{"lever": f"none: the base, over seeds {seeds}", "validation": spread(base, "val_accuracy"),
             "test": spread(base, "test_accuracy"), "difference": "–"}]  # fmt: skip
    for row in lever_rows(tuning):
        difference = signed_points(row["difference"])
        rows.append({"lever": row["lever"], "validation": percent(row["val_accuracy"]),
                     "test": percent(row["test_accuracy"]), "difference": difference})  # fmt: skip
    columns = {"lever": "one change from the base (seed 42)", "validation": "validation",
               "difference": "validation − the base's, seed 42 (points)", "test": "test"}  # fmt: skip
    return markdown_table(rows, columns)


def final_group(tuning: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stage 5: the configuration trained longest with the most seeds, over its seeds."""
    return max(over_seeds(tuning), key=lambda g: (len(g["seeds"]), g["runs"][0].get("epochs", 10)))


def longer_rows(tuning: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stage 4: the seed-42 runs longer than the base's 30 epochs, shortest first."""
    longer = [run for run in tuning if run.get("status") != "failed" and run.get("seed", 42) == 42
              and run.get("epochs", 10) > BASE["epochs"]]  # fmt: skip
    rows = [{**run, "training": changes(parameters_of(run), BASE)} for run in longer]
    return sorted(rows, key=lambda row: row["epochs"])


@table("longer")
def longer_table(root: Path) -> str:
    """Stage 4: the levers that helped, trained longer (seed 42)."""
    columns = {"training": "changes from the base (seed 42)", "seconds_per_epoch": "s / epoch",
               "val_accuracy": "validation", "test_accuracy": "test"}  # fmt: skip
    return markdown_table(longer_rows(load_results(root / "tuning")), columns)


@table("seeds")
def seeds_table(root: Path) -> str:
    """Stage 5: the chosen configuration, seed by seed, and over all its seeds."""
    final = final_group(load_results(root / "tuning"))
    rows = [{"seed": run.get("seed", 42), **run} for run in final["runs"]]
    rows.append({"seed": "mean (lowest–highest)", "val_accuracy": spread(final, "val_accuracy"),
                 "test_accuracy": spread(final, "test_accuracy")})  # fmt: skip
    shown = lambda value: value if isinstance(value, str) else percent(value)  # noqa: E731
    rows = [{**row, "val": shown(row["val_accuracy"]), "test": shown(row["test_accuracy"])} for row in rows]
    return markdown_table(rows, {"seed": "seed", "val": "validation", "test": "test"})


@table("readme")
def readme_table(root: Path) -> str:
    """The README's results: the lesson's runs, the tuned RNN, the gated cells, Fashion-MNIST."""
    cells, tuning = load_results(root / "cells"), load_results(root / "tuning")
    final = final_group(tuning)
    recipe = changes(parameters_of(final["runs"][0]))
    test = lambda **parameters: percent(find(cells, **parameters)["test_accuracy"])  # noqa: E731
    seeds = ", ".join(map(str, final["seeds"]))
    rows = [
        ("the original tutorial (TF1), as published (1,000 test images)", "95.1%", "its page"),
        ("notebook 01 with the original's training (`-p lr_schedule constant -p clip_norm None`), seed 42",
         percent(find(tuning, lr_schedule="constant", clip_norm=None)["test_accuracy"]), "tuning sweep"),
        ("**notebook 01's defaults**: the same with a cosine learning-rate schedule and gradient clipping, "
         "seed 42", f"**{test(cell='rnn')}**", "notebook 01, cells sweep"),
        (f"the same vanilla RNN, tuned on validation ({recipe}), mean of seeds {seeds}",
         spread(final, "test_accuracy"), "tuning sweep"),
        ("GRU / LSTM instead of the vanilla cell, notebook 01's defaults, seed 42",
         f"{test(cell='gru')} / {test(cell='lstm')}", "cells sweep"),
        ("notebook 01's defaults on Fashion-MNIST, seed 42", test(cell="rnn", dataset="fashion_mnist"),
         "cells sweep"),
    ]  # fmt: skip
    columns = {"network": "network and training", "test": "test accuracy", "source": "from"}
    return markdown_table([dict(zip(columns, row, strict=True)) for row in rows], columns)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnn_helpers.runs.report [NAME ...]``: print the named tables (default: all)."""
    names = list(argv if argv is not None else sys.argv[1:]) or list(TABLES)
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        print(f"unknown table(s): {', '.join(unknown)}; known: {', '.join(TABLES)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"<!-- table {name}: python -m rnn_helpers.runs.report {name} -->")
        print(TABLES[name](results_root()))
        print(f"<!-- end of table {name} -->\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
