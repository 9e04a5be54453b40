"""The package's folder explains its architecture, and its imports flow one way.

Floors, from the bottom up (a module may import its own floor's modules of the same
subpackage, and anything on a lower floor; nothing runs back up):

0. ``data/`` (IDX files, digests, mirrors; NumPy only) and ``fast/`` (the hand-written steps;
   TensorFlow only): foundations that import nothing else of the package;
1. the tutorial's modules at the top level (``loading``, ``batching``, ``model``, ...);
2. ``runs/``: parameters, run folders, records, sweeps, Dask;
3. ``tf1/`` and ``widget/``: built on everything below, not on each other.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnn_helpers"

TUTORIAL = {
    "augmentation", "batching", "drawing", "evaluation", "inside", "loading", "model", "plotting", "training",
}  # fmt: skip
FLOORS = {"data": 0, "fast": 0, **dict.fromkeys(TUTORIAL, 1), "runs": 2, "tf1": 3, "widget": 3}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (``rnn_helpers.runs.sweep``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(name: str, path: Path) -> set[str]:
    """The package's modules ``name`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names if alias.name.startswith("rnn_helpers")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("rnn_helpers"):
                continue
            for alias in node.names:  # "from . import fast" imports a module
                candidate = f"{module}.{alias.name}"
                targets.add(candidate if candidate in modules() else module)
    return targets - {name}


def floor_of(name: str) -> tuple[int, str]:
    """(floor, part) of a module: part is its subpackage or top-level module name."""
    parts = name.split(".")
    if len(parts) == 1 or parts[1] in ("__main__",):
        return (4 if len(parts) > 1 else -1), "root"
    return FLOORS[parts[1]], parts[1]


def test_the_top_level_holds_only_the_tutorials_modules():
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert top == TUTORIAL
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert subpackages == {"data", "fast", "runs", "tf1", "widget"}


@pytest.mark.parametrize("subpackage", ["data", "fast", "runs", "tf1", "widget"])
def test_each_subpackage_says_what_it_is_for(subpackage):
    docstring = ast.get_docstring(ast.parse((PACKAGE / subpackage / "__init__.py").read_text()))
    assert docstring and len(docstring.split()) >= 30, (
        f"rnn_helpers/{subpackage}/__init__.py needs a docstring"
    )


def test_every_module_has_a_docstring():
    for name, path in modules().items():
        assert ast.get_docstring(ast.parse(path.read_text())), f"{name} has no docstring"


def test_imports_flow_one_way():
    wrong = []
    for name, path in modules().items():
        floor, part = floor_of(name)
        for target in imported(name, path):
            target_floor, target_part = floor_of(target)
            if part == "root":  # the package's __init__ re-exports the tutorial and its data
                allowed = target_floor <= 1 or floor == 4
            elif target_part == part:
                allowed = True
            else:
                allowed = target_floor < floor or (floor == target_floor == 1)
            if not allowed:
                wrong.append(f"{name} (floor {floor}) imports {target} (floor {target_floor})")
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_circle():
    graph = {name: imported(name, path) for name, path in modules().items()}
    # a package's __init__ importing its own modules is not a circle through them
    edges = {n: {t for t in targets if not n.startswith(t + ".")} for n, targets in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(target) :] + [target]))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_packages_init_only_re_exports():
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body[1:]:
        is_all = isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["__all__"]
        assert isinstance(node, ast.ImportFrom) or is_all, ast.unparse(node)[:80]


def _import_in_fresh_interpreter(names: list[str], first: str = "") -> dict[str, dict]:
    """What importing each of ``names`` in turn does in a new interpreter, after importing
    ``first`` (a library whose own changes are not the package's): per module, the environment
    variables it changed and whether TensorFlow is loaded after it."""
    code = (
        "import importlib, json, os, sys\n"
        f"{first}\n"
        "report = {}\n"
        f"for name in {names!r}:\n"
        "    before = dict(os.environ)\n"
        "    importlib.import_module(name)\n"
        "    after = dict(os.environ)\n"
        "    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))\n"
        "    report[name] = {'changed': changed, 'tensorflow': 'tensorflow' in sys.modules}\n"
        "print(json.dumps(report))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_a_module_changes_no_environment_variable():
    # TensorFlow sets a few variables of its own when imported (TF2_BEHAVIOR, ...): import it first
    names = sorted(n for n in modules() if not n.endswith("__main__"))
    report = _import_in_fresh_interpreter(names, first="import tensorflow, keras")
    assert {name: r["changed"] for name, r in report.items() if r["changed"]} == {}


def test_the_data_and_run_modules_import_without_tensorflow():
    names = ["rnn_helpers", "rnn_helpers.loading", "rnn_helpers.batching", "rnn_helpers.drawing",
             "rnn_helpers.plotting", "rnn_helpers.tf1"]  # fmt: skip
    names += sorted(n for n in modules() if n.split(".")[1:2] in (["data"], ["runs"]))
    report = _import_in_fresh_interpreter(names)
    assert [name for name, r in report.items() if r["tensorflow"]] == []


def _long_functions(path: Path) -> list[str]:
    """Functions over 60 lines (their docstring left out) without a reason on their ``def`` line."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1
        first = node.body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            length -= first.end_lineno - first.lineno + 1
        if length > 60 and "over 60 lines" not in lines[node.lineno - 1]:
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_over_60_lines_without_a_reason_beside_it():
    root = PACKAGE.parent
    paths = [*PACKAGE.rglob("*.py"), *(root / "benchmarks").glob("*.py"), *(root / "tools").glob("*.py")]
    long = [entry for path in paths for entry in _long_functions(path)]
    assert not long, "\n".join(long)


def test_the_old_duplicate_names_are_gone():
    source = {name: path.read_text() for name, path in modules().items()}
    defining = lambda word: sorted(n for n, text in source.items() if f"def {word}(" in text)  # noqa: E731
    for word in ("markdown_table", "parameters_cell", "declared_defaults"):
        assert len(defining(word)) == 1, (word, defining(word))  # one meaning per name
    for gone in ("notebook" + "_defaults", "_store_run", "_muted_stderr"):  # the old names
        assert defining(gone) == [], gone
    classes = sorted(n for n, text in source.items() if "class TF1Unavailable(" in text)
    assert classes == ["rnn_helpers.tf1"]
    assert not any("_model_variables_moving_average" in text for text in source.values())
    parsers = sorted(n for n, text in source.items() if "ast.parse(" in text)
    assert parsers == ["rnn_helpers.runs.parameters", "rnn_helpers.tf1.migration"]  # migration reads tf1 code
