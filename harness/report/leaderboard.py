"""Cells -> the leaderboard table in the paper's layout (``runs`` -> ``cells`` -> here -> ``render``).

The paper's layout: rows are the teacher, then the real-data baselines (``scratch``, the
"Student" row, and ``kd``), then the data-free variants in the paper's order (a method's variants
follow it); columns are teacher/student pairs; a cell is the metric's mean ± sample std (ddof 1)
over seeds with the seed count, then, for data-free rows, the mean time in brackets. The
speed-up column is the paper's: the mean over pairs of DeepInv's projected paper-budget synthesis
hours divided by the variant's (docs/methods.md#synthesis-time and
docs/methods.md#decision-budgets-and-schedule-scaling), so it means the same at every budget. The
data-amount column is the mean number of synthesised images. Cells whose runs depart from the
reference (``dfkd.deviations`` other than ``none``) carry a numbered footnote marker; the best
data-free cell of each column is bold, the direction taken from ``METRIC_DIRECTIONS``.

Units (docs/methods.md#decision-units): the store and the numeric outputs (``cells``, json) hold fractions; the tables
show accuracy in percent with one decimal and mIoU as a fraction with three decimals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from harness.report.cells import cells_of, reference_label, speedups
from harness.report.rows import (
    pair_label,
    pair_order,
    row_key,
)
from harness.report.runs import PERCENT_METRICS, best_mask, check_selection, metric_of, tidy

SPEEDUP, DATA = "Speed-up", "Data amount"
UNVERIFIED = "†"
NOTE_SEPARATOR = "; "  # how a run's dfkd.deviations joins its notes


# -- text -----------------------------------------------------------------------------------------
def format_seconds(seconds: float) -> str:
    if seconds is None or pd.isna(seconds):
        return ""
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.2f}h"


def _scale(metric: str) -> tuple[int, int]:
    return (100, 1) if metric in PERCENT_METRICS else (1, 3)


def format_value(mean: float, std: float, n: int, metric: str) -> str:
    """``91.2 ± 0.4 (n=3)``; one seed shows the mean alone; mIoU as a three-decimal fraction."""
    if pd.isna(mean):
        return "n/a"
    scale, digits = _scale(metric)
    text = f"{mean * scale:.{digits}f}"
    if n > 1:
        if pd.notna(std):
            text += f" ± {std * scale:.{digits}f}"
        text += f" (n={n})"
    return text


def format_paper(paper: pd.DataFrame, mean: float, metric: str) -> str:
    """`` (paper 93.63, -0.5)`` (with ``†`` when unverified); alternatives follow with their source."""
    if paper.empty:
        return " (no published number)"
    scale, digits = _scale(metric)
    parts = []
    for row in paper.itertuples():
        label = "paper" if row.primary else row.source.split(" (")[0].replace(" README", "")
        text = f"{label} {row.value * scale:.{digits + 1 if scale == 100 else digits}f}"
        text += "" if row.verified else UNVERIFIED
        if pd.notna(mean):
            diff = f"{(mean - row.value) * scale:+.{digits}f}"
            text += ", " + ("+" + diff[1:] if diff.startswith("-") and float(diff) == 0 else diff)
        parts.append(text)
    return " (" + "; ".join(parts) + ")"


SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def marker(numbers: list[int]) -> str:
    return ",".join(str(n).translate(SUPERSCRIPTS) for n in numbers)


def format_speedup(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.1f}×"


def format_images(value: float) -> str:
    return "" if pd.isna(value) else f"{value:,.0f}"


# -- the table ------------------------------------------------------------------------------------
@dataclass
class Leaderboard:
    cells: pd.DataFrame  # one row per (row, pair): numbers in store units, plus label, best and paper fields
    table: pd.DataFrame  # display strings: Method, one column per pair id, Speed-up, Data amount
    bold: pd.DataFrame  # same shape as ``table``: True for the best data-free cell of a column
    metric: str
    which: str = "best"
    time: str = "synthesis"
    footnotes: list[str] = field(default_factory=list)
    baseline_rows: int = 0  # the leading rows that are the teacher and real-data baselines
    vs_paper: bool = False
    task: str | None = None
    shared_notes: str = ""  # the departures every run of the table records, said once in the caption
    timing_devices: dict[str, int] = field(default_factory=dict)  # dfkd.device -> timed runs, when several

    @property
    def pairs(self) -> list[str]:
        return [c for c in self.table.columns if c not in ("Method", SPEEDUP, DATA)]

    def headers(self) -> list[str]:
        return [pair_label(c, self.task) if c in self.pairs else c for c in self.table.columns]

    def caption(self) -> str:
        name = {"acc": "top-1 accuracy (%)", "miou": "mIoU"}.get(self.metric, self.metric)
        text = (f"{name} at the {self.which} epoch: mean ± sample std over seeds (n = seeds); "
                f"[{self.time} time] for data-free rows. ")
        if SPEEDUP in self.table.columns:
            text += (f"{SPEEDUP}: mean over pairs of {reference_label()}'s projected paper-budget synthesis hours "
                     f"/ the method's. ")
        else:
            text += (f"No {SPEEDUP} column: none of these runs is of {reference_label()}, the method it is "
                     f"measured against. ")
        text += f"{DATA}: images synthesised. Bold: the best data-free cell of each column."
        if self.vs_paper:
            text += (f" (paper X, d): the published number and our difference; {UNVERIFIED} marks an "
                     f"unverified published number.")
        if self.shared_notes:
            text += f" Every run departs from the reference implementation (dfkd.deviations): {self.shared_notes}."
        if any(not note.startswith(UNVERIFIED) for note in self.footnotes):
            text += " Numbered notes: a row's further departures."
        if self.timing_devices:
            machines = "; ".join(f"{device}, {n} run{'s' * (n > 1)}" for device, n in self.timing_devices.items())
            text += (f" Times come from more than one device (dfkd.device): {machines}; compare times "
                     f"taken on the same one.")
        return text

    def row_notes(self) -> list[str]:
        """Each table row's departures in full (the shared ones first), for formats without footnotes."""
        out = []
        for _, group in self.cells.groupby("label", sort=False):
            own = list(dict.fromkeys(t for notes in group["notes"] for t in notes))
            out.append(NOTE_SEPARATOR.join(filter(None, [self.shared_notes, *own])))
        return out


