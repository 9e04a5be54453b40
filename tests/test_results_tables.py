"""Every results table of the README and docs/ is what the committed sweep results give, and the
numbers that two sources give agree: one set of numbers everywhere.

A page holds a table between ``<!-- table NAME: ... -->`` and ``<!-- end of table NAME -->``;
``python -m rnn_helpers.runs.report NAME`` prints what belongs there. A re-run of a sweep that
changes a number fails here until the pages follow.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rnn_helpers.runs import report
from rnn_helpers.runs.sweep import load_results

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"<!-- table (?P<name>[\w-]+): [^>]*-->\n(?P<body>.*?)\n<!-- end of table (?P=name) -->", re.S
)


def tables_in(page: Path) -> list[tuple[str, str]]:
    return [(m["name"], m["body"].strip()) for m in BLOCK.finditer(page.read_text())]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_pages_tables_are_what_the_results_give(page):
    for name, body in tables_in(page):
        assert name in report.TABLES, f"{page.name}: no table named {name}"
        expected = report.TABLES[name](report.results_root()).strip()
        assert body == expected, (
            f"{page.name}: table {name} is stale; run python -m rnn_helpers.runs.report {name}"
        )


def test_the_readme_and_the_cells_page_hold_their_tables():
    assert [name for name, _ in tables_in(ROOT / "README.md")] == ["readme"]
    assert {name for name, _ in tables_in(ROOT / "docs" / "cells_and_tuning.md")} >= {"cells", "levers"}


def printed(notebook: Path, pattern: str) -> list[str]:
    """Every match of ``pattern`` in a committed notebook's printed outputs."""
    cells = json.loads(notebook.read_text())["cells"]
    text = "".join(
        "".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"]
    )
    return re.findall(pattern, text)


def test_notebook_01_and_the_sweeps_give_the_same_number_for_the_same_run():
    """Notebook 01's defaults are one run: the cells sweep's vanilla RNN and the tuning sweep's
    notebook-01 row (both the experiment notebook with its defaults) and notebook 01's page."""
    cells = report.find(load_results(report.results_root() / "cells"), cell="rnn")
    tuning = report.find(load_results(report.results_root() / "tuning"))
    assert (
        cells["test_accuracy"] == tuning["test_accuracy"] and cells["val_accuracy"] == tuning["val_accuracy"]
    )
    shown = printed(
        ROOT / "notebooks" / "01_vanilla_rnn_mnist.ipynb", r"test accuracy: ([\d.]+)% on 10000 images"
    )
    assert shown == [f"{cells['test_accuracy']:.1%}"[:-1]], "re-run notebook 01, or the sweeps"


def made_up_tuning(folder: Path, stage_4: dict[int, tuple[float, float, float]], stage_5_epochs: int) -> Path:
    """A tuning sweep's results.json with every run the report expects and made-up numbers:
    stage 4's base at each number of epochs with (validation, test, seconds per epoch), and
    stage 5's seeds for ``stage_5_epochs``. The base's seeds span 98.0–98.4% validation, so
    a lever helps when it beats 98.4% (seed 42) by more than 0.2 points."""
    runs = [{**parameters, "val_accuracy": 0.97, "test_accuracy": 0.97} for parameters in report.STAGES_1_2]
    runs[-1].update(val_accuracy=0.984, test_accuracy=0.98)
    runs += [
        {**report.BASE, "seed": s, "val_accuracy": v, "test_accuracy": 0.98}
        for s, v in ((1, 0.98), (2, 0.982))
    ]
    runs += [
        {**report.BASE, **change, "val_accuracy": 0.983, "test_accuracy": 0.99} for change in report.STAGE_3
    ]
    runs[-len(report.STAGE_3)].update(val_accuracy=0.98611)  # shifts of 2: +0.21 points, helps
    runs[-len(report.STAGE_3) + 1].update(val_accuracy=0.986)  # rotations: +0.200, does not
    for epochs, (val, test, seconds) in stage_4.items():
        runs.append({**report.BASE, "epochs": epochs, "val_accuracy": val, "test_accuracy": test,
                     "seconds_per_epoch": seconds})  # fmt: skip
    runs += [{**report.BASE, "epochs": stage_5_epochs, "seed": s, "val_accuracy": 0.99, "test_accuracy": t}
             for s, t in ((1, 0.981), (2, 0.983), (3, 0.985), (4, 0.987))]  # fmt: skip
    for n, run in enumerate(runs):
        run.setdefault("seconds_per_epoch", 2.0)
        history = {"val_accuracy": [run["val_accuracy"]], "train_accuracy": [0.9], "epoch_seconds": [2.0]}
        run.update(run=f"run {n}", status="done", parameter_count=21386, history=history)
    (folder / "tuning").mkdir(parents=True)
    (folder / "tuning" / "results.json").write_text(json.dumps({"runs": runs}))
    return folder


def test_the_levers_table_applies_the_rule(tmp_path):
    table = report.levers_table(made_up_tuning(tmp_path, {60: (0.985, 0.98, 2.0)}, 60))
    helps = {line.split(" | ")[0].strip("| "): line.split(" | ")[3] for line in table.splitlines()[2:]}
    assert "helps (more than +0.20)" in table.splitlines()[0]
    assert helps["augment_shift=2"] == "yes" and helps["augment_rotation=10, augment_scale=0.1"] == "no"
    assert list(helps.values()).count("yes") == 1


def test_stage_5_is_the_best_validation_within_five_minutes_never_the_best_test(tmp_path):
    # 100 epochs: best validation but 100 × 3.1 s > 5 minutes; 60 epochs: the best test, worse validation.
    stage_4 = {60: (0.986, 0.995, 2.0), 80: (0.987, 0.980, 3.0), 100: (0.990, 0.981, 3.1)}
    tuning = load_results(made_up_tuning(tmp_path, stage_4, 80) / "tuning")
    assert report.stage_5_choice(tuning)["epochs"] == 80
    final = report.final_group(tuning)
    assert sorted(final["seeds"]) == [1, 2, 3, 4, 42]
    assert final["test_accuracy"] == pytest.approx((0.980 + 0.981 + 0.983 + 0.985 + 0.987) / 5)
    assert "98.32% (98.00%–98.70%)" in report.seeds_table(tmp_path)


def test_a_stage_5_not_yet_run_is_named(tmp_path):
    tuning = load_results(
        made_up_tuning(tmp_path, {60: (0.986, 0.98, 2.0), 100: (0.99, 0.98, 2.0)}, 60) / "tuning"
    )
    with pytest.raises(LookupError, match=r"epochs=100.*seeds \[42\]: add its runs to sweeps/tuning.yaml"):
        report.final_group(tuning)


def test_the_results_are_found_from_inside_and_outside_the_project(tmp_path, monkeypatch):
    """From the project's notebooks/ folder and from a folder outside any project (a notebook
    opened elsewhere), the default is this project's sweeps/results; a folder given is used."""
    monkeypatch.chdir(ROOT / "notebooks")
    assert report.results_root() == ROOT / "sweeps" / "results"
    monkeypatch.chdir(tmp_path)
    assert report.results_root() == ROOT / "sweeps" / "results"
    assert report.results_root(tmp_path / "mine") == tmp_path / "mine"
