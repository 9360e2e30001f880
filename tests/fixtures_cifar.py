"""Tiny CIFAR-10 / CIFAR-100 datasets in torchvision's on-disk format, for tests.

``write_cifar`` writes the official python pickle layout that ``torchvision.datasets.CIFAR10`` /
``CIFAR100`` read, with random images. The official files are Python 2 pickles whose keys
torchvision reads back as ``str`` (``pickle.load(..., encoding="latin1")``; ``entry["data"]``,
``entry["labels"]`` or ``entry["fine_labels"]``, and the meta file's ``label_names`` /
``fine_label_names``), so the fixture's dicts have ``str`` keys. Their md5 sums are of course not
the official ones, so torchvision refuses them unless ``bypass_checksum(monkeypatch)`` is applied:
it replaces the md5 check by "the file exists", in this process only (a subprocess still checks the
real sums).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}


def _dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=2)


def _images(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3072) uint8 rows: the channel-major 3x32x32 layout of the official files."""
    return rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8)


def _labels(rng: np.random.Generator, n: int, classes: int) -> list[int]:
    return [int(v) for v in rng.integers(0, classes, size=n)]


def write_cifar(root: Path, name: str, n_train: int = 40, n_test: int = 20, seed: int = 0) -> Path:
    """Write ``root/<torchvision folder>`` for ``name`` (cifar10 or cifar100); returns ``root``."""
    if name not in FOLDERS:
        raise ValueError(f"unknown CIFAR name {name!r}: expected one of {sorted(FOLDERS)}")
    root = Path(root)
    folder = root / FOLDERS[name]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    classes = NUM_CLASSES[name]
    train_x, test_x = _images(rng, n_train), _images(rng, n_test)
    train_y, test_y = _labels(rng, n_train, classes), _labels(rng, n_test, classes)
    if name == "cifar10":
        # Five training batches, as in the official release; sizes may differ (some may be small).
        bounds = np.linspace(0, n_train, 6).astype(int)
        for i in range(5):
            lo, hi = bounds[i], bounds[i + 1]
            _dump(folder / f"data_batch_{i + 1}", {"batch_label": f"training batch {i + 1} of 5",
                                                   "labels": train_y[lo:hi], "data": train_x[lo:hi],
                                                   "filenames": [f"train_{j}.png" for j in range(lo, hi)]})
        _dump(folder / "test_batch", {"batch_label": "testing batch 1 of 1", "labels": test_y, "data": test_x,
                                      "filenames": [f"test_{j}.png" for j in range(n_test)]})
        _dump(folder / "batches.meta", {"label_names": [f"class{c}" for c in range(classes)],
                                        "num_cases_per_batch": int(bounds[1] - bounds[0]), "num_vis": 3072})
    else:
        def coarse(fine: list[int]) -> list[int]:
            return [f // 5 for f in fine]  # 20 superclasses of 5 classes each

        _dump(folder / "train", {"batch_label": "training batch 1 of 1", "fine_labels": train_y,
                                 "coarse_labels": coarse(train_y), "data": train_x,
                                 "filenames": [f"train_{j}.png" for j in range(n_train)]})
        _dump(folder / "test", {"batch_label": "testing batch 1 of 1", "fine_labels": test_y,
                                "coarse_labels": coarse(test_y), "data": test_x,
                                "filenames": [f"test_{j}.png" for j in range(n_test)]})
        _dump(folder / "meta", {"fine_label_names": [f"class{c}" for c in range(classes)],
                                "coarse_label_names": [f"super{c}" for c in range(20)]})
    return root


def bypass_checksum(monkeypatch) -> None:
    """Let torchvision accept the fixture's files: every md5 check becomes "the file exists".

    Patches ``CIFAR10._check_integrity`` (inherited by ``CIFAR100``) and the module-level
    ``check_integrity`` that ``_load_meta`` calls. A missing dataset is still reported as missing.
    """
    import torchvision.datasets.cifar as tv_cifar

    def exists(path, md5=None) -> bool:
        return os.path.isfile(path)

    def files_present(self) -> bool:
        return all(exists(os.path.join(self.root, self.base_folder, filename))
                   for filename, _ in self.train_list + self.test_list)

    monkeypatch.setattr(tv_cifar, "check_integrity", exists)
    monkeypatch.setattr(tv_cifar.CIFAR10, "_check_integrity", files_present)
