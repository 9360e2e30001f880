"""The embedded tasks ship their teachers: a fresh install runs the very teacher the committed
results were produced with (sha256 pinned in code, checked on load); a teacher the user trains
or imports replaces it through the cache."""

from __future__ import annotations

import shutil

import pytest

from harness.core.errors import BenchError
from harness.core.registry import TASKS
from harness.engine import teachers
from harness.engine.checkpoint import atomic_save, safe_load
from tests.conftest import bench

SHIPPING = [name for name in TASKS.names() if TASKS.get(name).shipped_teachers]
# What each shipped teacher must reach on its test split (Fashion-MNIST: the bar for a
# small CNN; the embedded digits tasks are nearly solved).
BAR = {"digits": 0.95, "digits-seg": 0.95, "fashion-mnist": 0.92}


def test_the_embedded_tasks_ship_a_teacher_for_every_pair():
    assert set(SHIPPING) == set(BAR)
    for name in SHIPPING:
        task = TASKS.get(name)()
        assert {teacher for teacher, _ in task.pairs.values()} <= set(task.shipped_teachers)


@pytest.mark.parametrize("name", SHIPPING)
def test_a_fresh_cache_loads_the_shipped_teacher_with_its_pinned_hash(name, tmp_path, monkeypatch, cpu):
    monkeypatch.setenv("DFKD_HOME", str(tmp_path / "fresh"))
    task = TASKS.get(name)()
    arch = task.pair(None)[0]
    model, info = teachers.load(task, arch, cpu)
    assert info.path == teachers.shipped_path(task, arch)
    assert info.sha256 == task.shipped_teachers[arch]
    checkpoint = safe_load(info.path)
    assert checkpoint["task_version"] == task.version  # re-ship when the task's data changes
    assert checkpoint["provenance"]["dfkd.git_dirty"] == "false"  # made by a committed script
    assert task.evaluate(model, cpu)[task.metric] == pytest.approx(info.metric, abs=1e-9)
    assert info.metric >= BAR[name]


def test_a_damaged_shipped_teacher_is_an_error_not_a_silent_other_teacher(tmp_path, monkeypatch, cpu):
    monkeypatch.setenv("DFKD_HOME", str(tmp_path / "fresh"))
    task = TASKS.get("digits")()
    monkeypatch.setitem(type(task).shipped_teachers, "cnn_large", "0" * 64)
    with pytest.raises(BenchError, match="shipped cnn_large teacher of task digits .* damaged or missing"):
        teachers.load(task, "cnn_large", cpu)


def test_the_cache_wins_for_this_task_version_and_a_stale_one_falls_back_to_the_shipped(tmp_path, monkeypatch,
                                                                                         cpu):
    monkeypatch.setenv("DFKD_HOME", str(tmp_path / "home"))
    task = TASKS.get("digits")()
    cached = teachers.default_path(task, "cnn_large")
    own = {"state_dict": task.build_model("cnn_large").state_dict(), "arch": "cnn_large", "task": task.name,
           "task_version": task.version, "metrics": {"acc": 0.1}}
    atomic_save(own, cached)
    assert teachers.locate(task, "cnn_large") == cached

    atomic_save({**own, "task_version": "0"}, cached)
    assert teachers.locate(task, "cnn_large") == teachers.shipped_path(task, "cnn_large")


def test_without_a_shipped_or_cached_teacher_the_error_says_how_to_get_one(tmp_path, monkeypatch, cpu):
    monkeypatch.setenv("DFKD_HOME", str(tmp_path / "home"))
    task = TASKS.get("digits-seg")()
    monkeypatch.setattr(type(task), "shipped_teachers", {})
    with pytest.raises(BenchError, match="bench teacher train --task digits-seg --arch unet_large"):
        teachers.locate(task, "unet_large")


def test_bench_teacher_train_says_it_replaces_the_shipped_teacher(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DFKD_HOME", str(home))
    result = bench("teacher", "train", "--task", "digits", "--epochs", "1", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "It replaces the shipped teacher" in result.stdout
    task = TASKS.get("digits")()
    assert teachers.locate(task, "cnn_large") == teachers.default_path(task, "cnn_large")
    shutil.rmtree(home)
    assert teachers.locate(task, "cnn_large") == teachers.shipped_path(task, "cnn_large")
