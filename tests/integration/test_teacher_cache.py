"""An embedded task's cached teacher is reused while the task's data is unchanged, and retrained
when it was trained on another version of the task (digits-seg v1 -> v2 changed the canvases)."""

from __future__ import annotations

import torch

from harness import teachers
from harness.checkpoint import atomic_save
from harness.supervised import Recipe
from tasks.digits import Digits


def test_a_cached_teacher_of_another_task_version_is_retrained(tmp_path, monkeypatch, cpu):
    monkeypatch.setenv("DFKD_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(Digits, "teacher_recipe", lambda self, arch: Recipe(epochs=3, batch_size=64, lr=0.05))
    task = Digits()
    path = teachers.default_path(task, "cnn_large")
    stale = task.build_model("cnn_large").state_dict()
    atomic_save({"state_dict": stale, "arch": "cnn_large", "task": task.name, "task_version": "0",
                 "metrics": {"acc": 0.1}}, path)

    _, info = teachers.load(task, "cnn_large", cpu)
    retrained = torch.load(path, weights_only=True)
    assert retrained["task_version"] == task.version
    assert info.metric == retrained["metrics"]["acc"] > 0.5  # trained, not the stale random weights

    _, again = teachers.load(task, "cnn_large", cpu)
    assert again.sha256 == info.sha256  # same version: reused, not retrained
