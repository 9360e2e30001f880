"""Where dfkd-bench keeps files outside a results folder: datasets and the teacher cache.

One place, so that every task and the teacher cache agree on the environment variables:
``DFKD_DATA`` (datasets), ``DFKD_HOME`` (teachers), else the user cache (``XDG_CACHE_HOME``,
else ``~/.cache``) under ``dfkd-bench/``.
"""

from __future__ import annotations

import os
from pathlib import Path


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dfkd-bench"


def data_root(explicit: str | None = None) -> Path:
    """A dataset root: ``--data-root``, else ``$DFKD_DATA``, else the user cache's ``data/``."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("DFKD_DATA"):
        return Path(os.environ["DFKD_DATA"]).expanduser()
    return _user_cache() / "data"


def home() -> Path:
    """dfkd-bench's own cache (trained and imported teachers): ``$DFKD_HOME``, else the user cache."""
    root = os.environ.get("DFKD_HOME")
    return Path(root).expanduser() if root else _user_cache()
