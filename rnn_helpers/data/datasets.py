"""The datasets the tutorial can load: their files, digests, mirrors and class names.

Each dataset is a :class:`DatasetSpec`. ``load_data`` accepts either the name of one of
the built-in specs (``"mnist"``, ``"fashion_mnist"``) or a spec object, which is how the
tests load small synthetic files through exactly the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The four files of an MNIST-style dataset, by role.
FILE_ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, fetch and check one MNIST-style dataset.

    Attributes:
        name: short identifier, also the folder name under a data root and the cache.
        files: file name (without ``.gz``) for each role in :data:`FILE_ROLES`.
        md5: MD5 digest of the *decompressed* content of each file, by role. Verifying
            the decompressed bytes accepts any faithful copy, however it was compressed.
        mirrors: base URLs tried in order when the files have to be downloaded; each
            serves ``<base><file>.gz``.
        class_names: one readable name per class, in label order.
        aliases: other folder names the files may live under (Debian, for instance,
            installs Fashion-MNIST as ``/usr/share/datasets/fashion-mnist``).
        image_shape: (rows, columns) every image must have.
        install_hint: another way to get the files, for the "not found" message.
        n_images: how many images the training and the test file hold.
    """

    name: str
    files: dict[str, str]
    md5: dict[str, str]
    mirrors: tuple[str, ...]
    class_names: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    image_shape: tuple[int, int] = (28, 28)
    install_hint: str = ""
    n_images: tuple[int, int] = (60000, 10000)

    @property
    def folder_names(self) -> tuple[str, ...]:
        """Folder names this dataset may be stored under, preferred first."""
        return (self.name, *self.aliases)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


_STANDARD_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

MNIST = DatasetSpec(
    name="mnist",
    files=dict(_STANDARD_FILES),
    md5={
        "train_images": "6bbc9ace898e44ae57da46a324031adb",
        "train_labels": "a25bea736e30d166cdddb491f175f624",
        "test_images": "2646ac647ad5339dbf082846283269ea",
        "test_labels": "27ae3e4e09519cfbb04c329615203637",
    },
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    class_names=tuple(str(digit) for digit in range(10)),
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    files=dict(_STANDARD_FILES),
    md5={
        "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
        "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
        "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    aliases=("fashion-mnist",),
    install_hint=(
        "On Debian or Ubuntu, `sudo apt install dataset-fashion-mnist` installs the four files in "
        "/usr/share/datasets/fashion-mnist/, where they are found without any setting."
    ),
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}


def get_dataset(dataset: str | DatasetSpec) -> DatasetSpec:
    """Return the spec for ``dataset`` (a name from :data:`DATASETS`, or a spec itself).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(dataset, DatasetSpec):
        return dataset
    key = str(dataset).strip().lower().replace("-", "_")
    if key not in DATASETS:
        known = ", ".join(repr(name) for name in DATASETS)
        raise ValueError(f"Unknown dataset {dataset!r}: choose one of {known}.")
    return DATASETS[key]


def class_names(dataset: str | DatasetSpec = "mnist") -> tuple[str, ...]:
    """Readable class names of ``dataset``, indexed by label ("0".."9" for MNIST)."""
    return get_dataset(dataset).class_names


def identify_digest(md5: str) -> tuple[str, str] | None:
    """``(dataset name, role)`` of the built-in file whose decompressed MD5 is ``md5``, else None."""
    for spec in DATASETS.values():
        for role, digest in spec.md5.items():
            if digest == md5:
                return spec.name, role
    return None
