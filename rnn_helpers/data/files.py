"""Find and verify a dataset's files: the search order, the cache, and the digest check.

Where the files are looked for, in order (the first folder holding a file wins, ``.gz``
or uncompressed):

1. the ``data_dir`` argument (the folder itself, or its ``<dataset>/`` subfolder);
2. ``$RNN_HELPERS_DATA/<dataset>/`` when that environment variable names a data root;
3. the cache folder (``$RNN_HELPERS_CACHE``, else ``$XDG_CACHE_HOME/rnn_helpers``, else
   ``~/.cache/rnn_helpers``), under ``<dataset>/``;
4. ``/usr/share/datasets/<dataset>/`` where Debian's dataset packages install them
   (``apt install dataset-fashion-mnist``);
5. and only then a download from the dataset's mirrors into the cache folder.

:func:`read_verified` checks a file against the published MD5 of its decompressed content
every time it is read (about 0.1 s for the largest file), so a file changed in any way is
never used. A file that is another known file (MNIST's where Fashion-MNIST's belongs, the
test images where the training images belong, ...) is named as such.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import DatasetSpec, get_dataset, identify_digest
from .download import DownloadError, download_verified, mirrors_from_environment
from .idx import DataFileError, parse_idx, read_bytes

DATA_ENV = "RNN_HELPERS_DATA"
CACHE_ENV = "RNN_HELPERS_CACHE"
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")


class DataNotFoundError(FileNotFoundError):
    """A dataset file is nowhere to be found and could not be downloaded."""


def cache_folder(cache_dir: str | os.PathLike[str] | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def default_cache_dir() -> Path:
    """The cache folder: ``$RNN_HELPERS_CACHE``, else ``$XDG_CACHE_HOME/rnn_helpers``,
    else ``~/.cache/rnn_helpers``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rnn_helpers"


@dataclass
class SearchPlace:
    """One folder where a dataset's files may be, and why it is on the list."""

    label: str
    folder: Path | None


def search_places(
    spec: DatasetSpec, data_dir: str | os.PathLike[str] | None, cache_dir: Path
) -> list[SearchPlace]:
    """The folders searched for ``spec``'s files, in order (see the module docstring)."""
    places: list[SearchPlace] = []
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            what = "is a file, not a folder" if root.exists() else "does not exist"
            raise DataNotFoundError(
                f"data_dir {str(root)!r} {what}. Give the folder that holds the {spec.name} files "
                f"({', '.join(f'{n}.gz' for n in spec.files.values())}), or None to look in the "
                "standard places."
            )
        places.append(SearchPlace("data_dir argument", root))
        places += [SearchPlace("data_dir argument", root / name) for name in spec.folder_names]
    env_root = os.environ.get(DATA_ENV)
    if env_root:
        places += [
            SearchPlace(f"${DATA_ENV}", Path(env_root).expanduser() / name) for name in spec.folder_names
        ]
    else:
        places.append(SearchPlace(f"${DATA_ENV} (not set)", None))
    places.append(SearchPlace("cache", cache_dir / spec.name))
    places += [SearchPlace("system datasets", SYSTEM_DATA_ROOT / name) for name in spec.folder_names]
    return places


def find_file(filename: str, places: Sequence[SearchPlace]) -> Path | None:
    """First ``<folder>/<filename>.gz`` or ``<folder>/<filename>`` that exists, else None.

    Raises:
        DataFileError: something stands where the file should be but is no file (a
            folder, a broken or looping symbolic link, a device, ...).
    """
    for place in places:
        if place.folder is None:
            continue
        for candidate in (place.folder / f"{filename}.gz", place.folder / filename):
            try:
                if candidate.is_file():
                    return candidate
                if os.path.lexists(candidate):
                    raise DataFileError(
                        candidate, f"is {_what_is(candidate)}, not a data file.", _REMOVE_HINT
                    )
            except PermissionError:
                raise DataFileError(
                    place.folder,
                    f"this folder ({place.label}) cannot be searched for {filename}: permission denied.",
                    "Make it readable (chmod u+rx), or point data_dir / $RNN_HELPERS_DATA elsewhere.",
                ) from None
    return None


_REMOVE_HINT = "Remove or rename it, and put the real file there (or let load_data() download it)."


def _what_is(path: Path) -> str:
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            return "a symbolic link that loops back on itself"
        except OSError:
            return f"a symbolic link to {os.readlink(path)}, which does not exist"
    if path.is_dir():
        return "a folder"
    return "not a regular file"


