"""Runs (read back from MLflow, or from an export file) -> pandas -> leaderboard tables.

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

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from harness.core.errors import BenchError
from harness.core.registry import BASELINES, METHODS
from harness.report.rows import (
    is_baseline,
    is_teacher,
    pair_label,
    pair_order,
    row_key,
    speedup_reference,
    teacher_name,
)

# The direction of every number a table or plot ranks, declared once: bold cells, the Pareto
# front of the plots and anything else that asks "which is better" derive from it.
METRIC_DIRECTIONS: dict[str, str] = {
    "acc": "max", "top5": "max", "miou": "max", "pixel_acc": "max",
    "synthesis_s": "min", "kd_s": "min", "total_s": "min", "projected_paper_synthesis_h": "min",
    "speedup": "max",
}
PERCENT_METRICS = {"acc", "top5", "pixel_acc"}
WHICH = ("best", "final")
TIMES = ("synthesis", "total")
FORMATS = ("github", "csv", "latex", "html", "json")
EXPORT_SUFFIXES = (".csv", ".parquet")
SPEEDUP, DATA = "Speed-up", "Data amount"
UNVERIFIED = "†"
FIXED_COLUMNS = ["run_id", "run_name", "status", "start_time"]


def higher_is_better(name: str) -> bool:
    """Whether larger values of ``name`` (``acc``, ``time/synthesis_s``, ...) are better."""
    return METRIC_DIRECTIONS[name.rsplit("/", 1)[-1]] == "max"


def best_mask(values: pd.Series, name: str) -> pd.Series:
    """True where ``values`` holds the best (ties included) non-missing value for ``name``."""
    valid = values.dropna()
    if valid.empty:
        return pd.Series(False, index=values.index)
    target = valid.max() if higher_is_better(name) else valid.min()
    return values.notna() & (values == target)


# -- numbers ---------------------------------------------------------------------------------------
def _column(runs: pd.DataFrame, name: str) -> pd.Series:
    return runs[name] if name in runs.columns else pd.Series([None] * len(runs), index=runs.index, dtype=object)


def tag_text(values: pd.Series) -> pd.Series:
    """Tags as plain strings whatever the source (store, csv or parquet); missing or "" -> None."""
    def one(value):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return None
        text = str(value)
        return text if text else None
    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def _strings(values: pd.Series) -> pd.Series:
    """Values as strings ("" kept), missing as missing; the dtype pandas infers, as ``Tracker.runs``."""
    def one(value):
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        return str(value)
    converted = [one(v) for v in values]
    if all(v is None for v in converted):  # nothing to infer from
        return pd.Series(math.nan, index=values.index, dtype=float)
    return pd.Series(converted, index=values.index)


def metric_of(runs: pd.DataFrame) -> str:
    """``miou`` for segmentation runs (a ``best/miou`` or ``final/miou`` metric), else ``acc``."""
    for which in WHICH:
        name = f"metrics.{which}/miou"
        if name in runs.columns and runs[name].notna().any():
            return "miou"
    return "acc"


def _check(which: str, time: str) -> None:
    if which not in WHICH:
        raise BenchError(f"invalid metric selection {which!r}: use one of {', '.join(WHICH)}")
    if time not in TIMES:
        raise BenchError(f"invalid time {time!r}: use one of {', '.join(TIMES)}")


def tidy(runs: pd.DataFrame, metric: str, which: str = "best", time: str = "synthesis") -> pd.DataFrame:
    """One row per finished run with the numbers a leaderboard needs.

    Robust to where the frame came from: tags may be strings (store, exports) or numbers (a frame
    built by hand). A seed that ran more than once counts once: its latest run.
    """
    _check(which, time)
    if "status" in runs.columns:
        status = tag_text(runs["status"])
        runs = runs[status.isna() | (status == "FINISHED")]
    variant, method = tag_text(_column(runs, "tags.dfkd.variant")), tag_text(_column(runs, "tags.dfkd.method"))
    variant = variant.where(variant.notna(), method)
    method = method.where(method.notna(), variant.map(lambda v: v.split(":")[0] if v else None))
    deviations = tag_text(_column(runs, "tags.dfkd.deviations"))
    rows = pd.DataFrame({
        "variant": variant, "method": method, "pair": tag_text(_column(runs, "tags.dfkd.pair")),
        "budget": tag_text(_column(runs, "tags.dfkd.budget")).fillna(""),
        "task": tag_text(_column(runs, "tags.dfkd.task")),
        "seed": pd.to_numeric(_column(runs, "tags.dfkd.seed"), errors="coerce").astype("Int64"),
        "start_time": pd.to_numeric(_column(runs, "start_time"), errors="coerce"),
        "value": pd.to_numeric(_column(runs, f"metrics.{which}/{metric}"), errors="coerce").astype(float),
        "seconds": pd.to_numeric(_column(runs, f"metrics.time/{time}_s"), errors="coerce").astype(float),
        "projected_h": pd.to_numeric(_column(runs, "metrics.time/projected_paper_synthesis_h"),
                                     errors="coerce").astype(float),
        "images": pd.to_numeric(_column(runs, "metrics.synth/images"), errors="coerce").astype(float),
        "deviations": deviations.where(deviations.notna(), "none"),
        "teacher_metric": pd.to_numeric(_column(runs, "tags.dfkd.teacher_metric"), errors="coerce").astype(float),
    }, index=runs.index)
    rows = rows[rows["variant"].notna() & rows["pair"].notna()]
    rows = rows.sort_values("start_time", kind="stable", na_position="first")
    seeded = rows[rows["seed"].notna()].drop_duplicates(["variant", "pair", "budget", "seed"], keep="last")
    return pd.concat([seeded, rows[rows["seed"].isna()]]).reset_index(drop=True)


def aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof 1) over seeds per (variant, budget, pair)."""
    if rows.empty:
        return pd.DataFrame(columns=["variant", "method", "pair", "budget", "task", "mean", "std", "n", "seconds",
                                     "seconds_std", "projected_h", "images", "deviations", "deviation_notes"])
    grouped = rows.groupby(["variant", "budget", "pair"], sort=False, dropna=False)
    cells = grouped.agg(
        method=("method", "first"), task=("task", "first"),
        mean=("value", "mean"), std=("value", lambda v: v.std(ddof=1)), n=("value", "count"),
        seconds=("seconds", "mean"), seconds_std=("seconds", lambda v: v.std(ddof=1)),
        projected_h=("projected_h", "mean"), images=("images", "mean"),
        deviation_notes=("deviations", lambda d: tuple(sorted({x for x in d if x != "none"}))),
    ).reset_index()
    cells["n"] = cells["n"].astype(int)
    cells["deviations"] = cells["deviation_notes"].map(bool)
    return cells


