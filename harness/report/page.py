"""A ``Leaderboard`` -> one self-contained HTML page: the table (sortable by any column, the
paper's row order first), its caption and notes, the Pareto plot inline as SVG, one sample grid
per method row and where the numbers come from. Everything is inline (styles, script, images),
so the file can be mailed, served by any static server or opened from disk; the charset is
declared in the page, so a server that sends no charset header still shows "±" as "±".
"""

from __future__ import annotations

import base64
import html
import math
import re
from typing import TYPE_CHECKING

import pandas as pd

from harness.report.leaderboard import DATA, SPEEDUP, Leaderboard

if TYPE_CHECKING:
    from harness.record.tracking import Tracker

STYLE = """
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --rule: #d1d9e0;
        --stripe: #f6f8fa; --accent: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --rule: #3d444d; --stripe: #151b23; --accent: #4493f8; }
}
body { margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: var(--fg); background: var(--bg);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.35rem 0.75rem; border-bottom: 1px solid var(--rule); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { position: sticky; top: 0; background: var(--bg); }
th button { all: unset; cursor: pointer; font-weight: 600; }
th button:focus-visible { outline: 2px solid var(--accent); }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
tbody tr:nth-child(even) { background: var(--stripe); }
tr.last-baseline td { border-bottom: 2px solid var(--muted); }
td img { display: block; height: 96px; image-rendering: pixelated; }
.caption, .notes, footer { color: var(--muted); max-width: 60rem; }
.notes p { margin: 0.2rem 0; }
figure.plot svg { max-width: 100%; height: auto; background: #ffffff; border-radius: 4px; }
"""

# Click a header: sort by its column (numbers from data-sort), again: the other way; the Method
# column sorts back to the paper's row order.
SCRIPT = """
document.querySelectorAll("table.leaderboard th button").forEach((button, column) => {
  button.addEventListener("click", () => {
    const th = button.parentElement, table = th.closest("table"), body = table.tBodies[0];
    const descending = th.getAttribute("aria-sort") !== "descending";
    table.querySelectorAll("th").forEach(other => other.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    const key = row => parseFloat(row.cells[column].dataset.sort);
    const rows = [...body.rows].sort((a, b) => {
      const x = key(a), y = key(b);
      if (isNaN(x)) return 1;
      if (isNaN(y)) return -1;
      return descending ? y - x : x - y;
    });
    rows.forEach(row => body.appendChild(row));
  });
});
"""


