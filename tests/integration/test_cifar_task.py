"""The CIFAR tasks on a tiny dataset in torchvision's own on-disk format: reading it, the
normalisation and augmentation constants, where the data root comes from, what a missing dataset
or teacher says on the command line, and the reference's per-pair and per-budget settings."""

from __future__ import annotations

import pickle

import pytest
import torch

from harness.engine import teachers
from harness.engine.plan import plan_runs
from tasks.cifar import Cifar10, Cifar100
from tasks.models.cifar import build
from tests.conftest import bench
from tests.fixtures_cifar import FOLDERS, bypass_checksum, write_cifar

N_TRAIN, N_TEST = 40, 20


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    """Both datasets under one root, accepted by torchvision in this process."""
    root = tmp_path / "data"
    write_cifar(root, "cifar10", N_TRAIN, N_TEST, seed=0)
    write_cifar(root, "cifar100", N_TRAIN, N_TEST, seed=1)
    bypass_checksum(monkeypatch)
    return root


def _one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in stderr
    return lines[0]


# -- reading the data -----------------------------------------------------------------------------

@pytest.mark.parametrize("task_cls,classes", [(Cifar10, 10), (Cifar100, 100)], ids=["cifar10", "cifar100"])
def test_task_reads_the_torchvision_folder(task_cls, classes, cifar_root):
    task = task_cls(data_root=str(cifar_root))
    assert task.num_classes == classes
    assert task.image_shape == (3, 32, 32)
    train, test = task.train_set(), task.test_set()
    assert len(train) == N_TRAIN
    assert len(test) == N_TEST
    assert task.has_test_set()
    for dataset in (train, test):
        for index in (0, len(dataset) - 1):
            image, label = dataset[index]
            assert isinstance(image, torch.Tensor)
            assert image.dtype == torch.float32
            assert image.shape == (3, 32, 32)
            assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
            assert isinstance(label, int) and 0 <= label < classes


def test_images_keep_the_channel_major_layout_of_the_files(cifar_root):
    """Pixel (c, y, x) of the first training image is byte c*1024 + y*32 + x of its row / 255."""
    with open(cifar_root / FOLDERS["cifar10"] / "data_batch_1", "rb") as handle:
        batch = pickle.load(handle, encoding="latin1")
    image, label = Cifar10(data_root=str(cifar_root)).train_set()[0]
    expected = torch.from_numpy(batch["data"][0].reshape(3, 32, 32).astype("float32")) / 255
    assert torch.allclose(image, expected, atol=1e-6)
    assert label == batch["labels"][0]


def test_train_images_are_spread_over_the_five_batches(cifar_root):
    sizes = []
    for i in range(1, 6):
        with open(cifar_root / FOLDERS["cifar10"] / f"data_batch_{i}", "rb") as handle:
            sizes.append(len(pickle.load(handle, encoding="latin1")["labels"]))
    assert sum(sizes) == N_TRAIN and all(size > 0 for size in sizes)


def test_dfkd_data_is_the_root_when_none_is_given(cifar_root, monkeypatch):
    monkeypatch.setenv("DFKD_DATA", str(cifar_root))
    task = Cifar10()
    assert task.root == cifar_root
    assert len(task.train_set()) == N_TRAIN


def test_an_explicit_root_wins_over_dfkd_data(cifar_root, tmp_path, monkeypatch):
    monkeypatch.setenv("DFKD_DATA", str(tmp_path / "elsewhere"))
    assert Cifar100(data_root=str(cifar_root)).root == cifar_root
    assert len(Cifar100(data_root=str(cifar_root)).test_set()) == N_TEST


def test_missing_data_is_a_bench_error_in_process(tmp_path):
    from harness.core.errors import BenchError

    empty = tmp_path / "empty"
    empty.mkdir()
    task = Cifar100(data_root=str(empty))
    assert not task.has_test_set()
    with pytest.raises(BenchError, match="cifar100 not found") as caught:
        task.train_set()
    message = str(caught.value)
    assert "cifar-100-python" in message and str(empty) in message and "--download" in message