def teacher_cells(rows: pd.DataFrame) -> pd.DataFrame:
    """The teacher row from the runs' ``dfkd.teacher_metric`` tags (the latest run's, per pair)."""
    known = rows[rows["teacher_metric"].notna()]
    if known.empty:
        return pd.DataFrame()
    latest = known.groupby("pair", sort=False).last()  # rows are sorted by start time
    return pd.DataFrame({
        "variant": teacher_name(), "method": teacher_name(), "pair": latest.index, "budget": "",
        "task": latest["task"].values, "mean": latest["teacher_metric"].values, "std": math.nan, "n": 1,
        "seconds": math.nan, "seconds_std": math.nan, "projected_h": math.nan, "images": math.nan,
        "deviation_notes": [()] * len(latest), "deviations": False, "from_tag": True})


def speedups(cells: pd.DataFrame) -> pd.Series:
    """Per (variant, budget): mean over pairs of the reference method's (DeepInv's) projected hours
    / the variant's."""
    reference = cells[cells["variant"] == speedup_reference()].groupby("pair")["projected_h"].mean()
    result = {}
    for key, group in cells.groupby(["variant", "budget"], sort=False):
        ratios = [reference[p] / h for p, h in zip(group["pair"], group["projected_h"])
                  if p in reference.index and pd.notna(h) and h > 0 and pd.notna(reference[p]) and reference[p] > 0]
        result[key] = sum(ratios) / len(ratios) if ratios else math.nan
    return pd.Series(result, dtype=float)


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

    @property
    def pairs(self) -> list[str]:
        return [c for c in self.table.columns if c not in ("Method", SPEEDUP, DATA)]

    def headers(self) -> list[str]:
        return [pair_label(c, self.task) if c in self.pairs else c for c in self.table.columns]

    def caption(self) -> str:
        name = {"acc": "top-1 accuracy (%)", "miou": "mIoU"}.get(self.metric, self.metric)
        text = (f"{name} at the {self.which} epoch: mean ± sample std over seeds (n = seeds); "
                f"[{self.time} time] for data-free rows. {SPEEDUP}: mean over pairs of {reference_label()}'s projected "
                f"paper-budget synthesis hours / the method's. {DATA}: images synthesised. "
                f"Bold: the best data-free cell of each column.")
        if self.vs_paper:
            text += (f" (paper X, d): the published number and our difference; {UNVERIFIED} marks an "
                     f"unverified published number.")
        return text


