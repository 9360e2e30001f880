"""``bench``: the command line. Thin: parse flags, call the harness, print.

Heavy imports (torch, mlflow) happen inside commands, so ``bench --help`` and ``bench list``
answer instantly. Bad input raises ``BenchError``: one line on stderr, exit code 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from harness.core.errors import BenchError

RESULTS_HELP = "Holds the default tracking store (mlflow.db), artifacts and checkpoints."
PART_HELP = ("A `bench export` of this grid's cells finished on an earlier machine, from this same commit "
             "(a committed table too long for one machine).")


class BenchGroup(click.Group):
    """Turns ``BenchError`` and a command's bad flags into a one-line message and exit code 2 (a
    traceback with --debug); ``-h`` says how to call a command, the error need not repeat it."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BenchError as error:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {error}", err=True)
            sys.exit(2)
        except click.UsageError as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(2)


def data_options(func):
    func = click.option("--download", is_flag=True, help="Fetch the dataset if missing (torchvision).")(func)
    return click.option("--data-root", default=None, type=click.Path(file_okay=False),
                        help="Dataset root (default: $DFKD_DATA, else the user cache).")(func)


def grid_options(func):
    """The flags that pick and configure cells, the same for `run` and `sweep`."""
    func = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
                        help="Override a config field for every selected method that has it (repeatable).")(func)
    func = click.option("--budget", default=None, help="paper, quick or smoke (default: the task's).")(func)
    func = click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")(func)
    return click.option("--methods", required=True,
                        help="Comma-separated methods or variants, e.g. fast5,deepinv:g_steps=5.")(func)


def performance_options(func):
    func = click.option("--compile", "compile_", is_flag=True,
                        help="torch.compile the teacher's and student's forward passes.")(func)
    return click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32",
                        show_default=True,
                        help="Autocast forward passes (fp32 master weights; fp16 with loss scaling).")(func)


def tracking_options(func):
    func = click.option(
        "--tracking-uri", default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite under --results-dir).")(func)
    return click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False),
                        help=RESULTS_HELP)(func)


def make_tracker(results_dir: str, tracking_uri: str | None, create: bool = True):
    """The tracking store; read-only commands pass ``create=False`` and never create one."""
    from harness.record.tracking import Tracker
    try:
        tracker = Tracker(results_dir, tracking_uri, create=create)
    except OSError as error:
        raise BenchError(f"results directory {results_dir!r} cannot be written ({error.strerror})") from None
    tracker.check()
    return tracker


def checked_output(output: str) -> Path:
    """An ``--output`` path whose folder exists and can be written, checked before any work."""
    path = Path(output)
    folder = path.parent
    if not folder.is_dir():
        raise BenchError(f"the folder of --output {output!r} does not exist: create {str(folder)!r} first")
    if path.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BenchError(f"--output {output!r} cannot be written")
    return path


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """dfkd-bench: benchmark data-free knowledge distillation methods, tracked in MLflow."""


@cli.command()
@grid_options
@click.option("--task", "task_name", default="digits", show_default=True, help="Task name (see `bench list tasks`).")
@click.option("--pairs", default=None, help="Comma-separated teacher-student pairs (default: the task's first).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--resume", is_flag=True,
              help="Continue KILLED resumable runs of these cells, skip FINISHED ones, start the rest.")
@click.option("--force", is_flag=True, help="With --resume: also take over RUNNING runs whose heartbeat is stale.")
@performance_options
@data_options
@tracking_options
def run(methods, task_name, pairs, seeds, budget, device, sets, quiet, resume, force, precision, compile_,
        data_root, download, results_dir, tracking_uri) -> None:
    """Run every (method, pair, seed) cell and log each as an MLflow run."""
    from harness.core import interrupt
    from harness.core.devices import resolve_device
    from harness.engine.plan import plan_runs
    from harness.engine.resume import Action, choose
    from harness.engine.runner import execute

    if force and not resume:
        raise BenchError("--force only applies with --resume")
    specs = plan_runs(methods, task_name, pairs, seeds, budget, sets, data_root, download, precision, compile_)
    resolve_device(device)
    tracker = make_tracker(results_dir, tracking_uri)
    plans = [choose(tracker.cell_runs(spec.task, spec.grid_key), force) if resume else (Action.NEW, None)
             for spec in specs]
    if resume and all(action is Action.NEW for action, _ in plans):
        raise BenchError(f"--resume: nothing to resume for {methods} on {task_name} (no KILLED resumable or "
                         f"FINISHED run of these cells in {tracker.uri})")

    interrupt.install()  # SIGTERM (pre-emption) ends like Ctrl-C: KILLED, resumable
    for spec, (action, previous) in zip(specs, plans):
        if action is Action.SKIP:
            click.echo(f"{spec.run_name}: already FINISHED (run {previous}), skipped")
            continue
        try:
            interrupt.check()  # a stop that arrived between cells ends the command before the next
            run_id = execute(spec, tracker, device, show_progress=not quiet, resume_run=previous)
        except KeyboardInterrupt:
            click.echo(f"{spec.run_name}: interrupted; continue with the same command and --resume", err=True)
            sys.exit(130)
        click.echo(f"{spec.run_name}: FINISHED (run {run_id}{', resumed' if previous else ''})")


