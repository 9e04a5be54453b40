"""Where a run's results go, and how they are written: output folders, metrics.json, figures.

A notebook writes its results through a :class:`RunFolder`, so that an output folder
always holds the complete results of exactly one run:

* everything is written into a hidden staging folder next to the output folder, and
  :meth:`RunFolder.commit` swaps it into place at the very end; a run that fails or is
  stopped leaves the previous results untouched;
* a lock (``.<name>.lock`` beside the folder) refuses a second process that wants to
  write into the same folder while a run is under way;
* the folder is checked (creatable, writable, not somebody else's files) before any
  training starts.

Without an ``output_dir`` a run writes to ``output/<notebook name>`` in the project, or
under ``$RNN_HELPERS_OUTPUT`` when that is set (the tests set it, so that they never touch
a user's results).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .parameters import ParameterError

OUTPUT_ENV = "RNN_HELPERS_OUTPUT"


def project_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the current folder) holding this
    project's ``pyproject.toml``, or ``None`` outside the project."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and 'name = "rnn-helpers"' in candidate.read_text(errors="ignore"):
            return folder
    return None


def default_output_root() -> Path:
    """Where runs without an ``output_dir`` go: ``$RNN_HELPERS_OUTPUT`` when set, else
    ``output/`` in the project (or in the current folder outside the project)."""
    if os.environ.get(OUTPUT_ENV):
        return Path(os.environ[OUTPUT_ENV]).expanduser()
    return (project_root() or Path.cwd()) / "output"


def resolve_output_dir(output_dir: str | os.PathLike[str] | None, run_name: str) -> Path:
    """The absolute path of the folder a run writes to (nothing is created).

    ``None`` means ``<default_output_root()>/<run_name>``; a relative path is taken from
    the current folder.
    """
    path = default_output_root() / run_name if output_dir is None else Path(output_dir).expanduser()
    return Path(os.path.abspath(path))


class OutputDirError(ParameterError):
    """The output folder cannot be used: not creatable, not writable, busy or not a run's."""


#: What runs write; a folder holding only such files (or a run's manifest) may be replaced.
RUN_FILE_SUFFIXES = (".png", ".json", ".keras", ".ipynb", ".csv")
MANIFEST = ".run.json"

# The runs this process has open, by folder: a notebook re-run in the same kernel (in
# JupyterLab) takes over its own earlier, unfinished run instead of locking itself out.
_OPEN_RUNS: dict[Path, RunFolder] = {}


