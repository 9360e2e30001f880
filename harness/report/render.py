"""A ``Leaderboard`` -> text: GitHub Markdown, CSV, LaTeX (booktabs), an HTML page
(``harness.report.page``) and JSON, each with the caption and the notes (footnotes where the format
has them, the full text per row where it does not)."""

from __future__ import annotations

import json
import math

import pandas as pd
from tabulate import tabulate

from harness.core.errors import BenchError
from harness.report.leaderboard import Leaderboard
from harness.report.page import page

FORMATS = ("github", "csv", "latex", "html", "json")


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
              "projected_h", "images", "speedup", "deviations", "deviation_notes", "notes", "best", "baseline",
              "from_tag"]
    if board.vs_paper:
        fields += ["paper", "paper_diff", "paper_verified", "paper_source"]
    records = []
    for _, c in board.cells.iterrows():
        record = {f: _json_value(c[f]) for f in fields}
        record.update(metric=board.metric, which=board.which, time=board.time, shared_notes=board.shared_notes)
        record["deviations"], record["best"] = bool(c["deviations"]), bool(c["best"])
        records.append(record)
    return json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _csv(board: Leaderboard) -> str:
    table = board.table.copy()
    table["Notes"] = board.row_notes()
    return table.to_csv(index=False)


def render(board: Leaderboard, fmt: str = "github") -> str:
    """Render as github (markdown), csv, latex (booktabs), html (a self-contained page) or json.

    csv is the plain table (pair ids as headers, no markup) with each row's departures in full in
    a Notes column; json holds one record per cell with the numbers in store units (fractions,
    seconds, hours). The html page here has no plot or sample images: ``page.page`` adds them.
    """
    if fmt not in FORMATS:
        raise BenchError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if board.table.empty and fmt != "html":
        return {"json": "[]\n", "csv": "Method\n"}.get(fmt, "no finished runs\n")
    if fmt == "html":
        return page(board)
    return {"json": _json, "github": _github, "latex": _latex, "csv": _csv}[fmt](board)