def reference_label() -> str:
    reference = speedup_reference()
    return METHODS.label(reference) if reference else "the reference method"


def label_of(variant: str, budget: str, several_budgets: bool) -> str:
    name = BASELINES.label(variant) if is_teacher(variant) else variant
    return f"{name} @{budget}" if several_budgets and budget else name


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
    _check(which, time)
    if runs is None or runs.empty:
        return _empty("acc", which, time)
    metric = metric_of(runs)
    rows = tidy(runs, metric, which, time)
    if budget:
        rows = rows[rows["budget"] == budget]
    if rows.empty:
        return _empty(metric, which, time)
    cells = aggregate(rows)
    cells["from_tag"] = False
    if not cells["method"].map(is_teacher).any():  # a run of the teacher baseline replaces the tags' row
        tagged = teacher_cells(rows)
        if not tagged.empty:
            cells = pd.concat([tagged, cells], ignore_index=True)
    if task is None:
        tasks = rows["task"].dropna()
        task = tasks.mode().iloc[0] if not tasks.empty else None

    several = rows["budget"].nunique() > 1
    cells["label"] = [label_of(v, b, several) for v, b in zip(cells["variant"], cells["budget"])]
    cells["baseline"] = cells["method"].map(is_baseline)
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

    # Footnotes: one number per distinct deviations text, in table order.
    notes: list[str] = []
    for texts in cells["deviation_notes"]:
        notes += [t for t in texts if t not in notes]
    cells["markers"] = [[notes.index(t) + 1 for t in texts] for texts in cells["deviation_notes"]]
    footnotes = [f"{marker([i + 1])} departs from the reference implementation (dfkd.deviations): {t}"
                 for i, t in enumerate(notes)]

    paper_text = [""] * len(cells)
    if vs_paper:
        paper_text, unverified = _compare_with_paper(cells, task, metric)
        footnotes += unverified

    table, bold = _table(cells, pairs, paper_text, metric)
    baseline_rows = int(cells.groupby("_row", sort=True)["baseline"].first().sum())
    cells = cells.drop(columns=["_row", "_col", "markers"])
    return Leaderboard(cells, table, bold, metric, which, time, footnotes, baseline_rows, vs_paper, task)


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
    bold[SPEEDUP] = best_mask(per_row["speedup"].where(~per_row["baseline"].astype(bool)), "speedup").values
    return table, bold


# -- rendering ------------------------------------------------------------------------------------
def _marked(board: Leaderboard, wrap) -> list[list[str]]:
    out = []
    for (_, texts), (_, bolds) in zip(board.table.iterrows(), board.bold.iterrows()):
        out.append([wrap(str(t)) if b and t else str(t) for t, b in zip(texts, bolds)])
    return out


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                 "±": r"$\pm$", "×": r"$\times$", "†": r"\dag{}", "‡": r"\ddag{}", "§": r"\S{}",
                 "→": r"$\rightarrow$", "≥": r"$\geq$", "≤": r"$\leq$", "–": "--", "—": "---", "<": r"$<$",
                 ">": r"$>$", "|": r"\textbar{}",
                 **{s: rf"\textsuperscript{{{d}}}" for d, s in zip("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")}}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex(board: Leaderboard) -> str:
    headers = [latex_escape(h) for h in board.headers()]
    body = _marked(board, lambda t: "\x00" + t + "\x01")  # bold markers survive the escaping
    lines = [r"\begin{tabular}{l" + "r" * (len(headers) - 1) + "}", r"\toprule", " & ".join(headers) + r" \\",
             r"\midrule"]
    for i, row in enumerate(body):
        if i == board.baseline_rows and 0 < i < len(body):
            lines.append(r"\midrule")
        cells = [latex_escape(c).replace("\x00", r"\textbf{").replace("\x01", "}") for c in row]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", "", r"\par\smallskip", r"{\footnotesize " +
              latex_escape(board.caption()) + r"\par"]
    lines += [latex_escape(note) + r"\par" for note in board.footnotes]
    return "\n".join(lines) + "}\n"


