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
BLOCK = re.compile(r"<!-- table (?P<name>[\w-]+): [^>]*-->\n(?P<body>.*?)\n<!-- end of table (?P=name) -->", re.S)


def tables_in(page: Path) -> list[tuple[str, str]]:
    return [(m["name"], m["body"].strip()) for m in BLOCK.finditer(page.read_text())]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_pages_tables_are_what_the_results_give(page):
    for name, body in tables_in(page):
        assert name in report.TABLES, f"{page.name}: no table named {name}"
        expected = report.TABLES[name](report.results_root()).strip()
        assert body == expected, f"{page.name}: table {name} is stale; run python -m rnn_helpers.runs.report {name}"


def test_the_readme_and_the_cells_page_hold_their_tables():
    assert [name for name, _ in tables_in(ROOT / "README.md")] == ["readme"]
    assert {name for name, _ in tables_in(ROOT / "docs" / "cells_and_tuning.md")} >= {"cells", "levers"}


def printed(notebook: Path, pattern: str) -> list[str]:
    """Every match of ``pattern`` in a committed notebook's printed outputs."""
    cells = json.loads(notebook.read_text())["cells"]
    text = "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    return re.findall(pattern, text)


def test_notebook_01_and_the_sweeps_give_the_same_number_for_the_same_run():
    """Notebook 01's defaults are one run: the cells sweep's vanilla RNN and the tuning sweep's
    notebook-01 row (both the experiment notebook with its defaults) and notebook 01's page."""
    cells = report.find(load_results(report.results_root() / "cells"), cell="rnn")
    tuning = report.find(load_results(report.results_root() / "tuning"))
    assert cells["test_accuracy"] == tuning["test_accuracy"] and cells["val_accuracy"] == tuning["val_accuracy"]
    shown = printed(ROOT / "notebooks" / "01_vanilla_rnn_mnist.ipynb", r"test accuracy: ([\d.]+)% on 10000 images")
    assert shown == [f"{cells['test_accuracy']:.1%}"[:-1]], "re-run notebook 01, or the sweeps"
