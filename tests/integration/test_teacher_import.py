"""``bench teacher import``: the reference's ``{'state_dict': ...}`` format, a bare state dict and a
DataParallel ``module.`` prefix are cached as a teacher (evaluated when the test split is there);
checkpoints that do not fit, or are no checkpoints at all, are one-line errors that cache nothing.

The fixture dataset's md5 sums are not the official ones, so the commands that read it run in
process (``CliRunner``) with the checksum bypassed; one failure case also runs as a subprocess."""

from __future__ import annotations

import re

import pytest
import torch
from click.testing import CliRunner

from harness.cli import cli
from harness.engine import teachers
from tasks.cifar import Cifar10
from tasks.models.cifar import build
from tests.conftest import bench
from tests.fixtures_cifar import bypass_checksum, write_cifar

ARCH = "wrn16_1"


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "dfkd-home"
    monkeypatch.setenv("DFKD_HOME", str(path))
    return path


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = write_cifar(tmp_path / "data", "cifar10", n_train=8, n_test=20)
    bypass_checksum(monkeypatch)
    return root


@pytest.fixture
def empty_root(tmp_path):
    path = tmp_path / "no-data"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def state_dict():
    torch.manual_seed(0)
    return build(ARCH, 10).state_dict()


def cached(home):
    return home / "teachers" / "cifar10" / f"{ARCH}.pt"


def cache_is_empty(home) -> bool:
    folder = home / "teachers" / "cifar10"
    return not folder.exists() or not any(folder.iterdir())


def import_(path, root, arch=ARCH):
    return CliRunner().invoke(cli, ["teacher", "import", str(path), "--task", "cifar10", "--arch", arch,
                                    "--device", "cpu", "--data-root", str(root)])


def assert_same_tensors(stored: dict, expected: dict) -> None:
    assert list(stored) == list(expected)
    for key, value in expected.items():
        assert stored[key].dtype == value.dtype, key
        assert torch.equal(stored[key], value), key


def test_reference_format_is_evaluated_and_cached(tmp_path, home, data_root, state_dict, cpu):
    source = tmp_path / "wrn16_1_cifar10.pth"
    torch.save({"state_dict": state_dict, "epoch": 3, "arch": ARCH, "best_acc1": 0.5}, source)

    outcome = import_(source, data_root)
    assert outcome.exit_code == 0, (outcome.output, outcome.exception)
    line = outcome.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"teacher wrn16_1 for cifar10: acc (\d\.\d{4}), saved to (.+) \(sha256 ([0-9a-f]{12})\)",
                         line)
    assert match, line
    assert match.group(2) == str(cached(home))

    stored = torch.load(cached(home), map_location="cpu", weights_only=True)
    assert_same_tensors(stored["state_dict"], state_dict)
    assert stored["arch"] == ARCH and stored["task"] == "cifar10"
    assert 0.0 <= stored["metrics"]["acc"] <= 1.0
    assert 0.0 <= stored["metrics"]["top5"] <= 1.0
    assert stored["metrics"]["acc"] <= stored["metrics"]["top5"]
    assert float(match.group(1)) == pytest.approx(stored["metrics"]["acc"], abs=5e-5)
    assert stored["source"] == str(source)
    assert stored["source_sha256"] == teachers.sha256_of(source)

    model, info = teachers.load(Cifar10(data_root=str(data_root)), ARCH, cpu)
    assert not model.training and not any(m.training for m in model.modules())
    assert not any(p.requires_grad for p in model.parameters())
    assert info.path == cached(home)
    assert info.metric == stored["metrics"]["acc"]
    assert re.fullmatch(r"[0-9a-f]{64}", info.sha256)
    assert info.sha256 == teachers.sha256_of(cached(home))
    assert info.sha256.startswith(match.group(3))
    assert_same_tensors(model.state_dict(), state_dict)
    # The metric is the teacher's real accuracy on the fixture's test split.
    assert info.metric == pytest.approx(Cifar10(data_root=str(data_root)).evaluate(model, cpu)["acc"])


def test_bare_state_dict(tmp_path, home, data_root, state_dict):
    source = tmp_path / "bare.pt"
    torch.save(state_dict, source)
    outcome = import_(source, data_root)
    assert outcome.exit_code == 0, (outcome.output, outcome.exception)
    assert "acc " in outcome.stdout
    stored = torch.load(cached(home), map_location="cpu", weights_only=True)
    assert_same_tensors(stored["state_dict"], state_dict)


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "reference-format"])
def test_data_parallel_prefix_is_stripped(tmp_path, home, data_root, state_dict, wrapped):
    prefixed = {f"module.{k}": v for k, v in state_dict.items()}
    source = tmp_path / "dp.pth"
    torch.save({"state_dict": prefixed, "epoch": 199} if wrapped else prefixed, source)
    outcome = import_(source, data_root)
    assert outcome.exit_code == 0, (outcome.output, outcome.exception)
    stored = torch.load(cached(home), map_location="cpu", weights_only=True)
    assert not any(k.startswith("module.") for k in stored["state_dict"])
    assert_same_tensors(stored["state_dict"], state_dict)