def page(board: Leaderboard, title: str | None = None, plot_svg: str | None = None,
         samples: dict[str, bytes] | None = None, provenance: list[str] | None = None) -> str:
    """The page. ``samples`` maps a row label to a PNG of that row's synthesised images;
    ``provenance`` lists where the runs come from (store or export, commits, date)."""
    esc = html.escape
    title = title or f"dfkd-bench leaderboard: {board.task or 'runs'}"
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             '<meta name="color-scheme" content="light dark">', f"<title>{esc(title)}</title>",
             f"<style>{STYLE}</style>", "</head>", "<body>", f"<h1>{esc(title)}</h1>"]
    if board.table.empty:
        parts.append("<p>No finished runs.</p>")
    else:
        parts += _table(board, samples or {})
        parts.append(f'<p class="caption">{esc(board.caption())}</p>')
        if board.footnotes:
            parts += ['<div class="notes">', *(f"<p>{esc(note)}</p>" for note in board.footnotes), "</div>"]
    if plot_svg:
        parts += ["<h2>Accuracy against synthesis time</h2>", f'<figure class="plot">{_inline_svg(plot_svg)}</figure>']
    if provenance:
        parts += ["<footer>", *(f"<p>{esc(line)}</p>" for line in provenance), "</footer>"]
    parts += [f"<script>{SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _table(board: Leaderboard, samples: dict[str, bytes]) -> list[str]:
    esc = html.escape
    columns = list(board.table.columns)
    headers = board.headers()
    with_samples = bool(samples)
    lines = ['<table class="leaderboard">', "<thead><tr>"]
    lines += [f'<th scope="col"><button type="button">{esc(h)}</button></th>' for h in headers]
    if with_samples:
        lines.append('<th scope="col">Samples</th>')
    lines += ["</tr></thead>", "<tbody>"]
    sort_keys = _sort_keys(board)
    for index, ((_, texts), (_, bolds)) in enumerate(zip(board.table.iterrows(), board.bold.iterrows())):
        label = str(texts["Method"])
        last_baseline = index == board.baseline_rows - 1 and index < len(board.table) - 1
        lines.append('<tr class="last-baseline">' if last_baseline else "<tr>")
        for column in columns:
            text = esc(str(texts[column]))
            text = f"<strong>{text}</strong>" if bolds[column] and text else text
            key = index if column == "Method" else sort_keys[index].get(column, math.nan)
            tag = "th scope=\"row\"" if column == "Method" else "td"
            lines.append(f'<{tag} data-sort="{_number(key)}">{text}</{tag.split()[0]}>')
        if with_samples:
            png = samples.get(label)
            image = (f'<img alt="samples of {esc(label)}" src="data:image/png;base64,'
                     f'{base64.b64encode(png).decode()}">' if png else "")
            lines.append(f"<td>{image}</td>")
        lines.append("</tr>")
    lines += ["</tbody>", "</table>"]
    return lines


def _sort_keys(board: Leaderboard) -> list[dict[str, float]]:
    """Each table row's numbers: the metric per pair, the speed-up and the data amount."""
    keys = []
    for _, group in board.cells.groupby("label", sort=False):
        row = {str(c["pair"]): float(c["mean"]) for _, c in group.iterrows()}
        row[SPEEDUP] = float(group["speedup"].iloc[0])
        images = group["images"]
        row[DATA] = float(images.mean()) if images.notna().any() else math.nan
        keys.append(row)
    return keys


def _number(value: float) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.6g}"


def _inline_svg(svg: str) -> str:
    """Matplotlib's SVG file as an element: without its XML declaration and doctype."""
    return re.sub(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", "", svg)


def leaderboard_page(board: Leaderboard, runs: pd.DataFrame, source: str, tracker: Tracker | None = None) -> str:
    """The page of a task's runs with everything they can show: the Pareto plot, the last sample
    grid of each data-free row's latest run (when the runs come from a store, which holds the
    images; an export does not) and the runs' provenance."""
    import tempfile
    from datetime import datetime, timezone
    from pathlib import Path

    import harness
    from harness.report.plots import plot

    samples = {}
    if tracker is not None and not board.table.empty:
        for _, cell in board.cells[~board.cells["baseline"]].drop_duplicates("label").iterrows():
            mine = runs[(runs["tags.dfkd.variant"].astype(str) == cell["variant"])
                        & (runs["tags.dfkd.budget"].astype(str) == cell["budget"])]
            if not mine.empty:
                png = tracker.last_samples(str(mine.sort_values("start_time")["run_id"].iloc[-1]))
                if png:
                    samples[cell["label"]] = png
    svg = None
    if not board.table.empty and board.task:
        with tempfile.TemporaryDirectory() as scratch:
            drawn = plot(runs, board.task, Path(scratch) / "pareto")
            svg = drawn.svg.read_text(encoding="utf-8") if drawn.points is not None and len(drawn.points) else None
    commits = sorted(set(runs.get("tags.dfkd.git_sha", pd.Series(dtype=str)).dropna().astype(str)))
    dirty = set(runs.get("tags.dfkd.git_dirty", pd.Series(dtype=str)).dropna().astype(str))
    built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    provenance = [f"{len(runs)} runs from {source}.",
                  f"Code: commit{'s' if len(commits) > 1 else ''} {', '.join(c[:12] for c in commits) or 'unknown'}"
                  + (" (some with uncommitted changes)" if "true" in dirty else "") + ".",
                  f"Built {built} by dfkd-bench {harness.__version__}."]
    if tracker is None:
        provenance.append("Sample grids are kept in the store, not in exports: build the page from the store to "
                          "see them.")
    return page(board, plot_svg=svg, samples=samples, provenance=provenance)