# -- normalisation and augmentation (docs/methods.md#normalisation-constants) ----------------------

def test_normalisation_constants():
    assert Cifar10.mean == pytest.approx((0.4914, 0.4822, 0.4465))
    assert Cifar10.std == pytest.approx((0.2023, 0.1994, 0.2010))
    assert Cifar100.mean == pytest.approx((0.5071, 0.4867, 0.4408))
    assert Cifar100.std == pytest.approx((0.2675, 0.2565, 0.2761))


@pytest.mark.parametrize("task_cls", [Cifar10, Cifar100])
def test_augmentation_keeps_shape_and_uses_crop_4_and_flip(task_cls):
    task = task_cls()
    assert task.crop_padding == 4
    assert task.hflip is True
    images = torch.rand(6, 3, 32, 32)
    assert task.augment(images).shape == images.shape
    assert task.augment_local(images).shape == images.shape
    assert torch.allclose(task.denormalize(task.normalize(images)), images, atol=1e-5)
    mean = torch.tensor(task.mean).view(1, 3, 1, 1).expand(1, 3, 32, 32)
    assert task.normalize(mean).abs().max() < 1e-5


# -- the command line: missing data, missing teacher, pairs ---------------------------------------

@pytest.fixture(scope="module")
def run_without_data(tmp_path_factory):
    """``bench run`` with a cached (randomly initialised) teacher but an empty data root, run once."""
    tmp = tmp_path_factory.mktemp("no-data-run")
    home, empty, results = tmp / "home", tmp / "no-data", tmp / "results"
    empty.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DFKD_HOME", str(home))
        source = tmp / "wrn40_2.pth"
        torch.save({"state_dict": build("wrn40_2", 10).state_dict()}, source)
        info = teachers.import_checkpoint(Cifar10(data_root=str(empty)), "wrn40_2", source, torch.device("cpu"))
        assert info.path == home / "teachers" / "cifar10" / "wrn40_2.pt" and info.metric is None
        done = bench("run", "--methods", "fast5", "--task", "cifar10", "--data-root", str(empty), "--budget",
                     "smoke", "--pairs", "wrn40_2-wrn16_1", "--device", "cpu", "--results-dir", str(results),
                     "--quiet")
    return done, empty, results


def test_run_without_the_dataset_names_the_folder_and_download(run_without_data):
    done, empty, _ = run_without_data
    assert done.returncode == 2, done.stderr[-3000:]
    line = _one_line_error(done.stderr)
    assert line.startswith("Error: cifar10 not found"), line
    assert str(empty) in line and "cifar-10-batches-py" in line
    assert "--download" in line


def test_run_without_the_dataset_records_no_run(run_without_data):
    """plan.py: "Everything a user can get wrong is checked here, before a run is created in the
    store." A missing dataset is only noticed at the first evaluation, after an epoch of synthesis."""
    from harness.record.tracking import Tracker

    done, _, results = run_without_data
    assert done.returncode == 2
    runs = Tracker(results).runs("cifar10", status=None) if (results / "mlflow.db").exists() else None
    assert runs is None or runs.empty, runs[["status", "tags.dfkd.error"]].to_string()


def test_teacher_train_without_the_dataset(tmp_path, monkeypatch):
    home, empty = tmp_path / "home", tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("DFKD_HOME", str(home))
    done = bench("teacher", "train", "--task", "cifar10", "--arch", "wrn16_1", "--data-root", str(empty),
                 "--epochs", "1", "--device", "cpu")
    assert done.returncode == 2, done.stderr[-3000:]
    line = _one_line_error(done.stderr)
    assert line.startswith("Error: cifar10 not found"), line
    assert str(empty) in line and "--download" in line
    assert not (home / "teachers" / "cifar10").exists() or not any((home / "teachers" / "cifar10").iterdir())


