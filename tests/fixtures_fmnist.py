"""Tiny Fashion-MNIST splits in the official idx format (big-endian header, uint8 payload), gzipped
or not, for tests: the files torchvision's ``FashionMNIST`` and Debian's package hold."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

SPLITS = {"train": 60, "t10k": 20}


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file: magic (0, 0, type 0x08 = ubyte, number of dimensions), each dimension as a
    big-endian int32, then the data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fmnist(folder: Path, gzipped: bool = True, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the four idx files into ``folder``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in SPLITS.items():
        arrays[f"{split}-images-idx3-ubyte"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}-labels-idx1-ubyte"] = np.arange(n, dtype=np.uint8) % 10
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays
