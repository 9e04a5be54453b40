"""The IDX reader: good files in both forms, and every kind of damaged file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from conftest import idx_bytes, write_file
from rnn_helpers.data.idx import DataFileError, parse_idx, read_bytes, read_idx

IMAGES = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)
LABELS = np.array([3, 7], dtype=np.uint8)


@pytest.mark.parametrize("compress", [True, False])
def test_reads_images_and_labels_gzipped_or_not(tmp_path, compress):
    images = write_file(tmp_path / "img", idx_bytes(IMAGES), compress)
    labels = write_file(tmp_path / "lbl", idx_bytes(LABELS), compress)
    assert np.array_equal(read_idx(images, expected_ndim=3), IMAGES)
    assert np.array_equal(read_idx(labels, expected_ndim=1), LABELS)
    assert read_idx(images).dtype == np.uint8


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    path = write_file(tmp_path / "labels.gz", idx_bytes(LABELS), compress=False)
    assert np.array_equal(read_idx(path, 1), LABELS)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="file not found") as info:
        read_idx(tmp_path / "nope.gz")
    assert "nope.gz" in str(info.value)


def test_truncated_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(IMAGES))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataFileError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "delete it" in str(info.value)


def test_corrupt_gzip(tmp_path):
    packed = bytearray(gzip.compress(idx_bytes(IMAGES)))
    packed[len(packed) // 2 : len(packed) // 2 + 8] = b"\xff" * 8
    packed[-8] ^= 0xFF  # also break the CRC, so the damage is caught wherever it lands
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DataFileError, match="corrupt|truncated"):
        read_idx(path)


@pytest.mark.parametrize(
    "content",
    [
        b"<html><body>403 Forbidden</body></html>",
        bytes([0, 0, 0x0D, 3]) + b"\x00" * 12,  # float data, not unsigned bytes
        bytes([1, 2, 0x08, 1, 0, 0, 0, 0]),
    ],
    ids=["html-page", "float-type", "nonzero-prefix"],
)
def test_wrong_magic_number(tmp_path, content):
    path = write_file(tmp_path / "x.gz", content)
    with pytest.raises(DataFileError, match="wrong magic number"):
        read_idx(path, 3)


def test_wrong_number_of_dimensions(tmp_path):
    path = write_file(tmp_path / "labels.gz", idx_bytes(LABELS))
    with pytest.raises(DataFileError, match="declares 1 dimension.*swapped"):
        read_idx(path, expected_ndim=3)


@pytest.mark.parametrize("cut", [1, 100])
def test_truncated_content(tmp_path, cut):
    path = write_file(tmp_path / "img.gz", idx_bytes(IMAGES)[:-cut])
    with pytest.raises(DataFileError, match=r"size mismatch.*\(2, 28, 28\).*truncated"):
        read_idx(path, 3)


def test_extra_bytes(tmp_path):
    path = write_file(tmp_path / "img.gz", idx_bytes(IMAGES) + b"\x00")
    with pytest.raises(DataFileError, match="longer than declared"):
        read_idx(path, 3)


@pytest.mark.parametrize("content", [b"", b"\x00\x00", bytes([0, 0, 8, 3, 0, 0])])
def test_too_short(tmp_path, content):
    path = write_file(tmp_path / "short", content, compress=False)
    with pytest.raises(DataFileError, match="too short|header is cut short"):
        read_idx(path, 3)


def test_parse_returns_view_with_declared_shape():
    array = parse_idx(idx_bytes(IMAGES), "memory", 3)
    assert array.shape == (2, 28, 28)


def test_read_bytes_passes_plain_files_through(tmp_path):
    path = write_file(tmp_path / "raw", b"\x00\x00\x08\x01\x00\x00\x00\x00", compress=False)
    assert read_bytes(path) == b"\x00\x00\x08\x01\x00\x00\x00\x00"
