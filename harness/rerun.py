"""Re-run a cell from its MLflow record alone: variant, pair, seed, budget, config, teacher hash."""

from __future__ import annotations

from harness import teachers
from harness.config import flatten
from harness.errors import BenchError
from harness.plan import RunSpec, make_task, plan_runs
from harness.tracking import Tracker


def spec_from_record(tracker: Tracker, run_id: str, data_root: str | None = None,
                     download: bool = False) -> RunSpec:
    """The run spec that reproduces ``run_id``: same grid key, same resolved config and seed.

    The record's params override today's defaults (``--set`` layer), so a changed preset does not
    change the re-run; the teacher a run would use must be the recorded one (same sha256).
    """
    try:
        run = tracker.get_run(run_id)
    except Exception:
        raise BenchError(f"no run {run_id!r} in the tracking store {tracker.uri}") from None
    tags, params = run.data.tags, run.data.params
    missing = [k for k in ("dfkd.variant", "dfkd.task", "dfkd.pair", "dfkd.seed", "dfkd.budget") if k not in tags]
    if missing:
        raise BenchError(f"run {run_id} is not a dfkd-bench cell (missing tags: {', '.join(missing)})")
    plan = dict(methods=tags["dfkd.variant"], task_name=tags["dfkd.task"], pairs=tags["dfkd.pair"],
                seeds=tags["dfkd.seed"], budget=tags["dfkd.budget"], data_root=data_root, download=download,
                precision=tags.get("dfkd.precision", "fp32"), compile=tags.get("dfkd.compile") == "true")
    spec = plan_runs(**plan)[0]
    recorded = {k: params[k] for k in flatten(spec.config) if k in params}
    changed = {k: v for k, v in recorded.items() if str(getattr(spec.config, k)) != v}
    if changed:
        spec = plan_runs(**plan, sets=tuple(f"{k}={v}" for k, v in changed.items()))[0]
    recorded_sha = tags.get("dfkd.teacher_sha256")
    if recorded_sha:
        path = teachers.locate(make_task(spec.task, data_root), spec.teacher)
        if teachers.sha256_of(path) != recorded_sha:
            raise BenchError(f"the {spec.teacher} teacher at {path} is not the one run {run_id} used "
                             f"(sha256 {recorded_sha[:12]}...): import that checkpoint first")
    return spec