def test_run_without_a_teacher_says_how_to_get_one(tmp_path, monkeypatch, cifar_root):
    """The data is there, the teacher is not: the error prints the commands that provide one."""
    from click.testing import CliRunner

    from harness.cli import cli

    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("DFKD_HOME", str(home))
    results = tmp_path / "results"
    done = CliRunner().invoke(cli, ["run", "--methods", "fast5", "--task", "cifar10", "--pairs", "wrn40_2-wrn16_1",
                                    "--budget", "smoke", "--device", "cpu", "--data-root", str(cifar_root),
                                    "--results-dir", str(results), "--quiet"])
    assert done.exit_code == 2, done.output
    line = _one_line_error(done.stderr)
    assert "bench teacher train --task cifar10 --arch wrn40_2" in line
    assert "bench teacher import PATH --task cifar10 --arch wrn40_2" in line
    assert str(home / "teachers" / "cifar10" / "wrn40_2.pt") in line


def test_list_pairs_of_cifar100():
    done = bench("list", "pairs", "--task", "cifar100")
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.strip().splitlines()]
    assert [row[0] for row in rows] == ["cifar100"] * 5
    assert [row[1] for row in rows] == ["resnet34-resnet18", "vgg11-resnet18", "wrn40_2-wrn16_1",
                                        "wrn40_2-wrn40_1", "wrn40_2-wrn16_2"]
    assert rows[0][2] == "(teacher resnet34, student resnet18)"


# -- the reference's settings (docs/methods.md#cifar-reference-settings, docs/methods.md#decisions) -----

@pytest.mark.parametrize("pair,adv,oh,source", [
    ("resnet34-resnet18", 1.33, 0.5, "pair"),
    ("vgg11-resnet18", 1.0, 0.5, "pair"),
    ("wrn40_2-wrn16_1", 1.1, 0.4, "method default"),
    ("wrn40_2-wrn16_2", 1.1, 0.4, "method default"),
])
def test_fast_weights_per_pair(pair, adv, oh, source):
    spec, = plan_runs("fast5", "cifar10", pair)
    assert spec.config.adv == pytest.approx(adv)
    assert spec.config.oh == pytest.approx(oh)
    assert spec.resolved.sources["adv"] == source
    assert spec.resolved.sources["oh"] == source
    # The pair's paper values are the reference, not a user override.
    assert not any(note.startswith("adv=") or note.startswith("oh=") for note in spec.deviations)


def test_default_budget_is_paper_with_the_reference_step_counts():
    fast5, deepinv, cmi = plan_runs("fast5,deepinv,cmi", "cifar10", "wrn40_2-wrn16_1")
    assert {spec.budget for spec in (fast5, deepinv, cmi)} == {"paper"}
    assert fast5.config.epochs == 220
    assert deepinv.config.g_steps == 2000
    assert cmi.config.g_steps == 500
    assert not any("budget" in note for note in fast5.deviations)
    assert plan_runs("fast5", "cifar100")[0].budget == "paper"


@pytest.mark.parametrize("task,pair", [
    ("cifar100", "wrn40_2-wrn16_1"),
    ("cifar10", "resnet34-resnet18"),
    ("cifar10", "wrn40_2-wrn40_1"),
])
def test_baselines_without_reference_settings_say_so(task, pair):
    spec, = plan_runs("deepinv", task, pair)
    notes = [note for note in spec.deviations if "no reference settings" in note]
    assert len(notes) == 1, spec.deviations
    assert task in notes[0] and pair in notes[0]


def test_deepinv_on_the_reference_cell_has_no_such_note():
    spec, = plan_runs("deepinv", "cifar10", "wrn40_2-wrn16_1")
    assert not any("no reference settings" in note for note in spec.deviations), spec.deviations
    spec, = plan_runs("fast5", "cifar100", "resnet34-resnet18")  # Fast has reference settings everywhere
    assert not any("no reference settings" in note for note in spec.deviations), spec.deviations