def _not_found_message(
    spec: DatasetSpec,
    filename: str,
    places: Sequence[SearchPlace],
    attempts: list[tuple[str, str]],
    download: bool,
    cache_dir: Path,
) -> str:
    looked = "\n".join(f"  - {place.label}: {place.folder if place.folder else '-'}" for place in places)
    if not download:
        tried = "  (downloading was switched off: download=False)"
    else:
        tried = "\n".join(f"  - {url}: {reason}" for url, reason in attempts) or "  (no mirrors)"
    names = ", ".join(f"{name}.gz" for name in spec.files.values())
    return (
        f"Could not find or download {filename}(.gz) of dataset {spec.name!r}.\n"
        f"Looked in:\n{looked}\n"
        f"Tried to download from:\n{tried}\n"
        f"To provide the files by hand, download {names} from one of the mirrors above "
        f"(any faithful copy, gzipped or not, is accepted) and either put them in "
        f"{cache_dir / spec.name}, or put them in <root>/{spec.name}/ and set "
        f"{DATA_ENV}=<root>, or pass data_dir=<folder> to load_data()."
        + (f"\n{spec.install_hint}" if spec.install_hint else "")
    )


def locate_files(
    dataset: str | DatasetSpec = "mnist",
    roles: Sequence[str] = ("train_images", "train_labels", "test_images", "test_labels"),
    *,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> dict[str, Path]:
    """Find (or download into the cache) the files of ``dataset`` for the given roles.

    Returns:
        The path of each requested role. Nothing is verified here; see
        :func:`read_verified`.

    Raises:
        DataNotFoundError: a file is in none of the search places and no mirror gave a
            verified copy; the message lists the places, the mirrors and what to do.
    """
    spec = get_dataset(dataset)
    cache = cache_folder(cache_dir)
    places = search_places(spec, data_dir, cache)
    if mirrors is None:
        mirrors = (*mirrors_from_environment(), *spec.mirrors)
    found: dict[str, Path] = {}
    for role in roles:
        filename = spec.files[role]
        path = find_file(filename, places)
        if path is None:
            attempts: list[tuple[str, str]] = []
            if download and mirrors:
                _checkcache_folder(cache / spec.name)
                try:
                    path = download_verified(
                        f"{filename}.gz",
                        cache / spec.name / f"{filename}.gz",
                        spec.md5[role],
                        mirrors,
                        timeout=timeout,
                        progress=progress,
                    )
                except DownloadError as error:
                    attempts = error.attempts
            if path is None:
                raise DataNotFoundError(_not_found_message(spec, filename, places, attempts, download, cache))
        found[role] = path
    return found


def _checkcache_folder(folder: Path) -> None:
    """Make sure downloads can be stored in ``folder``; a clear error otherwise."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ok = os.access(folder, os.W_OK | os.X_OK)
        reason = "it is not writable"
    except OSError as error:
        ok, reason = False, error.strerror or str(error)
    if not ok:
        raise DataNotFoundError(
            f"Cannot store downloads in the cache folder {folder} ({reason}). "
            f"Set {CACHE_ENV} to a folder you can write to, or provide the files with data_dir "
            f"or {DATA_ENV} (see load_data's documentation)."
        )


def read_verified(path: Path, md5: str, expected_ndim: int, role: str | None = None) -> np.ndarray:
    """Read an IDX file and check its decompressed content against ``md5``.

    Structure is checked first (gzip, magic number, sizes), then the digest.

    Args:
        role: what the file should be (e.g. ``"train_images"``), for the error message.

    Raises:
        DataFileError: the file is damaged, its digest does not match, or it is another
            known file (named in the message).
    """
    data = read_bytes(path)
    digest = hashlib.md5(data).hexdigest()
    if digest != md5:
        known = identify_digest(digest)
        if known is not None:
            other_dataset, other_role = known
            should = f" where {role.replace('_', ' ')} belong" if role else ""
            raise DataFileError(
                path,
                f"this is {other_dataset}'s {other_role.replace('_', ' ')} file, not the expected one"
                f"{should}: the files have been mixed up.",
                "Put the right file in its place (the file names say which is which).",
            )
    array = parse_idx(data, path, expected_ndim)
    if digest != md5:
        raise DataFileError(
            path,
            f"digest mismatch: the decompressed content has MD5 {digest} but the original "
            f"file has {md5}. The file is corrupt, altered, or a different file.",
        )
    return array


def check_pair(
    spec: DatasetSpec, images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path
) -> None:
    if images.shape[1:] != spec.image_shape:
        raise DataFileError(
            image_path,
            f"images are {images.shape[1]}x{images.shape[2]} pixels, but dataset "
            f"{spec.name!r} has {spec.image_shape[0]}x{spec.image_shape[1]} images.",
        )
    if images.shape[0] != labels.shape[0]:
        raise DataFileError(
            image_path,
            f"count mismatch: {images.shape[0]} images but {labels.shape[0]} labels in "
            f"{label_path}. The image and label files do not belong together.",
        )
    if labels.size and labels.max() >= spec.n_classes:
        bad = int(np.argmax(labels >= spec.n_classes))
        raise DataFileError(
            label_path,
            f"bad label value {int(labels[bad])} at index {bad}: labels must be 0-{spec.n_classes - 1}.",
        )
