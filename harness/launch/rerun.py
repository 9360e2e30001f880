"""Re-run a cell from its record alone: variant, pair, seed, budget, config, teacher hash.

The record comes from the tracking store, or from a ``bench export`` file, so that a committed run
(``results/runs/*.csv``) can be re-run on a fresh clone that has no store.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.config import flatten
from harness.core.errors import BenchError
from harness.engine import teachers
from harness.engine.plan import RunSpec, make_task, plan_runs
from harness.record.tracking import Tracker

PREFIXES = ("tags.", "params.")


def record_from_store(tracker: Tracker, run_id: str) -> tuple[dict[str, str], dict[str, str]]:
    try:
        run = tracker.get_run(run_id)
    except Exception:
        raise BenchError(f"no run {run_id!r} in the tracking store {tracker.uri}") from None
    return dict(run.data.tags), dict(run.data.params)


def record_from_export(path: str | Path, run_id: str) -> tuple[dict[str, str], dict[str, str]]:
    from harness.report.exports import load_export

    runs = load_export(path)
    rows = runs[runs["run_id"] == run_id] if "run_id" in runs.columns else runs.iloc[:0]
    if rows.empty:
        raise BenchError(f"no run {run_id!r} in the export {str(path)!r}")
    row = rows.iloc[0]
    tags, params = ({c.removeprefix(prefix): str(row[c]) for c in runs.columns
                     if c.startswith(prefix) and str(row[c]) != ""} for prefix in PREFIXES)
    return tags, params


def spec_from_record(tags: dict[str, str], params: dict[str, str], run_id: str, data_root: str | None = None,
                     download: bool = False, sets: tuple[str, ...] = ()) -> RunSpec:
    """The run spec that reproduces ``run_id``: same grid key, same resolved config and seed.

    The record's params override today's defaults (``--set`` layer), so a changed preset does not
    change the re-run; ``sets`` then override those (a shorter re-run is another cell). The
    teacher a run would use must be the recorded one (same sha256).
    """
    missing = [k for k in ("dfkd.variant", "dfkd.task", "dfkd.pair", "dfkd.seed", "dfkd.budget") if k not in tags]
    if missing:
        raise BenchError(f"run {run_id} is not a dfkd-bench cell (missing tags: {', '.join(missing)})")
    ranks = int(tags.get("dfkd.world_size", "1"))
    if ranks > 1:
        raise BenchError(f"run {run_id} ran on {ranks} processes and bench rerun runs one: run its cell again with "
                         f"bench run --methods {tags['dfkd.variant']} --task {tags['dfkd.task']} --pairs "
                         f"{tags['dfkd.pair']} --seeds {tags['dfkd.seed']} --budget {tags['dfkd.budget']} "
                         f"--nproc-per-node {ranks}")
    def plan(sets: tuple[str, ...] = ()) -> RunSpec:
        return plan_runs(tags["dfkd.variant"], tags["dfkd.task"], tags["dfkd.pair"], tags["dfkd.seed"],
                         tags["dfkd.budget"], sets, data_root, download, tags.get("dfkd.precision", "fp32"),
                         tags.get("dfkd.compile") == "true", tags.get("dfkd.pool", "memory"))[0]

    spec = plan()
    recorded = {k: params[k] for k in flatten(spec.config) if k in params}
    changed = tuple(f"{k}={v}" for k, v in recorded.items() if str(getattr(spec.config, k)) != v)
    if changed or sets:
        spec = plan(changed + tuple(sets))
    recorded_sha = tags.get("dfkd.teacher_sha256")
    if recorded_sha:
        path = teachers.locate(make_task(spec.task, data_root), spec.teacher)
        if teachers.sha256_of(path) != recorded_sha:
            raise BenchError(f"the {spec.teacher} teacher at {path} is not the one run {run_id} used "
                             f"(sha256 {recorded_sha[:12]}...): import that checkpoint first")
    return spec
