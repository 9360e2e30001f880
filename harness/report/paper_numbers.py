"""Published numbers the leaderboard's ``--vs-paper`` mode compares against (docs/methods.md#published-numbers).

The data lives in the packaged ``harness/report/paper_numbers.csv``, one row per published cell:

* ``task``: ``cifar10``, ``cifar100``, ``nyuv2`` or ``imagenet``;
* ``method``: our variant name (``teacher``, ``scratch``, ``kd``, ``deepinv`` = DeepInv-2k,
  ``cmi`` = CMI-500, ``dafl``, ``zskt``, ``dfq``, ``fast2``, ``fast5``, ``fast10``, ``dfad``, ``fast50_imagenet``);
* ``pair``: ``<teacher>-<student>`` as in the run's ``dfkd.pair`` tag;
* ``metric`` and ``value``: the store's metric name and unit (fractions: 93.63 % is 0.9363);
* ``hours``: published synthesis hours, empty where none were given;
* ``source``: where the number comes from (with the docs/methods.md section);
* ``verified``: false for numbers docs/methods.md#published-numbers marks unverified or a copy error;
* ``primary``: false for alternative values of the same cell from another source (REF-CMI);
* ``note``: what the row is, and any caveat.
"""

from __future__ import annotations

import io
from importlib import resources

import pandas as pd

COLUMNS = ["task", "method", "pair", "metric", "value", "hours", "source", "verified", "primary", "note"]
RESOURCE = "paper_numbers.csv"


def load() -> pd.DataFrame:
    """Every published number as a frame (``value`` and ``hours`` floats, flags booleans)."""
    text = resources.files("harness.report").joinpath(RESOURCE).read_text(encoding="utf-8")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    frame["value"] = pd.to_numeric(frame["value"])
    frame["hours"] = pd.to_numeric(frame["hours"], errors="coerce").astype(float)  # "" -> NaN
    for flag in ("verified", "primary"):
        frame[flag] = frame[flag].str.lower().map({"true": True, "false": False}).astype(bool)
    return frame[COLUMNS]


def lookup(numbers: pd.DataFrame, task: str, method: str, pair: str, metric: str) -> pd.DataFrame:
    """The published rows for one cell, the primary source first (empty when none)."""
    found = numbers[(numbers["task"] == task) & (numbers["method"] == method) & (numbers["pair"] == pair)
                    & (numbers["metric"] == metric)]
    return found.sort_values("primary", ascending=False, kind="stable")
