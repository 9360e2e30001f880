"""Tiny NYUv2 datasets in the extracted on-disk layout (docs/methods.md#nyuv2-data-layout), for tests.

``write_nyuv2`` writes ``root/NYUv2/image/{train,test}/NNNNN.png`` (random RGB) and
``root/NYUv2/seg13/{train,test}/NNNNN.png`` (uint8 labels 0..12 with some 255 = ignore pixels).
The default 48x64 frames have the real 480x640 aspect, so the 256 resize gives 256x341 as well.
``write_frame`` writes (or replaces) one image/label pair, e.g. the ``halves`` pattern.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

NUM_CLASSES = 13
IGNORE = 255


def write_frame(root: Path, split: str, index: int, image: np.ndarray, label: np.ndarray) -> None:
    """Write frame ``index`` (1-based, as the real files) of ``split``: ``image`` HxWx3 uint8, ``label`` HxW uint8."""
    name = f"{index:05d}.png"
    for kind, array in (("image", image), ("seg13", label)):  # HxWx3 uint8 -> RGB, HxW uint8 -> L
        folder = Path(root) / "NYUv2" / kind / split
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(folder / name)


def write_nyuv2(root: Path, n_train: int = 4, n_test: int = 3, size: tuple[int, int] = (48, 64),
                seed: int = 0) -> Path:
    """Write a random dataset with ``n_train`` / ``n_test`` frames of ``size`` (H, W); returns ``root``."""
    rng = np.random.default_rng(seed)
    height, width = size
    index = 1
    for split, count in (("train", n_train), ("test", n_test)):
        for _ in range(count):
            image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
            label = rng.integers(0, NUM_CLASSES, size=(height, width), dtype=np.uint8)
            label[rng.random((height, width)) < 0.1] = IGNORE
            write_frame(root, split, index, image, label)
            index += 1
    return Path(root)


def halves(size: tuple[int, int] = (48, 64)) -> tuple[np.ndarray, np.ndarray]:
    """A frame whose left half is white (label 1) and right half black (label 2)."""
    height, width = size
    image = np.zeros((height, width, 3), dtype=np.uint8)
    label = np.full((height, width), 2, dtype=np.uint8)
    image[:, : width // 2] = 255
    label[:, : width // 2] = 1
    return image, label
