"""load_data on synthetic files: the original's contract, the search order, verification
and every error a learner can run into."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import idx_bytes, leftover_files, make_synthetic
from rnn_helpers import DataFileError, DataNotFoundError, load_data, to_one_hot
from rnn_helpers.data.datasets import class_names, get_dataset
from rnn_helpers.data.files import default_cache_dir


def test_train_mode_contract(synthetic):
    x_train, y_train, x_valid, y_valid = load_data(
        "train", synthetic.spec, synthetic.folder, validation_size=10
    )
    assert x_train.shape == (30, 784) and x_valid.shape == (10, 784)
    assert y_train.shape == (30, 10) and y_valid.shape == (10, 10)
    for array in (x_train, y_train, x_valid, y_valid):
        assert array.dtype == np.float32
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    images = synthetic.arrays["train_images"].reshape(40, 784) / 255.0
    labels = synthetic.arrays["train_labels"]
    # the validation set is the *first* images of the training file
    np.testing.assert_allclose(x_valid, images[:10], rtol=1e-6)
    np.testing.assert_allclose(x_train, images[10:], rtol=1e-6)
    assert np.array_equal(y_valid.argmax(1), labels[:10])
    assert np.array_equal(y_train.argmax(1), labels[10:])
    assert np.all(y_train.sum(1) == 1.0)


def test_test_mode_and_other_shapes(synthetic):
    x_test, y_test = load_data("test", synthetic.spec, synthetic.folder)
    assert x_test.shape == (20, 784) and y_test.shape == (20, 10)
    x_img, y_int = load_data("test", synthetic.spec, synthetic.folder, flatten=False, one_hot=False)
    assert x_img.shape == (20, 28, 28) and y_int.dtype == np.int64
    assert np.array_equal(y_int, synthetic.arrays["test_labels"])
    np.testing.assert_allclose(x_img.reshape(20, -1), x_test)


def test_uncompressed_files_are_accepted(tmp_path, cache_dir):
    data = make_synthetic(tmp_path / "gz")
    plain = tmp_path / "plain"
    plain.mkdir()
    for role, content in data.contents.items():
        (plain / data.spec.files[role]).write_bytes(content)
    x, y = load_data("test", data.spec, plain)
    assert x.shape == (20, 784)


def test_one_hot():
    assert np.array_equal(to_one_hot(np.array([2, 0]), 3), np.array([[0, 0, 1], [1, 0, 0]], np.float32))


def test_zero_validation_size(synthetic):
    x_train, _, x_valid, _ = load_data("train", synthetic.spec, synthetic.folder, validation_size=0)
    assert len(x_train) == 40 and len(x_valid) == 0


@pytest.mark.parametrize("bad", [-1, 40, 1000, 2.5, True])
def test_bad_validation_size(synthetic, bad):
    with pytest.raises(ValueError, match="validation_size"):
        load_data("train", synthetic.spec, synthetic.folder, validation_size=bad)


def test_unknown_mode(synthetic):
    with pytest.raises(ValueError, match="Unknown mode 'valid'.*'train' or 'test'"):
        load_data("valid", synthetic.spec, synthetic.folder)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar10'.*'mnist'.*'fashion_mnist'"):
        load_data("train", "cifar10")


def test_dataset_names_and_classes():
    assert get_dataset("Fashion-MNIST").name == "fashion_mnist"
    assert class_names("fashion_mnist")[9] == "Ankle boot"
    assert class_names()[3] == "3"


def test_digest_mismatch_names_the_file(synthetic):
    content = bytearray(synthetic.contents["train_images"])
    content[-1] ^= 0x01  # one pixel off by one: structurally perfect, not the original
    synthetic.rewrite("train_images", bytes(content))
    with pytest.raises(DataFileError, match="digest mismatch") as info:
        load_data("train", synthetic.spec, synthetic.folder, validation_size=10)
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert "delete it" in str(info.value)


def test_bad_label_value(synthetic):
    labels = synthetic.arrays["train_labels"].copy()
    labels[7] = 12
    synthetic.rewrite("train_labels", idx_bytes(labels), update_digest=True)
    with pytest.raises(DataFileError, match="bad label value 12 at index 7") as info:
        load_data("train", synthetic.spec, synthetic.folder, validation_size=10)
    assert "train-labels-idx1-ubyte.gz" in str(info.value)


def test_count_mismatch(synthetic):
    synthetic.rewrite("test_labels", idx_bytes(synthetic.arrays["test_labels"][:-1]), update_digest=True)
    with pytest.raises(DataFileError, match="count mismatch: 20 images but 19 labels"):
        load_data("test", synthetic.spec, synthetic.folder)


def test_wrong_image_size(synthetic):
    synthetic.rewrite("test_images", idx_bytes(np.zeros((20, 27, 28), np.uint8)), update_digest=True)
    with pytest.raises(DataFileError, match="27x28 pixels.*28x28"):
        load_data("test", synthetic.spec, synthetic.folder)


def test_damaged_file_is_reported_not_skipped(synthetic, tmp_path, monkeypatch):
    """A damaged file in an early search place is an error, even when a good copy lies later."""
    good_root = tmp_path / "root"
    make_synthetic(good_root / "synthetic")
    monkeypatch.setenv("RNN_HELPERS_DATA", str(good_root))
    synthetic.path("test_images").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataFileError, match="gzip"):
        load_data("test", synthetic.spec, synthetic.folder)


def test_search_order(tmp_path, cache_dir, monkeypatch):
    # Three different (valid) copies; which one is loaded shows which place won.
    env_root, explicit = tmp_path / "env", tmp_path / "explicit"
    in_cache = make_synthetic(cache_dir / "synthetic", seed=1)
    in_env = make_synthetic(env_root / "synthetic", seed=2)
    in_arg = make_synthetic(explicit, seed=3)
    # Each copy's spec accepts only that copy, so which place is read first shows in the result.
    x, _ = load_data("test", in_arg.spec, explicit)
    assert np.allclose(x[0] * 255, in_arg.arrays["test_images"][0].ravel())
    monkeypatch.setenv("RNN_HELPERS_DATA", str(env_root))
    x, _ = load_data("test", in_env.spec)  # no data_dir: the environment variable wins over the cache
    assert np.allclose(x[0] * 255, in_env.arrays["test_images"][0].ravel())
    with pytest.raises(DataFileError, match="digest mismatch"):
        load_data("test", in_cache.spec)  # the env copy is found first and is not the cache's file
    monkeypatch.delenv("RNN_HELPERS_DATA")
    x, _ = load_data("test", in_cache.spec)
    assert np.allclose(x[0] * 255, in_cache.arrays["test_images"][0].ravel())


def test_data_dir_may_be_a_root_with_the_dataset_folder(tmp_path, cache_dir):
    data = make_synthetic(tmp_path / "root" / "synthetic")
    x, _ = load_data("test", data.spec, tmp_path / "root")
    assert len(x) == 20


def test_alias_folder_names(tmp_path, cache_dir):
    from dataclasses import replace

    data = make_synthetic(tmp_path / "root" / "synthetic-set")
    spec = replace(data.spec, aliases=("synthetic-set",))
    x, _ = load_data("test", spec, tmp_path / "root")
    assert len(x) == 20


def test_a_file_changed_in_place_is_never_trusted(synthetic, cache_dir):
    """Size, modification time and inode all kept, content altered: still rejected."""
    load_data("test", synthetic.spec, synthetic.folder)
    path = synthetic.path("test_labels", compressed=False)
    synthetic.path("test_labels").unlink()
    path.write_bytes(synthetic.contents["test_labels"])  # an uncompressed copy
    x, y = load_data("test", synthetic.spec, synthetic.folder)
    before = path.stat()
    content = bytearray(path.read_bytes())
    content[8] = (content[8] + 1) % 10  # the first label, changed in place
    with open(path, "r+b") as handle:
        handle.write(bytes(content))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    with pytest.raises(DataFileError, match="digest mismatch"):
        load_data("test", synthetic.spec, synthetic.folder)


def test_unwritable_cache_still_loads(synthetic, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    x, _ = load_data("test", synthetic.spec, synthetic.folder, cache_dir=blocker / "cache")
    assert len(x) == 20


def test_not_found_without_download(tmp_path, cache_dir):
    data = make_synthetic(tmp_path / "elsewhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError) as info:
        load_data("train", data.spec, tmp_path / "empty", download=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message
    assert "data_dir argument" in message and "cache" in message and "/usr/share/datasets" in message
    assert "download=False" in message
    assert "RNN_HELPERS_DATA" in message and "data_dir=" in message
    assert leftover_files(cache_dir) == []


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RNN_HELPERS_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RNN_HELPERS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "rnn_helpers"


def test_a_data_dir_that_does_not_exist_is_an_error(tmp_path, cache_dir):
    data = make_synthetic(cache_dir / "synthetic")  # a good copy in the cache is not used instead
    with pytest.raises(DataNotFoundError, match="data_dir '.*typo' does not exist. Give the folder"):
        load_data("test", data.spec, tmp_path / "typo")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(DataNotFoundError, match="is a file, not a folder"):
        load_data("test", data.spec, tmp_path / "a-file")


@pytest.mark.parametrize("kind", ["folder", "loop", "dangling"])
def test_something_else_in_a_data_files_place_is_named(synthetic, kind):
    place = synthetic.path("test_images")
    place.unlink()
    if kind == "folder":
        place.mkdir()
        expected = "is a folder, not a data file"
    elif kind == "loop":
        place.symlink_to(place.name)
        expected = "is a symbolic link that loops back on itself"
    else:
        place.symlink_to("nowhere.gz")
        expected = "is a symbolic link to nowhere.gz, which does not exist"
    with pytest.raises(DataFileError, match=expected) as info:
        load_data("test", synthetic.spec, synthetic.folder)
    assert "Remove or rename it" in str(info.value)


def test_a_known_file_in_the_wrong_place_is_named(synthetic):
    """The test labels where the training labels belong: said plainly, not "corrupt"."""
    from dataclasses import replace

    from rnn_helpers.data.datasets import DATASETS

    # make the synthetic files "known" the way MNIST's and Fashion-MNIST's are
    spec = replace(synthetic.spec, name="synthetic")
    fake = {"synthetic": spec}
    synthetic.path("train_labels").write_bytes(synthetic.path("test_labels").read_bytes())
    original = dict(DATASETS)
    DATASETS.update(fake)
    try:
        with pytest.raises(
            DataFileError, match="this is synthetic's test labels file, not the expected one"
        ) as info:
            load_data("train", spec, synthetic.folder, validation_size=10)
    finally:
        DATASETS.clear()
        DATASETS.update(original)
    assert "where train labels belong: the files have been mixed up" in str(info.value)
    assert "Put the right file in its place" in str(info.value)


def test_a_cache_that_cannot_be_written_says_so(tmp_path, monkeypatch):
    from rnn_helpers.data.files import DataNotFoundError as NotFound

    blocker = tmp_path / "a-file"
    blocker.write_text("RNN_HELPERS_CACHE names a file")
    monkeypatch.setenv("RNN_HELPERS_CACHE", str(blocker))
    monkeypatch.delenv("RNN_HELPERS_DATA", raising=False)
    data = make_synthetic(tmp_path / "elsewhere")
    spec = __import__("dataclasses").replace(data.spec, mirrors=("http://127.0.0.1:9/",))
    with pytest.raises(NotFound, match="Cannot store downloads in the cache folder .*RNN_HELPERS_CACHE"):
        load_data("test", spec, download=True)


def test_fashion_mnist_not_found_mentions_the_debian_package(tmp_path, cache_dir, monkeypatch):
    import rnn_helpers.data.files as files

    monkeypatch.setattr(files, "SYSTEM_DATA_ROOT", tmp_path / "no-system-data")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="apt install dataset-fashion-mnist"):
        load_data("test", "fashion_mnist", tmp_path / "empty", download=False)


def test_command_line_summary(monkeypatch, capsys, tmp_path, cache_dir):
    from rnn_helpers.__main__ import main

    assert main(["--dataset", "mnist", "--data-dir", str(tmp_path), "--no-download"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Could not find or download") and "download=False" in err


def test_an_unreadable_data_folder_is_named_with_the_fix(tmp_path, cache_dir):
    """As a user who may not enter the folder: a DataFileError naming it, not a PermissionError."""
    import shutil
    import subprocess
    import sys
    import tempfile

    place = Path(tempfile.mkdtemp(prefix="rnn-data-"))
    try:
        (place / "mnist").mkdir()
        place.chmod(0o755)
        (place / "mnist").chmod(0o000)
        code = (
            "import sys\nfrom rnn_helpers import DataFileError, load_data\n"
            "try:\n    load_data('test', data_dir=sys.argv[1], download=False)\n"
            "except DataFileError as error:\n    print('DataFileError', error)\n"
        )
        command = [sys.executable, "-c", code, str(place)]
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.skip("needs setpriv to drop root's privileges")
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        env = dict(
            os.environ,
            PYTHONPATH=str(Path(__file__).resolve().parents[1]),
            RNN_HELPERS_CACHE=str(place / "c"),
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
        assert done.stdout.startswith("DataFileError"), done.stdout + done.stderr
        assert (
            "cannot be searched" in done.stdout
            and "chmod u+rx" in done.stdout
            and "Traceback" not in done.stderr
        )
    finally:
        (place / "mnist").chmod(0o755)
        shutil.rmtree(place)
