"""Keeps every pytest run away from the user's results, however pytest is started
(``make test``, ``pytest --nbval notebooks/``, ``pytest notebooks/02_inside_the_rnn.ipynb``,
``pytest tests/test_x.py``): this file sits at the project's root, so pytest loads it for
every test and notebook in the project.

Runs without an ``output_dir`` (nbval's re-execution of the notebooks, for one) write under
a temporary folder named in ``$RNN_HELPERS_OUTPUT``, and the session fails if anything in
the repository, ``output/`` included, was changed by the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The one place tests may write in the repository: the browser tests' screenshots, for a
# person to look at (git-ignored).
SCREENSHOTS = "tests/screenshots/"

# Set at import, before any kernel starts: kernels inherit the environment.
_OUTPUT_ROOT = tempfile.mkdtemp(prefix="rnn-helpers-test-output-")
os.environ["RNN_HELPERS_OUTPUT"] = _OUTPUT_ROOT


def repository_state() -> dict[str, tuple[int, int]]:
    """Every file under the repository that git does not track or ignores (``output/``,
    untracked files) and every tracked file git reports changed, with size and mtime."""
    state: dict[str, tuple[int, int]] = {}
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "--others", "--modified", "-z"],
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        listed = ""
    names = [n for n in listed.split("\0") if n]
    output = ROOT / "output"
    if output.is_dir():
        names += [str(p.relative_to(ROOT)) for p in output.rglob("*") if p.is_file() or p.is_symlink()]
    for name in names:
        path = ROOT / name
        if name.startswith((".venv/", ".pytest_cache", SCREENSHOTS)) or "/__pycache__/" in f"/{name}":
            continue
        try:
            stat = path.lstat()
            state[name] = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            state[name] = (-1, -1)
    return state


def pytest_sessionstart(session):
    session.config._repository_state = repository_state()


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_OUTPUT_ROOT, ignore_errors=True)
    before = getattr(session.config, "_repository_state", None)
    if before is None:
        return
    after = repository_state()
    changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    if changed:
        shown = "\n  ".join(changed[:20])
        print(f"\nThe tests changed files in the repository (they must not):\n  {shown}")
        session.exitstatus = 1
