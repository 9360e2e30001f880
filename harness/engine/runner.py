"""Execute one planned cell: build everything, drive the epochs, record the run in MLflow."""

from __future__ import annotations

import functools
import sys
import time

import numpy as np
import torch
from torchvision.utils import make_grid

import harness
from harness.core import config, interrupt
from harness.core.config import flatten
from harness.core.devices import describe, resolve_device
from harness.core.job import EpochReport
from harness.core.task import Task
from harness.core.timing import SYNTHESIS, TRAINING, Stopwatch
from harness.engine import rank_state
from harness.engine.build import Built, build
from harness.engine.checkpoint import atomic_save
from harness.engine.disk_pool import DiskPool
from harness.engine.display import EpochDisplay
from harness.engine.distill import Distiller
from harness.engine.distributed import SOLO, Ranks
from harness.engine.ownership import HEARTBEAT_TAG, OWNER_TAG, Heartbeat, Owner
from harness.engine.plan import (
    RunSpec,
    lookup_method,
    planned_images,
    resolve_cell,
)
from harness.engine.resume import CheckpointDir, set_rng_state
from harness.record import provenance
from harness.record.tracking import LAST_SAMPLES, Tracker

PAPER_BUDGET = "paper"
DEVICES_SEPARATOR = " + "  # dfkd.device of a run resumed on other hardware: each device it ran on


SAMPLES_MIN_WIDTH = 256  # px: a grid of 16x16 digits is 137 px wide, too small to see in the MLflow UI


