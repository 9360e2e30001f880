"""The fashion-mnist task reads the official idx files, gzipped (torchvision's download, Debian's
package) or not, from the data root or Debian's folder; a missing dataset is one line naming both
ways to get it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.core.errors import BenchError
from harness.core.registry import TASKS
from tasks import fashion_mnist
from tests.fixtures_fmnist import SPLITS, write_fmnist


@pytest.fixture(autouse=True)
def no_debian_folder(tmp_path, monkeypatch):
    """Tests decide where the data is: Debian's folder is a temporary one (empty unless filled)."""
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", tmp_path / "debian")


@pytest.mark.parametrize("gzipped", [True, False], ids=["gzipped", "uncompressed"])
def test_reads_the_official_split_from_the_data_root(tmp_path, gzipped):
    arrays = write_fmnist(tmp_path / "data" / "FashionMNIST" / "raw", gzipped=gzipped)
    task = TASKS.get("fmnist")(data_root=str(tmp_path / "data"))
    assert task.name == "fashion-mnist"
    train, test = task.train_set(), task.test_set()
    assert (len(train), len(test)) == (SPLITS["train"], SPLITS["t10k"])
    images, labels = train.tensors
    assert images.shape == (SPLITS["train"], 1, 28, 28) and images.dtype == torch.float32
    expected = torch.from_numpy(arrays["train-images-idx3-ubyte"]).float().div(255).unsqueeze(1)
    assert torch.equal(images, expected)
    assert labels.tolist() == arrays["train-labels-idx1-ubyte"].tolist()


def test_finds_debians_folder_when_the_root_has_no_data(tmp_path):
    arrays = write_fmnist(tmp_path / "debian", gzipped=True, seed=3)
    task = TASKS.get("fashion-mnist")(data_root=str(tmp_path / "empty"))
    images, _ = task.test_set().tensors
    assert np.array_equal((images[:, 0] * 255).round().to(torch.uint8).numpy(), arrays["t10k-images-idx3-ubyte"])


def test_a_missing_dataset_names_both_ways_to_get_it(tmp_path):
    task = TASKS.get("fashion-mnist")(data_root=str(tmp_path / "empty"))
    with pytest.raises(BenchError, match="apt-get install dataset-fashion-mnist.*--download"):
        task.test_set()


def test_models_and_budgets(tmp_path):
    task = TASKS.get("fashion-mnist")()
    counts = {arch: sum(p.numel() for p in task.build_model(arch).parameters())
              for arch in ("fmnist_teacher", "fmnist_student")}
    assert 1 / 7 < counts["fmnist_student"] / counts["fmnist_teacher"] < 1 / 5  # about a sixth
    logits = task.build_model("fmnist_student")(torch.zeros(2, 1, 28, 28))
    assert logits.shape == (2, 10)
    assert task.hflip and task.crop_padding > 0