def split_notes(deviation_notes: pd.Series, from_tag: pd.Series) -> tuple[str, list[tuple[str, ...]]]:
    """The notes every run records (a task's, the shared ``--set`` fields), when every run records
    some, and each cell's remaining ones. A run's ``dfkd.deviations`` joins its notes with
    ``NOTE_SEPARATOR``; the shared ones keep the order of their first run."""
    texts = [t.split(NOTE_SEPARATOR) for notes in deviation_notes for t in notes]
    runs_without = any(not notes for notes, tagged in zip(deviation_notes, from_tag) if not tagged)
    shared: list[str] = []
    if texts and not runs_without:
        shared = [part for part in texts[0] if all(part in parts for parts in texts[1:])]
    own = [tuple(dict.fromkeys(rest for rest in (NOTE_SEPARATOR.join(part for part in t.split(NOTE_SEPARATOR)
                                                                    if part not in shared) for t in notes) if rest))
           for notes in deviation_notes]
    return NOTE_SEPARATOR.join(shared), own


def _empty(metric: str, which: str, time: str) -> Leaderboard:
    return Leaderboard(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), metric, which, time)


def build(runs: pd.DataFrame, budget: str | None = None, which: str = "best", time: str = "synthesis",
          vs_paper: bool = False, task: str | None = None) -> Leaderboard:
    """The leaderboard of a runs frame (``Tracker.runs`` or ``load_export``).

    ``budget`` keeps only runs of that budget; ``which`` picks the ``best/<m>`` or ``final/<m>``
    metric; ``time`` shows ``time/synthesis_s`` or ``time/total_s``; ``vs_paper`` adds the
    published number of each cell (docs/methods.md#published-numbers) for ``task`` (default: the runs' ``dfkd.task``).
    When the runs hold several budgets, each row is one (variant, budget), labelled ``@budget``.
    """
    check_selection(which, time)
    if runs is None or runs.empty:
        return _empty("acc", which, time)
    metric = metric_of(runs)
    rows = tidy(runs, metric, which, time)
    if budget:
        rows = rows[rows["budget"] == budget]
    if rows.empty:
        return _empty(metric, which, time)
    cells = cells_of(rows)
    if task is None:
        tasks = rows["task"].dropna()
        task = tasks.mode().iloc[0] if not tasks.empty else None

    ratio = speedups(cells[~cells["from_tag"]])
    cells["speedup"] = [math.nan if base else ratio.get((v, b), math.nan)
                        for v, b, base in zip(cells["variant"], cells["budget"], cells["baseline"])]
    order = sorted(dict.fromkeys(zip(cells["method"], cells["variant"], cells["budget"])),
                   key=lambda k: (row_key(k[0], k[1]), k[2]))
    pairs = pair_order(cells["pair"].unique(), task)
    cells["_row"] = [order.index(k) for k in zip(cells["method"], cells["variant"], cells["budget"])]
    cells["_col"] = cells["pair"].map(pairs.index)
    cells = cells.sort_values(["_row", "_col"], kind="stable").reset_index(drop=True)

    # Bold: the best data-free mean of each pair column, and the best data-free speed-up.
    free = ~cells["baseline"]
    cells["best"] = False
    for pair in pairs:
        mask = free & (cells["pair"] == pair)
        cells.loc[mask, "best"] = best_mask(cells.loc[mask, "mean"], metric)

    # Notes: the departures every run records (a task's, a budget's) are said once, in the
    # caption; each row's further ones get a number, one per distinct text, in table order.
    shared, own = split_notes(cells["deviation_notes"], cells["from_tag"])
    cells["notes"] = own
    notes: list[str] = []
    for texts in own:
        notes += [t for t in texts if t not in notes]
    cells["markers"] = [[notes.index(t) + 1 for t in texts] for texts in own]
    footnotes = [f"{marker([i + 1])} {t}" for i, t in enumerate(notes)]

    paper_text = [""] * len(cells)
    if vs_paper:
        paper_text, unverified = _compare_with_paper(cells, task, metric)
        footnotes += unverified

    table, bold = _table(cells, pairs, paper_text, metric)
    timed = rows.loc[rows["seconds"] > 0, "device"].dropna().value_counts()
    devices = {str(device): int(n) for device, n in timed.items()} if len(timed) > 1 else {}
    baseline_rows = int(cells.groupby("_row", sort=True)["baseline"].first().sum())
    cells = cells.drop(columns=["_row", "_col", "markers"])
    return Leaderboard(cells, table, bold, metric, which, time, footnotes, baseline_rows, vs_paper, task, shared,
                       devices)


