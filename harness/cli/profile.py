"""`bench profile`: synthesis, KD and evaluation timed at a task's shapes."""

from __future__ import annotations

import click

from harness.cli.completion import complete_methods, complete_pairs, complete_tasks
from harness.cli.options import compile_option
from harness.core.errors import BenchError


@click.command(epilog="""\b
Examples:
  bench profile --task cifar100 --device cuda --precision bf16
  bench profile --task cifar100 --device cpu --batch-size 8 --methods fast5 --precision fp32,bf16""")
@click.option("--task", "task_name", default="cifar100", show_default=True,
              shell_complete=complete_tasks)
@click.option("--pairs", "pair", default=None, help="One teacher-student pair (default: the task's first).",
              shell_complete=complete_pairs)
@click.option("--methods", default=None, help="Methods to time (default: fast5,deepinv,cmi,dafl).",
              shell_complete=complete_methods)
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", type=int, default=None, help="Override the paper batch size (e.g. on a CPU).")
@click.option("--precision", "precisions", default="fp32", show_default=True,
              help="Comma-separated precisions to time, one table each (fp32, bf16, fp16).")
@compile_option
def profile(task_name, pair, methods, device, batch_size, precisions, compile_) -> None:
    """Time synthesis, KD and evaluation at a task's shapes with random weights (no data needed)."""
    from harness.core.cpu import bf16_warning_for, this_cpu
    from harness.core.devices import resolve_device
    from harness.core.errors import unknown
    from harness.core.precision import DTYPES
    from harness.engine.plan import split_list

    if batch_size is not None and batch_size < 1:
        raise BenchError(f"invalid value {batch_size} for --batch-size: must be >= 1")
    names = split_list(precisions, "precision")
    for name in names:
        if name not in DTYPES:
            raise BenchError(unknown("precision", name, list(DTYPES)))
    dev = resolve_device(device)
    if dev.type == "cpu":
        cpu = this_cpu()
        click.echo(f"CPU: {cpu.model}, {cpu.bf16}")
    if warning := bf16_warning_for(dev.type, names):
        click.echo(warning, err=True)
    for name in names:
        table(task_name, pair, methods, dev, batch_size, name, compile_)


def table(task_name, pair, methods, dev, batch_size, precision, compile_) -> None:
    """One precision's figures: a header with the matmul ceiling they are measured against, and a row
    per operation."""
    from tabulate import tabulate

    from harness.engine.profile import DEFAULT_METHODS
    from harness.engine.profile import profile as run_profile

    figures = run_profile(task_name, pair, methods or DEFAULT_METHODS, dev, batch_size, precision=precision,
                          compile_forward=compile_)
    rows = [(f.name, f.operation, f"{f.seconds:.4f}", f"{f.per_s:,.3g}", f"{f.images_per_s:,.3g}",
             f"{f.flops / 1e9:,.1f}", f"{f.flops_per_s / 1e9:,.1f}", f"{100 * f.peak_fraction:.1f}",
             f"{f.peak_mb:,.0f}", "" if f.projected_paper_h is None else f"{f.projected_paper_h:.3f}")
            for f in figures]
    click.echo(f"\n{task_name} on {dev}, {precision}{', compiled' if compile_ else ''}, "
               + (f"batch {batch_size} (projections: cost per image x the paper run's images)" if batch_size
                  else "paper batch sizes")
               + f"; dense matmul peak measured {figures[0].device_flops_per_s / 1e9:,.0f} GFLOP/s")
    click.echo(tabulate(rows, headers=["method", "operation", "seconds", "per s", "images/s", "GFLOP",
                                       "GFLOP/s", "% of peak", "peak MB", "projected paper synthesis h"],
                        tablefmt="github"))
