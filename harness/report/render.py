"""A ``Leaderboard`` -> text: GitHub Markdown, CSV, LaTeX (booktabs), HTML and JSON, each with
the caption and the numbered deviation footnotes."""

from __future__ import annotations

import html
import json
import math

import pandas as pd
from tabulate import tabulate

from harness.core.errors import BenchError
from harness.report.leaderboard import Leaderboard

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