@cli.command("list")
@click.argument("what", type=click.Choice(["methods", "baselines", "tasks", "pairs"]))
@click.option("--task", "task_name", default=None, help="For pairs: only this task's.")
@click.option("--details", is_flag=True,
              help="methods, baselines: also the task kinds each supports and where docs/methods.md describes it "
                   "(imports the methods).")
def list_(what: str, task_name: str | None, details: bool) -> None:
    """List registered methods, baselines, tasks or teacher-student pairs."""
    from harness.core.registry import BASELINES, METHODS, TASKS

    if what == "tasks":
        for name in TASKS.names():
            click.echo(name)
    elif what in ("methods", "baselines"):
        from tabulate import tabulate

        registry = METHODS if what == "methods" else BASELINES
        rows = []
        for name in registry.names():
            row = [name, registry.label(name), registry.family(name), registry.about(name).paper]
            if details:
                row += [", ".join(sorted(registry.get(name).cls.supports)),
                        f"docs/methods.md#{registry.about(name).docs}"]
            rows.append(row)
        headers = ["name", "label", "family", "paper"] + (["supports", "described in"] if details else [])
        click.echo(tabulate(rows, headers=headers, tablefmt="plain"))
    else:
        for name in [TASKS.canonical(task_name)] if task_name else TASKS.names():
            for pair, (teacher, student) in TASKS.get(name).pairs.items():
                click.echo(f"{name}\t{pair}\t(teacher {teacher}, student {student})")


@cli.group()
def config() -> None:
    """Inspect resolved configurations."""


@config.command("show")
@click.option("--method", "method", required=True, help="A method or variant, e.g. cmi:g_steps=5.")
@click.option("--task", "task_name", default="digits", show_default=True)
@click.option("--pair", default=None)
@click.option("--budget", default=None)
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE")
def config_show(method, task_name, pair, budget, sets) -> None:
    """Print a cell's resolved config, each field with the layer that set it."""
    from tabulate import tabulate

    from harness.engine.plan import plan_runs

    spec = plan_runs(method, task_name, pair, "0", budget, sets)[0]
    rows = [(name, value, spec.resolved.sources[name]) for name, value in vars(spec.config).items()]
    click.echo(f"{spec.variant} on {spec.task}, pair {spec.pair}, budget {spec.budget}")
    click.echo(tabulate(rows, headers=["field", "value", "from"], tablefmt="github"))
    click.echo(f"schedule: {spec.config.schedule()}")
    click.echo(f"deviations: {'; '.join(spec.deviations) or 'none'}")


@cli.group()
def teacher() -> None:
    """Train or import teacher checkpoints."""


@teacher.command("train")
@click.option("--task", "task_name", required=True)
@click.option("--arch", default=None, help="Architecture (default: the teacher of the task's first pair).")
@click.option("--device", default="auto", show_default=True)
@click.option("--epochs", type=int, default=None, help="Override the task's teacher recipe.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--pretrained-backbone", is_flag=True,
              help="Start from torchvision's ImageNet backbone (NYUv2's DeepLabs; the weights must download "
                   "or be in the torch hub cache).")
@data_options
def teacher_train(task_name, arch, device, epochs, seed, pretrained_backbone, data_root, download) -> None:
    """Train a teacher on the task's real training split and cache it."""
    from dataclasses import replace

    from harness.core.devices import resolve_device
    from harness.engine import teachers
    from harness.engine.build import seed_everything
    from harness.engine.plan import make_task

    task = make_task(task_name, data_root, download)
    arch = arch or task.pair(None)[0]
    task.build_model(arch)
    recipe = task.teacher_recipe(arch)
    if epochs is not None:
        if epochs < 1:
            raise BenchError(f"invalid value {epochs} for --epochs: must be >= 1")
        recipe = replace(recipe, epochs=epochs)
    seed_everything(seed)
    model = task.build_pretrained(arch) if pretrained_backbone else None
    info = teachers.train(task, arch, resolve_device(device), recipe, model=model,
                          on_epoch=lambda e, m: click.echo(f"epoch {e}: {task.metric} {m[task.metric]:.4f}"))
    click.echo(f"teacher {arch} for {task.name}: {task.metric} {info.metric:.4f}, saved to {info.path} "
               f"(sha256 {info.sha256[:12]})")
    if arch in task.shipped_teachers:
        click.echo(f"It replaces the shipped teacher (sha256 {task.shipped_teachers[arch][:12]}) for every run that "
                   f"reads this cache; delete {info.path} to use the shipped one again.")


