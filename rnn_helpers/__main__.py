"""Fetch, verify and summarise a dataset from the command line.

    python -m rnn_helpers                      # MNIST
    python -m rnn_helpers --dataset fashion_mnist
    python -m rnn_helpers --data-dir /path/to/folder --no-download

Exits with status 1 and the loader's explanation when the data cannot be had.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .data import DATASETS, DataFileError, DataNotFoundError, DownloadError, get_dataset, locate_files
from .loading import load_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_helpers", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    parser.add_argument("--data-dir", default=None, help="folder holding the files (searched first)")
    parser.add_argument("--no-download", action="store_true", help="never download; only look locally")
    args = parser.parse_args(argv)
    spec = get_dataset(args.dataset)
    try:
        started = time.perf_counter()
        paths = locate_files(spec, data_dir=args.data_dir, download=not args.no_download)
        x_train, y_train, x_valid, y_valid = load_data("train", spec, args.data_dir, download=False)
        x_test, y_test = load_data("test", spec, args.data_dir, download=False)
        seconds = time.perf_counter() - started
    except (DataNotFoundError, DataFileError, DownloadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{spec.name}: all four files verified ({seconds:.1f} s)")
    for role, path in paths.items():
        print(f"  {role:<13} {path}")
    print(f"  training   {x_train.shape}  validation {x_valid.shape}  test {x_test.shape}")
    counts = (y_train.sum(0) + y_valid.sum(0)).astype(int)
    print(
        f"  examples per class in the training file ({len(y_train) + len(y_valid):,}: training and "
        "validation together): "
        + ", ".join(f"{n}: {c}" for n, c in zip(spec.class_names, counts, strict=True))
    )
    mean = np.concatenate([x_valid, x_train]).mean(dtype=np.float64)
    print(f"  mean training pixel: {mean:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
