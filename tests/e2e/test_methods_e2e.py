"""End to end through the CLI, one learning test per method family beyond Fast/DeepInv:
CMI (pool, contrastive), DAFL (generative) at the quick budget, and the scratch and KD baselines.
Thresholds catch broken implementations: chance on digits is 0.10."""

from __future__ import annotations

import pytest

from harness.record.tracking import Tracker
from tests.conftest import bench


@pytest.mark.slow
def test_cmi_dafl_and_baselines_learn_on_digits(tmp_path):
    results = tmp_path / "results"
    done = bench("run", "--methods", "cmi,dafl,scratch,kd", "--task", "digits", "--results-dir", str(results),
                 "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = Tracker(results).runs("digits", status=None).set_index("tags.dfkd.method")
    assert (runs["status"] == "FINISHED").all()
    best = runs["metrics.best/acc"]
    assert best["cmi"] >= 0.85, best.to_dict()
    assert best["dafl"] >= 0.60, best.to_dict()
    assert best["scratch"] >= 0.90, best.to_dict()
    assert best["kd"] >= 0.90, best.to_dict()
    # Generative methods count every generated image: generator updates and every KD batch.
    dafl = runs.loc["dafl"]
    assert dafl["metrics.synth/images"] == 20 * 8 * (128 + 5 * 128)
    assert "real student" not in dafl["tags.dfkd.deviations"]  # DAFL has no adversarial term
    assert "memory bank" in runs.loc["cmi", "tags.dfkd.deviations"]
