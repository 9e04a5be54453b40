"""Every command the README and docs/ show works as written, and every relative link resolves.

Each fenced ``bash`` / ``sh`` / ``python`` block of ``README.md`` and ``docs/*.md`` carries a
marker on the line right above it, an HTML comment a reader of the rendered page does not
see but a reader of the source does:

* ``<!-- docs-test: run -->``: run as written;
* ``<!-- docs-test: run; append "-p epochs 1 -p n_train 300" to "papermill" -->``: run, with
  those arguments added to every command line containing ``papermill`` (several ``append``
  clauses may follow each other), so that a long run stays short; ``make run`` lines take
  them through ``PARAMS``; ``replace "epochs=[3]" with "epochs=[1]"`` does the same for
  Python code;
* ``<!-- docs-test: skip: <reason> -->``: not run by the tests, and why (conda, a second
  machine, the internet, a command that takes an hour).

The blocks of one page run in its order, in one temporary copy of the repository (so that
a block may use what an earlier one made, and nothing is written into the repository or
its ``output/``), shell blocks with ``bash -e``, Python blocks saved as a file and run with
``python file.py``. ``pytest -rs`` lists every block skipped, with its reason.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"bash": "shell", "sh": "shell", "shell": "shell", "console": "shell", "python": "python"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<what>run|skip)\s*(?P<rest>.*?)\s*-->")
APPEND = re.compile(r'append\s+"(?P<arguments>[^"]*)"\s+to\s+"(?P<where>[^"]+)"')
REPLACE = re.compile(r'replace\s+"(?P<old>[^"]*)"\s+with\s+"(?P<new>[^"]*)"')


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: str | None  # the marker comment above it, if any

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = re.match(r"^\s*```(\w+)\s*$", lines[index])
        if opening is None:
            index += 1 if not lines[index].lstrip().startswith("```") else _skip_fence(lines, index)
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip().startswith("```"))
        above = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = above.strip() if MARKER.search(above) else None
        language = opening.group(1).lower()
        if language in LANGUAGES:
            code = "\n".join(_dedent(lines[index + 1 : end]))
            found.append(Block(page, index + 1, LANGUAGES[language], code, marker))
        index = end + 1
    return found


def _skip_fence(lines: list[str], index: int) -> int:
    """Steps over a fence without a language (a listing, not a command)."""
    end = next((i for i in range(index + 1, len(lines)) if lines[i].strip().startswith("```")), len(lines))
    return end + 1 - index


def _dedent(lines: list[str]) -> list[str]:
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return [line[indent:] for line in lines]


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


def test_every_command_block_says_whether_the_tests_run_it():
    unmarked = [block.name for block in ALL_BLOCKS if block.marker is None]
    assert not unmarked, (
        f"add a <!-- docs-test: run --> or <!-- docs-test: skip: why --> marker above {unmarked}"
    )
    for block in ALL_BLOCKS:
        what = MARKER.search(block.marker)
        if what["what"] == "skip":
            assert len(what["rest"].lstrip(":").strip()) > 10, f"{block.name}: say why it is not run"


def shortened(block: Block) -> str:
    """The block's code with the marker's ``append`` arguments added to the matching lines, and
    its ``replace`` clauses applied."""
    rest = MARKER.search(block.marker)["rest"]
    code = block.code
    for clause in REPLACE.finditer(rest):
        assert clause["old"] in code, f"{block.name}: {clause['old']!r} is not in the block"
        code = code.replace(clause["old"], clause["new"])
    clauses = list(APPEND.finditer(rest))
    lines = code.splitlines()
    for clause in clauses:
        where, arguments = clause["where"], clause["arguments"]
        hits = 0
        for index, line in enumerate(lines):
            if where not in line or line.lstrip().startswith("#"):
                continue
            last = index
            while lines[last].rstrip().endswith("\\"):  # a command continued on the next lines
                last += 1
            command, _, comment = lines[last].partition("  #")
            addition = f' PARAMS="{arguments}"' if where == "make run" else f" {arguments}"
            lines[last] = command.rstrip() + addition + (f"  #{comment}" if comment else "")
            hits += 1
        assert hits, f"{block.name}: no line contains {where!r} to append to"
    return "\n".join(lines)


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    """One temporary copy of the repository per page (its tracked files, the real .venv)."""
    made: dict[Path, Path] = {}

    def workspace(page: Path) -> Path:
        if page not in made:
            copy = tmp_path_factory.mktemp(page.stem) / "repo"
            listed = subprocess.run(
                ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
            )
            for name in filter(None, listed.stdout.decode().split("\0")):
                if (ROOT / name).is_file():
                    (copy / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / name, copy / name)
            os.utime(
                copy / "pyproject.toml", (0, 0)
            )  # the environment counts as set up: make installs nothing
            venv = Path(sys.prefix)
            (copy / ".venv").symlink_to(venv, target_is_directory=True)
            made[page] = copy
        return made[page]

    return workspace


def run_block(block: Block, workspace: Path) -> subprocess.CompletedProcess:
    code = shortened(block)
    environment = dict(os.environ)
    environment.pop("RNN_HELPERS_OUTPUT", None)  # the copy's own output/, as for a user
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    environment["MPLBACKEND"] = "Agg"
    if block.language == "python":
        script = workspace / f"docs_block_{block.line}.py"
        script.write_text(code + "\n")
        command = [sys.executable, str(script)]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", code]
    return subprocess.run(
        command, cwd=workspace, env=environment, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda block: block.name)
def test_the_documented_command_works(block, workspaces):
    what = MARKER.search(block.marker or "<!-- docs-test: skip: unmarked -->")
    if what["what"] == "skip":
        pytest.skip(f"{block.name}: {what['rest'].lstrip(':').strip()}")
    done = run_block(block, workspaces(block.page))
    assert done.returncode == 0, (
        f"{block.name} failed ({shlex.quote(shortened(block))}):\n{done.stderr[-3000:]}"
    )


LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    broken = []
    for match in LINK.finditer(text):
        target = match["target"]
        if re.match(r"^[a-z]+://|^mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md":
            headings = [slug(h) for h in re.findall(r"^#+\s+(.*)$", resolved.read_text(), re.MULTILINE)]
            if anchor not in headings:
                broken.append(target)
    assert not broken, f"{page.name}: links that do not resolve: {broken}"