@teacher.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--task", "task_name", required=True)
@click.option("--arch", required=True, help="The checkpoint's architecture.")
@click.option("--device", default="auto", show_default=True)
@data_options
def teacher_import(path, task_name, arch, device, data_root, download) -> None:
    """Import a teacher checkpoint ({'state_dict': ...} or a bare state dict) into the cache."""
    from harness.core.devices import resolve_device
    from harness.engine import teachers
    from harness.engine.plan import make_task

    task = make_task(task_name, data_root, download)
    task.build_model(arch)
    info = teachers.import_checkpoint(task, arch, path, resolve_device(device))
    metric = f"{task.metric} {info.metric:.4f}" if info.metric is not None else "not evaluated (no test set)"
    click.echo(f"teacher {arch} for {task.name}: {metric}, saved to {info.path} (sha256 {info.sha256[:12]})")


def write_or_echo(text: str, output: str | None) -> None:
    if output:
        try:
            checked_output(output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise BenchError(f"--output {output!r} cannot be written ({error.strerror})") from None
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


def task_runs(task_name: str, source: str | None, results_dir: str, tracking_uri: str | None):
    """A task's finished runs, from an export file (``--from``) or from the tracking store."""
    from harness.core.registry import TASKS
    from harness.report.exports import load_export

    TASKS.canonical(task_name)
    if source:
        runs = load_export(source)
        if "tags.dfkd.task" in runs.columns:
            runs = runs[runs["tags.dfkd.task"].astype(str) == task_name]
        return runs
    return make_tracker(results_dir, tracking_uri, create=False).runs(task_name)


@cli.command()
@click.option("--task", "task_name", required=True)
@click.option("--format", "fmt", type=click.Choice(["github", "csv", "latex", "html", "json"]), default="github",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write to a file instead of stdout.")
@click.option("--budget", default=None, help="Only runs of this budget.")
@click.option("--metric", "which", type=click.Choice(["best", "final"]), default="best", show_default=True,
              help="Best epoch or final epoch metric.")
@click.option("--time", "time_kind", type=click.Choice(["synthesis", "total"]), default="synthesis",
              show_default=True, help="Time shown in the cells.")
@click.option("--vs-paper", is_flag=True,
              help="Also show the published number and the difference (docs/methods.md#published-numbers).")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None,
              help="Render from a `bench export` file instead of the tracking store.")
@tracking_options
def leaderboard(task_name, fmt, output, budget, which, time_kind, vs_paper, source, results_dir,
                tracking_uri) -> None:
    """Tabulate a task's finished runs in the paper's layout: rows = teacher, baselines, methods;
    columns = pairs; cells = metric mean ± std over seeds [synthesis time]."""
    from harness.report.leaderboard import build
    from harness.report.render import render

    if output:
        checked_output(output)
    runs = task_runs(task_name, source, results_dir, tracking_uri)
    board = build(runs, budget=budget, which=which, time=time_kind, vs_paper=vs_paper, task=task_name)
    write_or_echo(render(board, fmt), output)


@cli.command()
@click.option("--task", "task_name", required=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="A .csv or .parquet file.")
@click.option("--part", type=click.Path(dir_okay=False), default=None, help=PART_HELP + " Its runs are exported too.")
@tracking_options
def export(task_name, output, part, results_dir, tracking_uri) -> None:
    """Write a task's finished runs (tags, params, final metrics) to CSV or parquet."""
    from harness.report.exports import export as export_runs
    from harness.report.parts import load_part, merge

    checked_output(output)
    earlier = load_part(part) if part else None
    runs = task_runs(task_name, None, results_dir, tracking_uri)
    if earlier is not None:
        runs = merge(runs, earlier)
    if runs.empty:
        raise BenchError(f"no finished runs of task {task_name} in the store under {results_dir!r}: nothing to export")
    try:
        path = export_runs(runs, output)
    except OSError as error:
        raise BenchError(f"--output {output!r} cannot be written ({error.strerror})") from None
    click.echo(f"wrote {len(runs)} runs to {path}")


@cli.command()
@click.option("--task", "task_name", required=True)
@click.option("--output", default=None, type=click.Path(dir_okay=False),
              help="Output path without suffix (default: <results-dir>/leaderboards/<task>-pareto).")
@click.option("--budget", default=None, help="Only runs of this budget.")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None, help="A `bench export` file.")
@tracking_options
def plot(task_name, output, budget, source, results_dir, tracking_uri) -> None:
    """Metric against synthesis time (log axis), error bars over seeds, the Pareto front; PNG and SVG,
    also logged to MLflow (a report run of the task's experiment) when read from the store."""
    from harness.report.plots import plot as make_plot

    runs = task_runs(task_name, source, results_dir, tracking_uri)
    base = Path(output) if output else Path(results_dir) / "leaderboards" / f"{task_name}-pareto"
    base.parent.mkdir(parents=True, exist_ok=True)
    data = make_plot(runs, task_name, base, budget=budget)
    if not source:
        make_tracker(results_dir, tracking_uri, create=False).log_report(task_name, [data.png, data.svg])
    click.echo(f"wrote {data.png} and {data.svg} ({len(data.points)} points)")


