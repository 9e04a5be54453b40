"""Execute notebooks top to bottom in a fresh kernel and store them as they are committed.

    python tools/execute_notebooks.py           # every notebook (notebooks/, sweeps/experiment.ipynb)
    python tools/execute_notebooks.py notebooks/01_vanilla_rnn_mnist.ipynb

Each notebook runs with the kernel it names (``rnn-tutorial``), in its own folder, with its
default parameters. The outputs are kept (readers on the web see them,
and ``pytest --nbval`` compares them); what changes on every run without meaning anything
is dropped: the per-cell timing metadata, and papermill's. Cell ids are added where
missing. A notebook whose outputs show a path of this machine (the project folder or the
home folder) is not written, and the command fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def clean(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop timing and papermill metadata, give every cell an id."""
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    _, normalised = nbformat.validator.normalize(notebook)
    return nbformat.from_dict(normalised)


def machine_paths(notebook: nbformat.NotebookNode) -> list[str]:
    """Output lines that show a path of this machine."""
    needles = {str(ROOT), str(Path.home())} - {"/"}
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            texts = [output.get("text", "")] + [
                value for value in output.get("data", {}).values() if isinstance(value, str)
            ]
            for text in texts:
                for line in text.splitlines():
                    if any(needle in line for needle in needles):
                        found.append(f"cell {index}: {line.strip()[:120]}")
    return found


def execute(path: Path, timeout: int) -> float:
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - started
    notebook = clean(notebook)
    leaks = machine_paths(notebook)
    if leaks:
        raise SystemExit(f"{path.name}: outputs show paths of this machine:\n  " + "\n  ".join(leaks))
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook of the project")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds one cell may take")
    args = parser.parse_args(argv)
    every = [*sorted((ROOT / "notebooks").glob("*.ipynb")), ROOT / "sweeps" / "experiment.ipynb"]
    for path in args.notebooks or every:
        seconds = execute(path.resolve(), args.timeout)
        print(f"{path.name}: executed in {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
