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
from .records import format_value, markdown_table, project_root
from .sweep import load_results


def results_root(folder: str | Path | None = None) -> Path:
    """``folder``, or when it is None ``sweeps/results`` of the project: the one holding the
    current folder, else the one this package was installed from, else the current folder."""
    if folder is not None:
        return Path(folder)
    return (project_root() or project_root(Path(__file__).parent) or Path.cwd()) / "sweeps" / "results"


def setting(run: Mapping[str, Any], key: str) -> Any:
    """A run's value of parameter ``key``: the sweep's, or the experiment notebook's default."""
    return run.get(key, declared_defaults("experiment")[key])


def configuration(run: Mapping[str, Any], ignore: Iterable[str] = ("seed",)) -> tuple:
    """A run's parameters (the experiment notebook's, completed with its defaults) without
    ``ignore`` (the seed), as a hashable, ordered key; other keys of the row are left out."""
    defaults = declared_defaults("experiment")
    values = {**defaults, **{k: v for k, v in run.items() if k in defaults}}
    return tuple((k, values[k]) for k in sorted(values) if k not in ignore and k != "output_dir")


def changes(run: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> str:
    """What a run changes from ``base`` (default: the experiment notebook's defaults, which are
    notebook 01's), e.g. ``"epochs=30, augment_shift=1"``; ``"none"`` when nothing."""
    base = {**declared_defaults("experiment"), **(base or {})}
    shown = [f"{key}={value}" for key, value in run.items() if key != "seed" and value != base.get(key)]
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
        row: dict[str, Any] = {"runs": members, "seeds": [setting(m, "seed") for m in members]}
        for key in ("val_accuracy", "test_accuracy"):
            values = [m[key] for m in members]
            row[key] = statistics.mean(values)
            row[f"{key}_min"], row[f"{key}_max"] = min(values), max(values)
        summary.append(row)
    return summary


def percent(value: float | None) -> str:
    """An accuracy as the tables show it: ``98.71%``, or a dash."""
    return format_value("accuracy", value)


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
#: Stage 3's levers, each a change from :data:`BASE`, in their order (sweeps/tuning.yaml).
STAGE_3 = (
    {"augment_shift": 2}, {"augment_rotation": 10, "augment_scale": 0.1}, {"ema_momentum": 0.999},
    {"label_smoothing": 0.1}, {"weight_decay": 0.01}, {"warmup_epochs": 1}, {"recurrent_init": "identity"},
    {"normalize_inputs": True}, {"clip_norm": None}, {"lr_schedule": "constant"}, {"batch_size": 50},
    {"batch_size": 200}, {"learning_rate": 0.003}, {"learning_rate": 0.001},
)  # fmt: skip
#: The cell of each label, as notebook 03 names them.
CELL_NAMES = {"rnn": "vanilla RNN", "gru": "GRU", "lstm": "LSTM"}


def parameters_of(run: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a sweep set for a run: its row's keys that are the experiment notebook's
    parameters (not its results, nor keys a table added)."""
    names = declared_defaults("experiment")
    return {k: v for k, v in run.items() if k in names}


def cells_rows(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The cells sweep's MNIST runs, one row per cell: name, weights, s/epoch, accuracies."""
    return [{**run, "cell": CELL_NAMES[run["cell"]]} for run in cells
            if run.get("dataset", "mnist") == "mnist" and run.get("status") != "failed"]  # fmt: skip


def stage_rows(tuning: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The runs of stages 1 and 2, in order."""
    return [find(tuning, **parameters) for parameters in STAGES_1_2]


#: The seeds of the base that stage 3's rule measures the spread over.
BASE_SEEDS = (42, 1, 2)


def base_over_seeds(tuning: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """:data:`BASE` over the seeds :data:`BASE_SEEDS` (stage 3's first rows)."""
    return over_seeds([find(tuning, **BASE, seed=seed) for seed in BASE_SEEDS])[0]


def lever_rows(tuning: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stage 3: one row per lever of :data:`STAGE_3` (seed 42), best validation first, with its
    difference from the base's seed-42 validation accuracy."""
    base = find(tuning, **BASE)
    rows = []
    for change in STAGE_3:
        run = find(tuning, **{**BASE, **change})
        lever = ", ".join(f"{key}={value}" for key, value in change.items())
        rows.append({**run, "lever": lever, "difference": run["val_accuracy"] - base["val_accuracy"]})
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
    columns = {"training": "changes from notebook 01's training", "val_accuracy": "validation",
               "test_accuracy": "test"}  # fmt: skip
    return markdown_table(rows, columns)


def rule_margin(tuning: Sequence[Mapping[str, Any]]) -> float:
    """How much a lever must beat the base's seed-42 validation accuracy by to count as
    helping: half the range of the base's validation accuracies over its seeds."""
    base = base_over_seeds(tuning)
    return (base["val_accuracy_max"] - base["val_accuracy_min"]) / 2


def helps(difference: float, margin: float) -> bool:
    """Whether a lever's difference beats the margin, both in points as the table shows them
    (two decimals), so that the rule decides on the numbers on the page."""
    return round(difference * 100, 2) > round(margin * 100, 2)


@table("levers")
def levers_table(root: Path) -> str:
    """Stage 3: one lever at a time from the base, with the base's spread over seeds first,
    and whether each lever passes the rule of sweeps/tuning.yaml."""
    tuning = load_results(root / "tuning")
    base, margin = base_over_seeds(tuning), rule_margin(tuning)
    seeds = ", ".join(map(str, base["seeds"]))
    rows = [{"lever": f"none: the base, over seeds {seeds}", "validation": spread(base, "val_accuracy"),
             "test": spread(base, "test_accuracy"), "difference": "–", "helps": "–"}]  # fmt: skip
    for row in lever_rows(tuning):
        rows.append({"lever": row["lever"], "validation": percent(row["val_accuracy"]),
                     "difference": signed_points(row["difference"]),
                     "helps": "yes" if helps(row["difference"], margin) else "no",
                     "test": percent(row["test_accuracy"])})  # fmt: skip
    columns = {"lever": "one change from the base (seed 42)", "validation": "validation",
               "difference": "validation − the base's, seed 42 (points)",
               "helps": f"helps (more than +{margin * 100:.2f})", "test": "test"}  # fmt: skip
    return markdown_table(rows, columns)


#: Stage 5 repeats the best stage-4 configuration that trains within this many seconds.
TIME_LIMIT = 5 * 60


def training_seconds(run: Mapping[str, Any]) -> float:
    """How long a run took to train: its epochs times its seconds per epoch (validation included)."""
    return setting(run, "epochs") * run["seconds_per_epoch"]


def stage_5_choice(tuning: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The rule of sweeps/tuning.yaml: of stage 4's runs and the 30-epoch runs they extend
    (:func:`longer_rows`), the one with the highest validation accuracy among those that train
    within :data:`TIME_LIMIT` seconds."""
    quick = [run for run in longer_rows(tuning) if training_seconds(run) <= TIME_LIMIT]
    if not quick:
        raise LookupError(
            f"no stage-4 run trains within {TIME_LIMIT} s: the results are not the expected ones"
        )
    return max(quick, key=lambda run: run["val_accuracy"])


def final_group(tuning: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stage 5: :func:`stage_5_choice`'s configuration over its seeds (42 and 1 to 4)."""
    key = configuration(stage_5_choice(tuning))
    group = next(group for group in over_seeds(tuning) if configuration(group["runs"][0]) == key)
    if sorted(group["seeds"]) != [1, 2, 3, 4, 42]:
        raise LookupError(
            f"stage 5 is {changes(parameters_of(group['runs'][0]))} over seeds 42 and 1 to 4, but the "
            f"results have seeds {group['seeds']}: add its runs to sweeps/tuning.yaml and run the sweep"
        )
    return group


def longer_rows(tuning: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stage 4 with the 30-epoch runs it extends: the base's seed-42 run, the seed-42 run of
    every stage-3 lever that helped, and the seed-42 runs longer than 30 epochs; grouped by
    configuration (the base first), shortest first within each."""
    margin = rule_margin(tuning)
    helped = [row for row in lever_rows(tuning) if helps(row["difference"], margin)]
    longer = [run for run in tuning if run.get("status") != "failed" and setting(run, "seed") == 42
              and setting(run, "epochs") > BASE["epochs"]]  # fmt: skip
    rows = [{**find(tuning, **BASE), "training": f"none: the base ({BASE['epochs']} epochs)"}]
    rows += [{**run, "training": changes(parameters_of(run), BASE)} for run in [*helped, *longer]]

    def order(row: Mapping[str, Any]) -> tuple:
        lever = changes({k: v for k, v in parameters_of(row).items() if k != "epochs"}, BASE)
        return (lever != "none", lever, setting(row, "epochs"))

    return sorted(rows, key=order)


@table("longer")
def longer_table(root: Path) -> str:
    """Stage 4: the base and the levers that helped, at 30 epochs and trained longer (seed 42)."""
    longer = longer_rows(load_results(root / "tuning"))
    rows = [{**row, "minutes": f"{training_seconds(row) / 60:.1f}"} for row in longer]
    columns = {"training": "changes from the base (seed 42)", "seconds_per_epoch": "s / epoch",
               "minutes": "minutes to train", "val_accuracy": "validation",
               "test_accuracy": "test"}  # fmt: skip
    return markdown_table(rows, columns)


@table("seeds")
def seeds_table(root: Path) -> str:
    """Stage 5: the chosen configuration, seed by seed, and over all its seeds."""
    final = final_group(load_results(root / "tuning"))
    rows = [{**run, "seed": setting(run, "seed")} for run in final["runs"]]
    rows.append({"seed": "mean (lowest–highest)", "val_accuracy": spread(final, "val_accuracy"),
                 "test_accuracy": spread(final, "test_accuracy")})  # fmt: skip
    return markdown_table(rows, {"seed": "seed", "val_accuracy": "validation", "test_accuracy": "test"})


@table("readme")
def readme_table(root: Path) -> str:
    """The README's results: the lesson's runs, the tuned RNN, the gated cells, Fashion-MNIST."""
    cells, tuning = load_results(root / "cells"), load_results(root / "tuning")
    final = final_group(tuning)
    recipe = " ".join(
        f"-p {key} {value}" for key, value in parameters_of(final["runs"][0]).items() if key != "seed"
    )
    test = lambda **parameters: percent(find(cells, **parameters)["test_accuracy"])  # noqa: E731
    seeds = ", ".join(map(str, final["seeds"]))
    rows = [
        ("the original tutorial (TF1), as published (1,000 test images)", "95.1%", "its page"),
        ("notebook 01 with the original's training (`-p lr_schedule constant -p clip_norm None`), seed 42",
         percent(find(tuning, lr_schedule="constant", clip_norm=None)["test_accuracy"]), "tuning sweep"),
        ("**notebook 01's defaults**: the same with a cosine learning-rate schedule and gradient clipping, "
         "seed 42", f"**{test(cell='rnn')}**", "notebook 01, cells sweep"),
        (f"the same vanilla RNN, trained as chosen on validation (`{recipe}`), mean of seeds {seeds}",
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