def _html(board: Leaderboard) -> str:
    esc = html.escape
    lines = ['<table class="leaderboard">', "<thead>", "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in board.headers())
             + "</tr>", "</thead>", "<tbody>"]
    for (_, texts), (_, bolds) in zip(board.table.iterrows(), board.bold.iterrows()):
        cells = [f"<b>{esc(str(t))}</b>" if b and t else esc(str(t)) for t, b in zip(texts, bolds)]
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    lines += ["</tbody>", "</table>", f"<p>{esc(board.caption())}</p>"]
    lines += [f"<p>{esc(note)}</p>" for note in board.footnotes]
    return "\n".join(lines) + "\n"


def _github(board: Leaderboard) -> str:
    body = [[c.replace("|", r"\|") for c in row] for row in _marked(board, lambda t: f"**{t}**")]
    text = tabulate(body, headers=board.headers(), tablefmt="github", disable_numparse=True)
    return "\n\n".join([text, board.caption(), *board.footnotes]) + "\n"


def _json_value(value):
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _json(board: Leaderboard) -> str:
    fields = ["label", "variant", "method", "pair", "budget", "task", "mean", "std", "n", "seconds", "seconds_std",
              "projected_h", "images", "speedup", "deviations", "deviation_notes", "best", "baseline", "from_tag"]
    if board.vs_paper:
        fields += ["paper", "paper_diff", "paper_verified", "paper_source"]
    records = []
    for _, c in board.cells.iterrows():
        record = {f: _json_value(c[f]) for f in fields}
        record.update(metric=board.metric, which=board.which, time=board.time)
        record["deviations"], record["best"] = bool(c["deviations"]), bool(c["best"])
        records.append(record)
    return json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render(board: Leaderboard, fmt: str = "github") -> str:
    """Render as github (markdown), csv, latex (booktabs), html or json.

    csv is the plain table (pair ids as headers, no markup, no footnote texts); json holds one
    record per cell with the numbers in store units (fractions, seconds, hours).
    """
    if fmt not in FORMATS:
        raise BenchError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if board.table.empty:
        return {"json": "[]\n", "csv": "Method\n"}.get(fmt, "no finished runs\n")
    if fmt == "csv":
        return board.table.to_csv(index=False)
    return {"json": _json, "github": _github, "latex": _latex, "html": _html}[fmt](board)


# -- export files ---------------------------------------------------------------------------------
def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise BenchError(f"unknown export format {path.name!r}: use a file ending in "
                         f"{' or '.join(EXPORT_SUFFIXES)}")
    return suffix


def export(runs: pd.DataFrame, path: str | Path) -> Path:
    """Write a runs frame (run_id, run_name, status, start_time, tags.*, params.*, metrics.*) to
    csv or parquet, chosen by the suffix; tags and params are written as strings."""
    path = Path(path)
    suffix = _suffix(path)
    columns = [c for c in FIXED_COLUMNS if c in runs.columns]
    for prefix in ("tags.", "params.", "metrics."):
        columns += sorted(c for c in runs.columns if c.startswith(prefix))
    frame = runs[columns].copy()
    for c in columns:
        if c.startswith(("tags.", "params.")) or c in ("run_id", "run_name", "status"):
            frame[c] = _strings(frame[c])
        elif c.startswith("metrics.") or c == "start_time":
            frame[c] = pd.to_numeric(frame[c], errors="coerce")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise BenchError(f"writing parquet needs pyarrow ({exc}); use a .csv file instead") from None
    return path


def load_export(path: str | Path) -> pd.DataFrame:
    """Read a file written by ``export`` back into a runs frame like ``Tracker.runs``'s: tags and
    params strings, metrics floats, ``start_time`` integers. csv cannot tell an empty tag from a
    missing one: both read back as missing (the leaderboard treats them alike)."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise BenchError(f"export file {str(path)!r} does not exist")
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        try:
            frame = pd.read_parquet(path)
        except ImportError as exc:
            raise BenchError(f"reading parquet needs pyarrow ({exc})") from None
    for c in frame.columns:
        if c.startswith("metrics.") or c == "start_time":
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)  # "" -> NaN
        else:
            frame[c] = tag_text(frame[c]) if suffix == ".csv" else _strings(frame[c])
            frame[c] = _strings(frame[c])  # the dtype pandas infers for strings
    if "start_time" in frame.columns and frame["start_time"].notna().all():
        frame["start_time"] = frame["start_time"].astype("int64")
    return frame