def test_without_the_dataset_the_teacher_is_cached_unevaluated(tmp_path, home, empty_root, state_dict, cpu):
    source = tmp_path / "t.pth"
    torch.save({"state_dict": state_dict}, source)
    outcome = import_(source, empty_root)
    assert outcome.exit_code == 0, (outcome.output, outcome.exception)
    assert "not evaluated" in outcome.stdout
    stored = torch.load(cached(home), map_location="cpu", weights_only=True)
    assert stored["metrics"] == {}
    assert_same_tensors(stored["state_dict"], state_dict)
    _, info = teachers.load(Cifar10(data_root=str(empty_root)), ARCH, cpu)
    assert info.metric is None


# -- failures: one line, exit 2, nothing cached -----------------------------------------------------

def one_line_error(outcome) -> str:
    assert outcome.exit_code == 2, (outcome.output, outcome.exception)
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in outcome.output
    return lines[0]


def test_wrong_keys(tmp_path, home, empty_root):
    source = tmp_path / "resnet18.pth"
    torch.save({"state_dict": build("resnet18", 10).state_dict()}, source)
    line = one_line_error(import_(source, empty_root))
    assert "does not fit the architecture" in line
    assert str(source) in line
    missing = re.search(r"missing keys: ([^;)]*)", line)
    assert missing, line
    listed = missing.group(1)
    assert listed.endswith(" ..."), listed
    names = listed.removesuffix(" ...").split(", ")
    assert len(names) == 3, names
    assert all(name in build(ARCH, 10).state_dict() for name in names)
    assert "unexpected keys: " in line
    assert cache_is_empty(home)


def test_wrong_shapes(tmp_path, home, empty_root):
    source = tmp_path / "wrn16_1_100.pth"
    torch.save({"state_dict": build(ARCH, 100).state_dict()}, source)
    line = one_line_error(import_(source, empty_root))
    assert "does not fit the architecture" in line
    assert "shape mismatches: fc.weight (100, 64) vs (10, 64), fc.bias (100,) vs (10,)" in line
    assert "missing keys" not in line and "unexpected keys" not in line
    assert cache_is_empty(home)


def test_a_partial_state_dict_lists_what_is_missing(tmp_path, home, empty_root, state_dict):
    source = tmp_path / "partial.pth"
    torch.save({k: v for k, v in state_dict.items() if not k.startswith("fc.")}, source)
    line = one_line_error(import_(source, empty_root))
    assert "missing keys: fc.weight, fc.bias)" in line  # two names: no ellipsis
    assert cache_is_empty(home)


@pytest.mark.parametrize("content,message", [
    ("text", "is not a readable PyTorch checkpoint"),
    ([1, 2], "is not a checkpoint: expected a state dict or {'state_dict': ...}"),
    ({}, "is not a checkpoint: expected a state dict or {'state_dict': ...}"),
    ({"state_dict": {"conv1.weight": 1.0}}, "is not a checkpoint: its state_dict does not map names to tensors"),
    ({"state_dict": [1, 2]}, "is not a checkpoint: its state_dict does not map names to tensors"),
], ids=["text-file", "list", "empty-dict", "non-tensor-values", "state-dict-not-a-dict"])
def test_not_a_checkpoint(tmp_path, home, empty_root, content, message):
    source = tmp_path / "not-a-checkpoint.pt"
    if content == "text":
        source.write_text("these are not the weights you are looking for\n")
    else:
        torch.save(content, source)
    line = one_line_error(import_(source, empty_root))
    assert message in line
    assert str(source) in line
    assert cache_is_empty(home)


def test_a_missing_file(tmp_path, home, empty_root):
    line = one_line_error(import_(tmp_path / "nope.pth", empty_root))
    assert "does not exist" in line
    assert cache_is_empty(home)


def test_failure_is_one_line_in_a_real_process(tmp_path, home, empty_root):
    source = tmp_path / "notes.txt"
    source.write_text("not a checkpoint")
    done = bench("teacher", "import", str(source), "--task", "cifar10", "--arch", ARCH, "--device", "cpu",
                 "--data-root", str(empty_root))
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr[-3000:]
    assert "is not a readable PyTorch checkpoint" in lines[0]
    assert "Traceback" not in done.stderr
    assert cache_is_empty(home)


def test_a_failed_import_keeps_the_previous_teacher(tmp_path, home, empty_root, state_dict):
    good = tmp_path / "good.pth"
    torch.save(state_dict, good)
    assert import_(good, empty_root).exit_code == 0
    before = teachers.sha256_of(cached(home))
    bad = tmp_path / "bad.pth"
    torch.save(build(ARCH, 100).state_dict(), bad)
    one_line_error(import_(bad, empty_root))
    assert teachers.sha256_of(cached(home)) == before
    assert [p.name for p in cached(home).parent.iterdir()] == [f"{ARCH}.pt"]