def _compare_with_paper(cells: pd.DataFrame, task: str | None, metric: str) -> tuple[list[str], list[str]]:
    """Adds the published number of each cell to ``cells``; returns the cell suffixes and the
    footnotes of the unverified published numbers used."""
    from harness.report import paper_numbers
    numbers = paper_numbers.load()
    texts, unverified = [""] * len(cells), []
    cells["paper"], cells["paper_diff"] = math.nan, math.nan
    cells["paper_verified"], cells["paper_source"] = None, None
    for i, c in cells.iterrows():
        found = paper_numbers.lookup(numbers, task or "", c["variant"], c["pair"], metric)
        texts[i] = format_paper(found, c["mean"], metric)
        if not found.empty:
            primary = found.iloc[0]
            cells.loc[i, ["paper", "paper_diff"]] = [primary["value"], c["mean"] - primary["value"]]
            cells.at[i, "paper_verified"] = bool(primary["verified"])
            cells.at[i, "paper_source"] = primary["source"]
        for row in found.itertuples():
            note = f"{UNVERIFIED} {row.note} ({row.source})"
            if not row.verified and note not in unverified:
                unverified.append(note)
    return texts, unverified


def _table(cells: pd.DataFrame, pairs: list[str], suffixes: list[str], metric: str
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The display strings and the bold mask, one row per ``_row`` of ``cells``."""
    table_rows, bold_rows = [], []
    for _, group in cells.groupby("_row", sort=True):
        first = group.iloc[0]
        row = {"Method": first["label"], **{p: "" for p in pairs}}
        bold = {"Method": False, **{p: False for p in pairs}}
        for i, c in group.iterrows():
            text = format_value(c["mean"], c["std"], int(c["n"]), metric)
            if not c["baseline"] and pd.notna(c["seconds"]):
                text += f" [{format_seconds(c['seconds'])}]"
            if c["markers"]:
                text += f" {marker(c['markers'])}"
            row[c["pair"]] = text + suffixes[i]
            bold[c["pair"]] = bool(c["best"])
        row[SPEEDUP] = format_speedup(first["speedup"])
        images = group["images"]
        row[DATA] = "" if first["baseline"] else format_images(images.mean() if images.notna().any() else math.nan)
        bold[SPEEDUP], bold[DATA] = False, False
        table_rows.append(row)
        bold_rows.append(bold)
    table, bold = pd.DataFrame(table_rows), pd.DataFrame(bold_rows)
    per_row = cells.groupby("_row", sort=True)[["speedup", "baseline"]].first()
    if per_row["speedup"].isna().all():  # no run of the reference method: a column of blanks says nothing
        return table.drop(columns=SPEEDUP), bold.drop(columns=SPEEDUP)
    bold[SPEEDUP] = best_mask(per_row["speedup"].where(~per_row["baseline"].astype(bool)), "speedup").values
    return table, bold
