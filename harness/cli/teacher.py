"""`bench teacher train` and `bench teacher import`: the teachers every run distils from."""

from __future__ import annotations

import click

from harness.cli.completion import complete_tasks
from harness.cli.options import data_options
from harness.core.errors import BenchError


@click.group(epilog="""\b
Examples:
  bench teacher train --task cifar10 --arch wrn40_2
  bench teacher import resnet34.pt --task cifar100 --arch resnet34""")
def teacher() -> None:
    """Train or import teacher checkpoints."""


@teacher.command("train", epilog="""\b
Examples:
  bench teacher train --task cifar10 --arch wrn40_2
  bench teacher train --task nyuv2 --pretrained-backbone""")
@click.option("--task", "task_name", required=True,
              shell_complete=complete_tasks)
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


@teacher.command("import", epilog="""\b
Examples:
  bench teacher import resnet34.pt --task cifar100 --arch resnet34
  bench teacher import --from-torchvision --task imagenet --arch resnet50""")
@click.argument("path", type=click.Path(dir_okay=False), required=False)
@click.option("--from-torchvision", "from_torchvision", is_flag=True,
              help="Import torchvision's released ImageNet weights for --arch from the torch hub cache (no download).")
@click.option("--task", "task_name", required=True,
              shell_complete=complete_tasks)
@click.option("--arch", required=True, help="The checkpoint's architecture.")
@click.option("--device", default="auto", show_default=True)
@data_options
def teacher_import(path, from_torchvision, task_name, arch, device, data_root, download) -> None:
    """Import a teacher checkpoint ({'state_dict': ...} or a bare state dict) into the cache."""
    from harness.core.devices import resolve_device
    from harness.engine import teachers
    from harness.engine.plan import make_task

    if bool(path) == from_torchvision:
        raise BenchError("give a checkpoint PATH or --from-torchvision, one of the two")
    task = make_task(task_name, data_root, download)
    task.build_model(arch)
    source = teachers.torchvision_weights(arch) if from_torchvision else path
    info = teachers.import_checkpoint(task, arch, source, resolve_device(device))
    metric = f"{task.metric} {info.metric:.4f}" if info.metric is not None else "not evaluated (no test set)"
    click.echo(f"teacher {arch} for {task.name}: {metric}, saved to {info.path} (sha256 {info.sha256[:12]})")
