"""`bench run --pool disk`: the whole pipeline with its pool in the run's checkpoint shards gives
the numbers of the in-memory pool."""

from __future__ import annotations

from harness.record.tracking import Tracker
from tests.conftest import bench


def test_a_run_with_its_pool_on_disk_has_the_numbers_of_one_in_memory(tmp_path):
    """Through `bench run`: same seed, same accuracy and images; the disk run's shards are where
    its checkpoint keeps them, and the record says where the pool was."""
    found = {}
    for pool in ("memory", "disk"):
        results = tmp_path / pool
        done = bench("run", "--methods", "fast2", "--task", "digits", "--budget", "smoke", "--device", "cpu",
                     "--quiet", "--pool", pool, "--results-dir", str(results))
        assert done.returncode == 0, done.stderr
        (run,) = Tracker(results, create=False).runs("digits").to_dict("records")
        found[pool] = run
        assert run["tags.dfkd.pool"] == pool
    for metric in ("metrics.best/acc", "metrics.final/acc", "metrics.synth/images"):
        assert found["memory"][metric] == found["disk"][metric], metric
    shards = sorted((tmp_path / "disk" / "checkpoints" / found["disk"]["run_id"] / "pool").glob("round_*.pt"))
    assert len(shards) == 2  # smoke: two rounds
