"""Benchmark tasks, declared lazily so listing them imports no torch."""

from harness.core.registry import TASKS

TASKS.register("digits", "tasks.digits:Digits")
TASKS.register("cifar10", "tasks.cifar:Cifar10")
TASKS.register("cifar100", "tasks.cifar:Cifar100")
TASKS.register("digits-seg", "tasks.digits_seg:DigitsSeg")
TASKS.register("nyuv2", "tasks.nyuv2:NYUv2")
TASKS.register("fashion-mnist", "tasks.fashion_mnist:FashionMNIST", aliases=("fmnist",))
TASKS.register("imagenet", "tasks.imagenet:ImageNet")
