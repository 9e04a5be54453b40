"""A small, strict reader for the IDX files MNIST is distributed in.

An IDX file is a 4-byte magic number, one big-endian 32-bit size per dimension, then the
values. MNIST's magic numbers are ``0x00000803`` (images: unsigned bytes, 3 dimensions)
and ``0x00000801`` (labels: unsigned bytes, 1 dimension). Files may be gzip-compressed or
not; gzip is recognised by its content, not by the file name.

Every problem ends in a :class:`DataFileError` that names the file, says what is wrong
and how to fix it, instead of a traceback from deep inside ``gzip`` or ``numpy``.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
UBYTE_TYPE_CODE = 0x08

REPLACE_HINT = (
    "Replace it with a faithful copy of the original file: delete it and call "
    "load_data() again to download a fresh copy, or copy it again by hand."
)


class DataFileError(ValueError):
    """A data file is missing, damaged or not the file it should be."""

    def __init__(self, path: str | os.PathLike[str], problem: str, hint: str = REPLACE_HINT):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem} {hint}".rstrip())


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the content of ``path``, decompressed if it is a gzip file.

    Raises:
        DataFileError: when the file does not exist or its gzip stream is truncated or
            corrupt.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(path, "file not found.", "Check the path or provide the file.") from None
    except OSError as error:
        raise DataFileError(path, f"cannot be read ({error.strerror}).", "Check its permissions.") from None
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataFileError(path, "the gzip data ends too early: the file is truncated.") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DataFileError(path, f"the gzip data is corrupt ({error}).") from None


def parse_idx(data: bytes, path: str | os.PathLike[str], expected_ndim: int | None = None) -> np.ndarray:
    """Parse the bytes of an IDX file of unsigned bytes into a ``uint8`` array.

    Args:
        data: the decompressed file content.
        path: where the bytes came from, used in error messages only.
        expected_ndim: number of dimensions the file must have (3 for images, 1 for
            labels), or ``None`` to accept any.

    Returns:
        A read-only view of ``data`` with the declared shape.

    Raises:
        DataFileError: wrong magic number, wrong number of dimensions, or a declared size
            that does not match the number of bytes present.
    """
    if len(data) < 4:
        raise DataFileError(path, f"only {len(data)} bytes long: too short to be an IDX file.")
    zero, type_code, ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    magic = int.from_bytes(data[0:4], "big")
    if zero != 0 or type_code != UBYTE_TYPE_CODE:
        raise DataFileError(
            path,
            f"wrong magic number 0x{magic:08x}: an IDX file of unsigned bytes starts with "
            f"0x000008NN (NN = number of dimensions). This is not an MNIST-style IDX file.",
        )
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataFileError(
            path,
            f"magic number 0x{magic:08x} declares {ndim} dimension(s) but "
            f"0x{0x800 + expected_ndim:08x} ({expected_ndim} dimension(s)) was expected: "
            "images and labels may have been swapped.",
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataFileError(path, f"the header is cut short ({len(data)} of {header_size} bytes).")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than declared"
        raise DataFileError(
            path,
            f"size mismatch: the header declares shape {shape}, i.e. {expected} bytes in all, "
            f"but the file holds {len(data)} bytes ({what}).",
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def read_idx(path: str | os.PathLike[str], expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or uncompressed) into a ``uint8`` array.

    This does not check digests; :func:`rnn_helpers.data.files.read_verified` does.
    """
    return parse_idx(read_bytes(path), path, expected_ndim)
