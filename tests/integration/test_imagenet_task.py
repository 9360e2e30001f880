"""The ImageNet task on a tiny ImageFolder the test writes (three classes of 32 px PNGs, the
real layout): its pairs, its one-line errors, a teacher imported from torchvision's weights
file in the torch hub cache (random weights in the real format, no download), and a smoke run
of the whole pipeline at ``imagenet:image_size=32`` into MLflow (the CIFAR Fast-2 and the reference's
ImageNet synthesizer, fast50_imagenet), a task of its own in the record."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from harness.engine.plan import make_task
from harness.record.tracking import Tracker
from tests.conftest import bench

WNIDS = ("n01440764", "n01443537", "n01484850")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 4)):
        for wnid in WNIDS:
            folder = root / "imagenet" / split / wnid
            folder.mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"{wnid}_{i}.JPEG",
                                                                                      format="PNG")
    return root


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A torch hub cache holding torchvision's resnet50 weights file: random weights, real format."""
    home = tmp_path_factory.mktemp("torch-home")
    name = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet50().state_dict(), home / "hub" / "checkpoints" / name)
    return home


def env_with(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def test_the_task_reads_the_imagefolder_layout_at_the_option_size(data_root):
    task = make_task("imagenet:image_size=32", str(data_root))
    assert task.spec == "imagenet:image_size=32" and task.image_shape == (3, 32, 32)
    assert make_task("imagenet").spec == "imagenet" and make_task("imagenet").image_shape == (3, 224, 224)
    images, label = task.test_set()[0]
    assert images.shape == (3, 32, 32) and 0 <= float(images.min()) and float(images.max()) <= 1
    assert len(task.train_set()) == 18 and len(task.test_set()) == 12 and label == 0
    assert task.build_model("mobilenet_v2").eval()(task.normalize(images[None])).shape == (1, 1000)


def test_pairs_and_one_line_errors(tmp_path):
    listed = bench("list", "pairs", "--task", "imagenet")
    assert [line.split("\t")[1] for line in listed.stdout.splitlines()] == [
        "resnet50-resnet50", "resnet50-resnet18", "resnet50-mobilenet_v2"]
    missing = bench("run", "--methods", "kd", "--task", "imagenet", "--data-root", str(tmp_path), "--budget", "smoke",
                    "--results-dir", str(tmp_path / "results"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"Error: imagenet not found: no {tmp_path}/imagenet/val (torchvision's ImageFolder layout: "
        f"{tmp_path}/imagenet/train/<wnid>/*.JPEG and {tmp_path}/imagenet/val/<wnid>/*.JPEG; --data-root or "
        f"DFKD_DATA point at the folder that holds imagenet/)")
    bad = bench("run", "--methods", "kd", "--task", "imagenet:image_sise=32", "--results-dir", str(tmp_path / "r"))
    assert bad.returncode == 2 and "unknown option for task imagenet 'image_sise'. Did you mean 'image_size'?" \
        in bad.stderr
    assert "invalid value 'big' for task option image_size" in bench("run", "--methods", "kd", "--task",
                                                                     "imagenet:image_size=big").stderr
    assert not (tmp_path / "r").exists()  # refused while planning: no store
    assert not (tmp_path / "results").exists()  # missing data refused before any store or run begins


def test_a_teacher_from_torchvision_weights_missing_then_imported(data_root, hub, tmp_path):
    empty = tmp_path / "empty-torch-home"
    refused = subprocess_bench(env_with(TORCH_HOME=str(empty)), "teacher", "import", "--from-torchvision",
                               "--task", "imagenet", "--arch", "resnet50")
    name = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    assert refused.returncode == 2
    assert f"put {name} (from https://download.pytorch.org/models/{name}) at {empty}/hub/checkpoints/{name}" \
        in refused.stderr
    done = subprocess_bench(env_with(TORCH_HOME=str(hub)), "teacher", "import", "--from-torchvision",
                            "--task", "imagenet:image_size=32", "--arch", "resnet50", "--data-root", str(data_root),
                            "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("teacher resnet50 for imagenet: acc ")


def subprocess_bench(env, *args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_a_smoke_run_of_the_variant_is_a_task_of_its_own_in_the_record(data_root, hub, tmp_path):
    imported = subprocess_bench(env_with(TORCH_HOME=str(hub)), "teacher", "import", "--from-torchvision",
                                "--task", "imagenet", "--arch", "resnet50", "--data-root", str(data_root),
                                "--device", "cpu")
    assert imported.returncode == 0, imported.stderr
    results = tmp_path / "results"
    done = bench("run", "--methods", "fast2,fast50_imagenet", "--task", "imagenet:image_size=32", "--pairs",
                 "resnet50-resnet18",
                 "--budget", "smoke", "--device", "cpu", "--data-root", str(data_root), "--results-dir", str(results),
                 "--quiet")
    assert done.returncode == 0, done.stderr
    runs = Tracker(results, create=False).runs("imagenet:image_size=32")
    assert sorted(runs["tags.dfkd.method"]) == ["fast2", "fast50_imagenet"]
    for _, run in runs.iterrows():
        assert run["tags.dfkd.task"] == "imagenet:image_size=32" and run["tags.dfkd.pair"] == "resnet50-resnet18"
        assert 0 <= run["metrics.best/acc"] <= 1 and run["metrics.synth/images"] == 16  # 2 rounds of 8
    variant = runs[runs["tags.dfkd.method"] == "fast50_imagenet"].iloc[0]
    assert "no pre-synthesised initial image folder" in variant["tags.dfkd.deviations"]
    assert variant["params.adv"] == "0.01" and variant["params.lr"] == "0.01"  # the logs' ResNet-18 run
    assert Tracker(results, create=False).runs("imagenet").empty  # the default task's record is apart
    board = bench("leaderboard", "--task", "imagenet:image_size=32", "--results-dir", str(results))
    assert board.returncode == 0 and "ResNet-50 / ResNet-18" in board.stdout and "fast50_imagenet" in board.stdout
