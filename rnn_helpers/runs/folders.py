"""Output folders written all at once: a run's results are complete, or the previous ones stay.

One primitive serves the notebooks' runs and the sweeps: the results are written into a
hidden **staging folder** beside the output folder (:func:`new_staging_folder`), and
:func:`swap_in` puts it in the output folder's place with two renames; a run that fails or
is stopped before that leaves the previous results as they were. An interrupted swap is
finished or undone by the next :func:`recover`, which also removes stale staging folders.

The rules, checked before any training by :meth:`RunFolder.open`:

* **A run never deletes, moves or overwrites a file it did not write.** An output folder
  may hold only what earlier runs wrote (listed in its hidden manifest ``.run.json``); a
  folder that holds anything else is refused, with the names of those files and what to do.
* **Links are followed.** An ``output_dir`` that is a symbolic link (or a link to a link)
  stands for the folder it points to: that folder is locked, staged beside and swapped, and
  the link stays a link.
* **The swap must work**: the folder is writable, its parent too, it is not a mount point,
  and a trial rename succeeds; otherwise the error says so before training.
* **One run at a time**: a lock on the real folder refuses a second process, whatever path
  it names the folder by. The lock files live in the system's temporary folder
  (``rnn_helpers-locks/``), never in a user's folders.

Without an ``output_dir`` a run writes to ``output/<notebook name>`` in the project, or
under ``$RNN_HELPERS_OUTPUT`` when that is set (the tests set it, so that they never touch
a user's results).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterable
from pathlib import Path

from .records import project_root, write_json

OUTPUT_ENV = "RNN_HELPERS_OUTPUT"
#: The hidden file in an output folder that lists what the run wrote there.
MANIFEST = ".run.json"


class OutputDirError(OSError):
    """The output folder cannot be used: not creatable, not writable, busy, or holding files
    that no run wrote. The message names the folder and says what to do."""


def default_output_root() -> Path:
    """Where runs without an ``output_dir`` go: ``$RNN_HELPERS_OUTPUT`` when set, else
    ``output/`` in the project (or in the current folder outside the project)."""
    if os.environ.get(OUTPUT_ENV):
        return Path(os.environ[OUTPUT_ENV]).expanduser()
    return (project_root() or Path.cwd()) / "output"


def resolve_output_dir(output_dir: str | os.PathLike[str] | None, run_name: str) -> Path:
    """The absolute path of the folder a run writes to, as given (links not followed; nothing
    is created). ``None`` means ``<default_output_root()>/<run_name>``; a relative path is
    taken from the current folder."""
    path = default_output_root() / run_name if output_dir is None else Path(output_dir).expanduser()
    return Path(os.path.abspath(path))


# --- the primitive: stage, swap, recover --------------------------------------------------


def new_staging_folder(real: Path) -> Path:
    """A fresh hidden folder beside ``real`` (on the same filesystem, so that the swap is a
    rename), with a normal folder's permissions."""
    staging = Path(tempfile.mkdtemp(dir=real.parent, prefix=f".{real.name}.partial-{os.getpid()}-"))
    staging.chmod(0o755)
    return staging


def _old(real: Path) -> Path:
    return real.parent / f".{real.name}.old"