@cli.command()
@grid_options
@click.option("--tasks", default="digits", show_default=True, help="Comma-separated tasks.")
@click.option("--pairs", default=None, help="Comma-separated pairs, for every task (default: each task's first).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda (each cell gets its own GPU).")
@click.option("--launcher", type=click.Choice(["local", "slurm", "ray"]), default="local", show_default=True,
              help="Where cells run: this machine, Slurm (submitit) or Ray.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="local: cells at once (default: one per GPU, else 1); ray: CPUs of the local Ray instance.")
@click.option("--force", is_flag=True, help="Also take over RUNNING cells whose heartbeat is stale.")
@click.option("--part", type=click.Path(dir_okay=False), default=None,
              help=PART_HELP + " Its cells are not run again.")
@click.option("--slurm-partition", default=None, help="slurm: the partition.")
@click.option("--gpus-per-job", type=click.IntRange(min=0), default=None,
              help="slurm: GPUs per cell (default: 1, or 0 with --device cpu).")
@click.option("--timeout-min", type=click.IntRange(min=1), default=1440, show_default=True,
              help="slurm: a job's time limit; a job that reaches it is requeued (up to 3 times) and resumes.")
@click.option("--slurm-cluster", default=None, hidden=True)  # submitit's in-process "debug" cluster (tests)
@click.option("--ray-address", default=None, help="ray: the cluster to join (default: a local Ray instance).")
@click.option("--data-root", default=None, type=click.Path(file_okay=False),
              help="Dataset root (default: $DFKD_DATA, else the user cache).")
@performance_options
@tracking_options
def sweep(methods, tasks, pairs, seeds, budget, device, sets, launcher, jobs, force, part, slurm_partition,
          gpus_per_job, timeout_min, slurm_cluster, ray_address, data_root, precision, compile_, results_dir,
          tracking_uri) -> None:
    """Run a grid (methods x tasks x pairs x seeds), each cell one `bench run`, here, on Slurm or on Ray;
    cells FINISHED in the store are skipped, resumable ones resumed. Ends with each task's leaderboard."""
    from harness.launch.sweep import Launch, expand
    from harness.launch.sweep import run as run_sweep
    from harness.report.leaderboard import build
    from harness.report.parts import finished_cells, load_part
    from harness.report.render import render

    launch = Launch(launcher, device, jobs, slurm_partition, gpus_per_job, timeout_min, slurm_cluster, ray_address)
    specs = expand(methods, tasks, pairs, seeds, budget, sets, data_root, launch, precision, compile_)
    finished = finished_cells(load_part(part)) if part else {}
    tracker = make_tracker(results_dir, tracking_uri)
    try:
        report = run_sweep(specs, tracker, launch, sets, data_root, force, finished)
    except KeyboardInterrupt:
        click.echo("sweep interrupted: the same command resumes it", err=True)
        sys.exit(130)
    for task, task_budget in report.budgets.items():
        click.echo(f"\n{task}, budget {task_budget}:\n"
                   + render(build(tracker.runs(task), budget=task_budget, task=task), "github"))
    if report.failed:
        click.echo(f"{len(report.failed)} cell(s) failed:", err=True)
        for cell, outcome in report.failed:
            click.echo(f"  {cell.label}: exit {outcome.returncode}: {outcome.last_line} (log: {cell.log})", err=True)
        sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--backend-store-uri", default=None,
              help="Store to serve (default: the sqlite store under --results-dir), e.g. postgresql://...")