def sample_grid(images01: torch.Tensor, limit: int = 64) -> np.ndarray:
    """A uint8 HxWxC grid of the first ``limit`` images, for ``mlflow.log_image``, enlarged by
    an integer factor (nearest neighbour: pixels stay sharp) to at least ``SAMPLES_MIN_WIDTH``."""
    grid = make_grid(images01[:limit].detach().float().cpu(), nrow=8, padding=1)
    scale = -(-SAMPLES_MIN_WIDTH // grid.shape[-1])
    grid = grid.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    return (grid.clamp(0, 1) * 255).to(torch.uint8).permute(1, 2, 0).numpy()


def paper_images(spec: RunSpec, task) -> int:
    """Images a ``paper``-budget run of this cell synthesises (for the projected hours,
    docs/methods.md#decision-budgets-and-schedule-scaling)."""
    _, method, _ = lookup_method(spec.method)
    variant_fields = {k: v for k, v in spec.resolved.overridden().items() if spec.resolved.sources[k] == config.VARIANT}
    return planned_images(method, resolve_cell(task, method, spec.pair, PAPER_BUDGET, variant_fields, {}).config)


def record(spec: RunSpec, task: Task, info, device: torch.device) -> tuple[dict, dict]:
    """The tags and params of design.md's MLflow record for one cell."""
    tags = {"dfkd.method": spec.method, "dfkd.variant": spec.variant, "dfkd.task": spec.task,
            "dfkd.pair": spec.pair, "dfkd.teacher": spec.teacher, "dfkd.student": spec.student,
            "dfkd.seed": spec.seed, "dfkd.budget": spec.budget, "dfkd.grid_key": spec.grid_key,
            "dfkd.deviations": "; ".join(spec.deviations) or "none", "dfkd.version": harness.__version__,
            "dfkd.task_version": task.version, "dfkd.device": describe(device),
            "dfkd.teacher_sha256": info.sha256 if info else "",
            "dfkd.teacher_metric": info.metric if info and info.metric is not None else "",
            "dfkd.resumable": "true", HEARTBEAT_TAG: int(time.time()), OWNER_TAG: str(Owner.me()),
            "dfkd.precision": spec.precision, "dfkd.compile": str(spec.compile).lower(), "dfkd.pool": spec.pool,
            "dfkd.world_size": spec.world_size}
    tags.update({**provenance.git_state().tags(), **provenance.cpu_tags(), **provenance.concurrency_tags()})
    schedule = vars(spec.config.schedule()) if hasattr(spec.config, "schedule") else {}
    params = {**flatten(spec.config), **{f"schedule.{k}": v for k, v in schedule.items()}}
    return tags, params


def execute(spec: RunSpec, tracker: Tracker, device_name: str = "auto", show_progress: bool = True,
            extra_tags: dict[str, str] | None = None, resume_run: str | None = None, ranks: Ranks = SOLO) -> str:
    """Run one cell to completion (or continue ``resume_run`` from its last checkpoint) and return
    its MLflow run id.

    A run that raises is marked FAILED with the error in ``dfkd.error``; an interrupted one
    (SIGINT, SIGTERM) is marked KILLED and resumable, its last epoch checkpoint kept. Nothing is
    created in the store before the data, the teacher and the models are ready. A cell across
    ranks calls this on every rank: rank 0 alone writes the record and the checkpoints (in
    ``ranks.on_main``, which hands every rank its results and its errors), the others hold a
    ``MutedTracker``.
    """
    assert spec.world_size == ranks.size, f"a cell of {spec.world_size} process(es) on {ranks.size}"
    device = ranks.local(resolve_device(device_name))
    built = build(spec, device, ranks)
    task, job = built.task, built.job
    display = EpochDisplay(spec.run_name, spec.config.epochs, task.metric, show_progress and ranks.is_main)
    elapsed, logged = 0.0, set()
    if resume_run:
        run_id = resume_run
        checkpoints = CheckpointDir(tracker.results_dir / "checkpoints" / run_id)
        attach_pool(built, checkpoints, ranks)
        logged = ranks.on_main(lambda: reopened(tracker, run_id, f"eval/{task.metric}", device))
        state = rank_state.load(ranks, checkpoints)
        # None: interrupted before its first epoch checkpoint. The same MLflow run then starts
        # again from scratch: build() seeded everything as for a new run, and no epoch was logged.
        ranks.on_main(lambda: tracker.set_tags(run_id, {"dfkd.resumed_from_epoch": state["epoch"] if state else -1}))
        if state is not None:
            job.load_state_dict(state["job"])
            if built.synthesizer is not None and built.synthesizer.pool is not None:
                rank_state.restore_pool(ranks, checkpoints, built.synthesizer.pool, job.progress.rounds)
            set_rng_state(state["rng"])
            elapsed = state["elapsed_s"]
            if state["epoch"] not in logged:  # interrupted between the checkpoint and the metrics
                ranks.on_main(lambda: tracker.log_metrics(run_id, state["metrics"], step=state["epoch"]))
                logged.add(state["epoch"])
        display.skip_to(job.progress.epoch)
    else:
        run_id = ranks.on_main(lambda: start(tracker, spec, task, built.teacher_info, device, extra_tags))
        checkpoints = CheckpointDir(tracker.results_dir / "checkpoints" / run_id)
        attach_pool(built, checkpoints, ranks)
    heartbeat = Heartbeat(lambda: tracker.set_tags(run_id, {HEARTBEAT_TAG: int(time.time())}))
    try:
        with heartbeat:
            drive(spec, tracker, run_id, built, checkpoints, logged, elapsed, display, not resume_run, ranks)
        ranks.on_main(lambda: tracker.finish(run_id))
        return run_id
    except KeyboardInterrupt:
        tracker.kill(run_id, resumable=True)
        raise
    except BaseException as error:
        tracker.fail(run_id, error)
        raise
    finally:
        display.close()


def start(tracker: Tracker, spec: RunSpec, task: Task, info, device: torch.device,
          extra_tags: dict[str, str] | None) -> str:
    """A new run of the cell in the store, with its record's tags and params; its id."""
    tags, params = record(spec, task, info, device)
    return tracker.start(spec.task, spec.run_name, {**tags, **(extra_tags or {})}, params)


def reopened(tracker: Tracker, run_id: str, metric: str, device: torch.device) -> set[int]:
    """Continue ``run_id`` as this process's; the epochs it has logged.

    A grid longer than one machine's loan resumes on the next machine, and the run's times then
    add seconds from both: ``dfkd.device`` lists every device the run has run on, and the user is told.
    """
    tracker.reopen(run_id, owner=str(Owner.me()))
    here = describe(device)
    devices = tracker.get_run(run_id).data.tags.get("dfkd.device", "")
    if here not in devices.split(DEVICES_SEPARATOR):
        tracker.set_tags(run_id, {"dfkd.device": DEVICES_SEPARATOR.join(filter(None, [devices, here]))})
        print(f"warning: run {run_id} ran on {devices or 'an unrecorded device'} and resumes on {here}: "
              f"its times add seconds from both (dfkd.device lists them)", file=sys.stderr)
    return {step for step, _ in tracker.metric_history(run_id, metric)}


def attach_pool(built: Built, checkpoints: CheckpointDir, ranks: Ranks = SOLO) -> None:
    """A disk pool keeps its shards in the run's checkpoint folder (each rank's in its own), which
    exists once the run does."""
    if built.synthesizer is not None and isinstance(built.synthesizer.pool, DiskPool):
        built.synthesizer.pool.attach(ranks.own(checkpoints.pool_folder))


def drive(spec: RunSpec, tracker: Tracker, run_id: str, built: Built, checkpoints: CheckpointDir,
          logged: set[int], elapsed: float, display: EpochDisplay, log_config: bool, ranks: Ranks = SOLO) -> None:
    """The epochs of one run, from wherever its job stands, then its final record: an epoch is
    checkpointed before its metrics are logged, and logged once even when it is run again."""
    task, job, started = built.task, built.job, time.perf_counter()
    if log_config:
        ranks.on_main(lambda: tracker.log_dict(
            run_id, {"config": flatten(spec.config), "sources": spec.resolved.sources,
                     "spec": {"task": spec.task, "method": spec.method, "variant": spec.variant, "pair": spec.pair,
                              "seed": spec.seed, "budget": spec.budget}}, "config.json"))
    # A disk pool writes each round's shard itself, where the checkpoint keeps it.
    on_disk = built.synthesizer is not None and isinstance(built.synthesizer.pool, DiskPool)
    on_round = None if on_disk else rank_state.round_saver(ranks, checkpoints)
    shown = None  # the last synthesised samples, for the record's last sample grid
    while job.progress.epoch < spec.config.epochs:
        report = job.run_epoch(on_round=on_round)  # checks for stops itself
        state = job.state_dict()
        others = rank_state.gather(ranks, state, Distiller.SHARED_STATE)
        shown = report.images if report.images is not None else shown
        ranks.on_main(functools.partial(record_epoch, tracker, run_id, checkpoints, report, state,
                                        elapsed + time.perf_counter() - started, others, report.epoch not in logged))
        display.epoch(report.epoch, report.metrics[f"eval/{task.metric}"], job.stopwatch[SYNTHESIS])
    interrupt.check()  # a stop dropped during the last epoch's bookkeeping still ends KILLED
    total = elapsed + time.perf_counter() - started
    final = finals(job, task, spec, job.stopwatch, total, ranks.sum(job.progress.images_synthesized))
    student = rank_state.student_tags(ranks, built.student)

    def record_final() -> None:
        tracker.log_metrics(run_id, final, step=job.progress.epoch - 1)
        tracker.set_tags(run_id, student)
        if shown is not None:
            tracker.log_image(run_id, sample_grid(shown), file=LAST_SAMPLES)
        student_path = atomic_save(built.student.state_dict(), checkpoints.root / "student.pt")
        tracker.log_artifact(run_id, student_path, "checkpoints")

    ranks.on_main(record_final)


def record_epoch(tracker: Tracker, run_id: str, checkpoints: CheckpointDir, report: EpochReport, state: dict,
                 elapsed_s: float, others: list[dict] | None, log: bool) -> None:
    """An epoch's checkpoint (``others``: the other ranks' own states), then its metrics (``log``:
    not logged by an earlier attempt) and sample grid."""
    checkpoints.save_epoch(report.epoch, state, elapsed_s, report.metrics, others)
    if log:
        tracker.log_metrics(run_id, report.metrics, step=report.epoch)
    if report.images is not None:
        tracker.log_image(run_id, sample_grid(report.images), key="samples", step=report.epoch)


def finals(job, task, spec: RunSpec, stopwatch: Stopwatch, total_s: float, images: int) -> dict[str, float]:
    """The final metrics of design.md; ratios as fractions. ``images``: synthesised by every rank."""
    progress, metric = job.progress, task.metric
    synthesis_s = stopwatch[SYNTHESIS]
    per_image = synthesis_s / images if images else 0.0
    return {f"best/{metric}": progress.best, f"final/{metric}": progress.history[-1],
            "time/synthesis_s": synthesis_s, "time/kd_s": stopwatch[TRAINING], "time/total_s": total_s,
            "time/projected_paper_synthesis_h":
                0.0 if spec.is_baseline else per_image * paper_images(spec, task) / 3600,
            "synth/images": images, "synth/images_per_s": images / synthesis_s if synthesis_s else 0.0,
            **stopwatch.memory_metrics()}