class RunFolder:
    """An output folder written all at once: see the module docstring.

    Use :meth:`open` before training (it fails early and clearly), write every file into
    :attr:`path`, and call :meth:`commit` at the end.

    Attributes:
        final: the output folder the results end up in.
        path: the staging folder to write into until :meth:`commit`.
    """

    def __init__(self, final: Path, path: Path, lock_fd: int):
        self.final = final
        self.path = path
        self._lock_fd: int | None = lock_fd

    @classmethod
    def open(cls, output_dir: str | os.PathLike[str] | None, run_name: str) -> RunFolder:
        """Check, lock and prepare the output folder of a run (see :func:`resolve_output_dir`).

        Raises:
            OutputDirError: the folder (or its parent) cannot be created or written; it is
                a file; another process is writing into it; or it holds files that no run
                wrote. The message names the folder and says what to do.
        """
        final = resolve_output_dir(output_dir, run_name)
        named = (
            f"output_dir = {str(output_dir)!r}" if output_dir is not None else f"the output folder {final}"
        )
        if final in _OPEN_RUNS:
            _OPEN_RUNS.pop(final).discard()
        if final.exists() and not final.is_dir():
            raise OutputDirError(
                f"{named}: {final} is a file, not a folder. Choose a folder for the results."
            )
        parent = final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(parent / f".{final.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise OutputDirError(
                f"{named}: cannot create or write the folder {parent} ({error.strerror}). "
                "Choose a folder you can write to, e.g. -p output_dir ~/rnn-results."
            ) from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(lock_fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(lock_fd)
            raise OutputDirError(
                f"{named}: another run (process {owner}) is writing into {final} right now. "
                "Wait until it has finished, or give this run another output_dir."
            ) from None
        try:
            os.ftruncate(lock_fd, 0)
            os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
            _recover(final)
            _check_replaceable(final, named)
            staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{final.name}.partial-{os.getpid()}-"))
            staging.chmod(0o755)  # a normal folder's permissions once in place, not mkdtemp's 0700
        except BaseException as error:
            os.close(lock_fd)
            if isinstance(error, OSError):
                raise OutputDirError(
                    f"{named}: cannot write in {parent} ({error.strerror}). Choose a folder you can write to."
                ) from None
            raise
        run = cls(final, staging, lock_fd)
        _OPEN_RUNS[final] = run
        return run

    def commit(self) -> list[Path]:
        """Put the staged results in place of the output folder's previous content, at once.

        Files in the folder that no run wrote (for instance the executed notebook papermill
        keeps there) are kept. Returns the final paths of this run's files.
        """
        if self._lock_fd is None:
            raise RuntimeError(f"The run into {self.final} was already committed or discarded.")
        names = sorted(p.name for p in self.path.iterdir() if p.name != MANIFEST)
        write_json(self.path / MANIFEST, {"files": names, "pid": os.getpid()})
        old = _old(self.final)
        if self.final.exists():
            os.rename(self.final, old)
        os.rename(self.path, self.final)
        _recover(self.final)  # moves back the files no run wrote, then removes the old folder
        self._release()
        return [self.final / name for name in names]

    def discard(self) -> None:
        """Give up this run: remove the staging folder and unlock; the folder is unchanged."""
        if self._lock_fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if _OPEN_RUNS.get(self.final) is self:
            del _OPEN_RUNS[self.final]
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None


def _old(final: Path) -> Path:
    return final.parent / f".{final.name}.old"


def _run_files(folder: Path) -> set[str] | None:
    """The files a run wrote into ``folder`` per its manifest, or None without one."""
    try:
        return set(json.loads((folder / MANIFEST).read_text())["files"]) | {MANIFEST}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _recover(final: Path) -> None:
    """Finish or undo a swap that was interrupted, and remove stale staging folders.

    Called with the lock held. If the previous results were moved aside (``.<name>.old``)
    and the new ones are in place, the files in the old folder that no run wrote are
    moved over and the old folder removed; if the new ones never arrived, the old folder
    goes back.
    """
    old = _old(final)
    if old.is_dir():
        if not final.exists():
            os.rename(old, final)
        else:
            written = _run_files(old)
            for item in old.iterdir():
                foreign = item.name not in written if written is not None else item.suffix == ".ipynb"
                if foreign and not (final / item.name).exists():
                    os.rename(item, final / item.name)
            shutil.rmtree(old)
    for stale in final.parent.glob(f".{final.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _check_replaceable(final: Path, named: str) -> None:
    if not final.is_dir() or _run_files(final) is not None:
        return
    foreign = [p.name for p in final.iterdir() if not (p.is_file() and p.suffix in RUN_FILE_SUFFIXES)]
    if foreign:
        shown = ", ".join(sorted(foreign)[:5]) + (", ..." if len(foreign) > 5 else "")
        raise OutputDirError(
            f"{named}: {final} already holds files that no run of this notebook wrote ({shown}). "
            "A run replaces its folder as a whole, so choose a new or empty folder for the results."
        )
    if not os.access(final, os.W_OK | os.X_OK):
        raise OutputDirError(f"{named}: {final} is not writable. Choose a folder you can write to.")


@atexit.register
def discard_all_runs() -> None:
    """Discard every run this process has open: its staging folder goes when the process
    ends normally (a kernel shut down after a failed cell, for one)."""
    for run in list(_OPEN_RUNS.values()):
        with contextlib.suppress(OSError):
            run.discard()


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the project root when inside it (for printing), else as it is."""
    path = Path(path).resolve()
    root = project_root()
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def versions() -> dict[str, str]:
    """Versions of Python and the main libraries, for the record in metrics.json."""
    import keras
    import matplotlib
    import numpy
    import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "matplotlib": matplotlib.__version__,
        "platform": platform.platform(terse=True),
    }


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(handle, 0o644)  # a normal file's permissions, not mkstemp's private 0600
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=2, sort_keys=False, default=float)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def save_figures(figures: Mapping[str, Any], folder: str | os.PathLike[str], dpi: int = 100) -> list[Path]:
    """Save each ``name -> Figure`` as ``<folder>/<name>.png``; returns the paths."""
    paths = []
    for name, figure in figures.items():
        path = Path(folder) / f"{name}.png"
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
        paths.append(path)
    return paths


def format_value(key: str, value: Any) -> str:
    """One table cell: accuracies as percentages (two decimals), seconds with one decimal,
    whole numbers with thousands separators, ``None`` as a dash, the rest as text."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return str(value)
    if "accuracy" in key and isinstance(value, float):
        return f"{value:.2%}"
    if "seconds" in key and isinstance(value, (int, float)):
        return f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> str:
    """The rows as a Markdown table for a notebook (``IPython.display.Markdown``).

    Args:
        rows: one mapping per row.
        columns: key in the rows -> column heading, in the order to show them. Values are
            formatted by :func:`format_value`; a missing key shows a dash.
    """
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(format_value(k, row.get(k)) for k in columns) + " |")
    return "\n".join(lines)
