"""Atomic checkpoint files: written to a temporary file, fsynced, then renamed into place.

A reader therefore sees either the previous complete file or the new complete file, never a
torn one. Every load uses ``weights_only=True``: nothing in a checkpoint is executed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from harness.core.errors import BenchError


def atomic_save(obj: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def safe_load(path: str | Path, map_location: Any = "cpu") -> Any:
    """Load a checkpoint without executing anything; unreadable files are a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"checkpoint {str(path)!r} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise BenchError(f"checkpoint {str(path)!r} is not a readable PyTorch checkpoint "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