@click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False),
              help=RESULTS_HELP)
def serve(host, port, backend_store_uri, results_dir) -> None:
    """Start the MLflow UI and tracking server on the project's store."""
    import os

    from harness.record.tracking import default_uri

    if (backend_store_uri or "").startswith("postgresql"):
        from sqlalchemy.engine import make_url
        try:  # the driver SQLAlchemy picks (psycopg2 up to 2.0, psycopg 3 from 2.1)
            make_url(backend_store_uri).get_dialect().import_dbapi()
        except ImportError as missing:
            raise BenchError(f"--backend-store-uri postgresql://... needs the PostgreSQL driver {missing.name}: "
                             f"pip install 'dfkd-bench[server]'") from None
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    # This interpreter's mlflow, found without PATH (e.g. `.venv/bin/bench serve`, not activated).
    command = [sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port),
               "--backend-store-uri", backend_store_uri or default_uri(results),
               "--artifacts-destination", str((results / "artifacts").resolve())]
    click.echo(f"MLflow at http://{host}:{port} (compare runs: open an experiment dfkd/<task>, "
               f"group by tag dfkd.method)", err=True)
    os.execv(sys.executable, command)


@cli.command()
@click.argument("run_id")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None,
              help="Read the run's record from a `bench export` file (e.g. results/runs/digits.csv).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Override a recorded config field (the re-run is then another cell).")
@click.option("--device", default="auto", show_default=True)
@click.option("--quiet", is_flag=True)
@data_options
@tracking_options
def rerun(run_id, source, sets, device, quiet, data_root, download, results_dir, tracking_uri) -> None:
    """Re-run a cell from its record alone (config, seed, teacher hash), as a new run."""
    from harness.core.devices import resolve_device
    from harness.engine.runner import execute
    from harness.launch.rerun import (
        record_from_export,
        record_from_store,
        spec_from_record,
    )

    if source:
        tags, params = record_from_export(source, run_id)
    else:
        tags, params = record_from_store(make_tracker(results_dir, tracking_uri, create=False), run_id)
    spec = spec_from_record(tags, params, run_id, data_root, download, sets)
    resolve_device(device)
    tracker = make_tracker(results_dir, tracking_uri)
    new_id = execute(spec, tracker, device, show_progress=not quiet, extra_tags={"dfkd.rerun_of": run_id})
    click.echo(f"{spec.run_name}: FINISHED (run {new_id}, re-run of {run_id})")


@cli.command()
@click.option("--task", "task_name", default="cifar100", show_default=True)
@click.option("--pairs", "pair", default=None, help="One teacher-student pair (default: the task's first).")
@click.option("--methods", default=None, help="Methods to time (default: fast5,deepinv,cmi,dafl).")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", type=int, default=None, help="Override the paper batch size (e.g. on a CPU).")
@performance_options
def profile(task_name, pair, methods, device, batch_size, precision, compile_) -> None:
    """Time synthesis, KD and evaluation at a task's shapes with random weights (no data needed)."""
    from tabulate import tabulate

    from harness.core.devices import resolve_device
    from harness.engine.profile import DEFAULT_METHODS
    from harness.engine.profile import profile as run_profile

    if batch_size is not None and batch_size < 1:
        raise BenchError(f"invalid value {batch_size} for --batch-size: must be >= 1")
    dev = resolve_device(device)
    figures = run_profile(task_name, pair, methods or DEFAULT_METHODS, dev, batch_size, precision=precision,
                          compile_forward=compile_)
    rows = [(f.name, f.operation, f"{f.seconds:.4f}", f"{f.per_s:,.2f}", f"{f.images_per_s:,.0f}",
             f"{f.flops / 1e9:,.1f}", f"{f.flops_per_s / 1e9:,.1f}", f"{100 * f.peak_fraction:.1f}",
             f"{f.peak_mb:,.0f}", "" if f.projected_paper_h is None else f"{f.projected_paper_h:.3f}")
            for f in figures]
    click.echo(f"{task_name} on {dev}, {precision}{', compiled' if compile_ else ''}, "
               + (f"batch {batch_size} (projections at this batch size)" if batch_size else "paper batch sizes")
               + f"; dense matmul peak measured {figures[0].device_flops_per_s / 1e9:,.0f} GFLOP/s")
    click.echo(tabulate(rows, headers=["method", "operation", "seconds", "per s", "images/s", "GFLOP",
                                       "GFLOP/s", "% of peak", "peak MB", "projected paper synthesis h"],
                        tablefmt="github"))


def main() -> None:
    cli(prog_name="bench")


if __name__ == "__main__":
    main()