def run_files(folder: Path) -> set[str] | None:
    """The names a run wrote into ``folder`` per its manifest (the manifest included), or
    None when it has none (or an unreadable one)."""
    try:
        names = json.loads((folder / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {str(name) for name in names} | {MANIFEST}


def foreign_files(folder: Path) -> list[str]:
    """The entries of ``folder`` that no run wrote (all of them, without a manifest)."""
    if not folder.is_dir():
        return []
    written = run_files(folder) or {MANIFEST}
    return sorted(entry.name for entry in folder.iterdir() if entry.name not in written)


def swap_in(staging: Path, real: Path) -> list[str]:
    """Put ``staging`` in the place of the folder ``real``, all at once.

    The staged names are recorded in the manifest first; the previous folder (which holds
    only files of runs: :meth:`RunFolder.open` and the sweep check that) is moved aside and
    removed once the new one is in place. Returns the names written.
    """
    names = sorted(p.name for p in staging.iterdir() if p.name != MANIFEST)
    write_json(staging / MANIFEST, {"files": names, "pid": os.getpid()})
    old = _old(real)
    if real.exists():
        os.rename(real, old)
    os.rename(staging, real)
    shutil.rmtree(old, ignore_errors=True)
    return names


def recover(real: Path) -> None:
    """Finish or undo a swap into ``real`` that was interrupted, and remove stale staging
    folders. Call it with the folder's lock held (no other run is then staging there)."""
    old = _old(real)
    if old.is_dir():
        if real.exists():
            shutil.rmtree(old)  # the new results arrived: the old ones go
        else:
            os.rename(old, real)  # they never arrived: the old ones come back
    for stale in real.parent.glob(f".{real.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)


# --- locks -------------------------------------------------------------------------------------


def lock_path(real: Path) -> Path:
    """The lock file of the folder ``real``: in the system's temporary folder, named after the
    folder's real path, so that every path to the same folder takes the same lock."""
    folder = Path(tempfile.gettempdir()) / "rnn_helpers-locks"
    if not folder.is_dir():
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
            folder.chmod(0o1777)  # shared by every user, like /tmp itself
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:24]
    return folder / f"{digest}.lock"


def acquire_lock(real: Path, named: str) -> int:
    """Lock the folder ``real`` for this process; returns the lock's file descriptor (closing
    it releases the lock).

    Raises:
        OutputDirError: another process holds the lock; names it.
    """
    fd = os.open(lock_path(real), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise OutputDirError(
            f"{named}: another run (process {owner}) is writing into {real} right now. "
            "Wait until it has finished, or give this run another output_dir."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


# --- checks before a run -------------------------------------------------------------------------


def _check_place(real: Path, named: str) -> None:
    """Everything about ``real`` and its parent that could fail the final swap, before any work."""
    if real.exists() and not real.is_dir():
        raise OutputDirError(f"{named}: {real} is a file, not a folder. Choose a folder for the results.")
    parent = real.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputDirError(
            f"{named}: cannot create the folder {parent} ({error.strerror}). "
            "Choose a folder you can write to, e.g. -p output_dir ~/rnn-results."
        ) from None
    try:  # a trial staging folder: what the run needs of the parent, whoever runs it
        os.rmdir(tempfile.mkdtemp(dir=parent, prefix=f".{real.name}.probe-"))
        writable = os.access(parent, os.W_OK | os.X_OK)
        reason = "permission denied"
    except OSError as error:
        writable, reason = False, error.strerror
    if not writable:
        raise OutputDirError(
            f"{named}: cannot write in {parent} ({reason}), where the results are staged and swapped in. "
            "Choose a folder you can write to, e.g. -p output_dir ~/rnn-results."
        )
    if real.is_dir() and os.path.ismount(real):
        raise OutputDirError(
            f"{named}: {real} is a mount point, and a run replaces its folder as a whole. "
            f"Give a folder inside it instead, e.g. -p output_dir {real / 'results'}."
        )


def _check_replaceable(real: Path, named: str) -> None:
    """The folder holds only what runs wrote, and the previous results can be replaced."""
    foreign = foreign_files(real)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputDirError(
            f"{named}: {real} holds files that no run wrote ({shown}). A run replaces its folder "
            "as a whole and never deletes what it did not write, so it refuses this one. Choose a "
            "new or empty folder for the results, or move those files elsewhere."
        )
    if not real.is_dir():
        return
    for folder in (real, *(p for p in real.rglob("*") if p.is_dir() and not p.is_symlink())):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputDirError(
                f"{named}: {folder} is not writable, so the previous results in {real} could not be "
                "replaced. Make it writable (chmod -R u+w), or choose another output_dir."
            )


def _trial_swap(real: Path, named: str) -> None:
    """Rename the folder aside and back: proof that the final swap will work here."""
    if not real.is_dir():
        return
    try:
        os.rename(real, _old(real))
    except OSError as error:
        raise OutputDirError(
            f"{named}: {real} cannot be renamed ({error.strerror}), so new results could not replace "
            "it. Choose another output_dir."
        ) from None
    os.rename(_old(real), real)


# --- a notebook's run -------------------------------------------------------------------------


def _release(staging: Path | None, fd: int | None) -> None:
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


class RunFolder:
    """An output folder written all at once (see the module docstring).

    :meth:`open` it before training (it fails early and clearly), write every file into
    :attr:`path`, and :meth:`commit` at the end. A run that is neither committed nor
    discarded is discarded when the object goes away or the process ends.

    Attributes:
        final: the output folder as given (a link stays a link).
        real: the folder it stands for, links followed.
        path: the staging folder to write into until :meth:`commit`.
    """

    def __init__(self, final: Path, real: Path, path: Path, lock_fd: int):
        self.final, self.real, self.path = final, real, path
        self._lock_fd: int | None = lock_fd
        self._finalizer = weakref.finalize(self, _release, path, lock_fd)

    @classmethod
    def open(cls, output_dir: str | os.PathLike[str] | None, run_name: str) -> RunFolder:
        """Check, lock and prepare the output folder of a run (see :func:`resolve_output_dir`).

        Raises:
            OutputDirError: the folder (or its parent) cannot be created or written; it is a
                file or a mount point; another process is writing into it; or it holds files
                that no run wrote. Nothing is left behind.
        """
        final = resolve_output_dir(output_dir, run_name)
        real = Path(os.path.realpath(final))
        named = (
            f"output_dir = {str(output_dir)!r}" if output_dir is not None else f"the output folder {final}"
        )
        _check_place(real, named)
        _check_replaceable(real, named)  # before the lock, so that a refusal leaves nothing
        fd = acquire_lock(real, named)
        try:
            recover(real)
            _check_replaceable(real, named)  # again, now that nobody else can be writing
            _trial_swap(real, named)
            staging = new_staging_folder(real)
        except BaseException as error:
            os.close(fd)
            if isinstance(error, OSError) and not isinstance(error, OutputDirError):
                raise OutputDirError(
                    f"{named}: cannot write in {real.parent} ({error.strerror}). Choose a folder you can "
                    "write to."
                ) from None
            raise
        return cls(final, real, staging, fd)

    @property
    def is_open(self) -> bool:
        """True until the run is committed or discarded."""
        return self._lock_fd is not None

    def commit(self) -> list[Path]:
        """Put the staged results in place of the output folder's previous content, at once.

        Returns the paths of this run's files (under :attr:`final`).

        Raises:
            OutputDirError: files that no run wrote appeared in the folder during the run;
                they are left alone, and the results are kept in a visible folder beside it,
                named in the message.
        """
        if self._lock_fd is None:
            raise RuntimeError(f"The run into {self.final} was already committed or discarded.")
        foreign = foreign_files(self.real)
        if foreign:
            kept = self.real.with_name(f"{self.real.name}.results-{time.strftime('%Y%m%d-%H%M%S')}")
            os.rename(self.path, kept)
            self._close()
            raise OutputDirError(
                f"{self.final}: files that no run wrote appeared in it during the run "
                f"({', '.join(foreign[:5])}), so the results were not swapped in; they are in {kept}."
            )
        names = swap_in(self.path, self.real)
        self._close()
        return [self.final / name for name in names]

    def discard(self) -> None:
        """Give up this run: remove the staging folder and unlock; the folder is unchanged."""
        if self._lock_fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        self._close()

    def _close(self) -> None:
        self._finalizer.detach()
        _release(None, self._lock_fd)
        self._lock_fd = None


def store_files(folder: Path, files: Iterable[tuple[str, bytes]], records: dict[str, dict]) -> None:
    """Write ``files`` (relative path, bytes) and JSON ``records`` as the folder ``folder``, all
    at once, replacing what a run wrote there before (the sweep's run folders).

    Raises:
        OutputDirError: ``folder`` holds files that no run wrote; nothing is changed.
        ValueError: a file would land outside the folder.
    """
    real = Path(os.path.realpath(folder))
    real.parent.mkdir(parents=True, exist_ok=True)
    named = f"the run folder {folder}"
    fd = acquire_lock(real, named)
    try:
        recover(real)
        _check_replaceable(real, named)
        staging = new_staging_folder(real)
        try:
            for relative, content in files:
                if ".." in Path(relative).parts or Path(relative).is_absolute():
                    raise ValueError(f"A run returned a file outside its folder: {relative!r}.")
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            for name, record in records.items():
                write_json(staging / name, record)
            swap_in(staging, real)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        os.close(fd)
