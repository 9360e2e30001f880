"""The leaderboard's notes and the HTML page, on runs frames built by hand: departures every run
records are said once (the caption), a row's own ones get numbers, formats without footnotes
carry the text; the page is one self-contained, UTF-8 document with the table, plot, samples and
provenance. The page in a real browser: tests/integration/test_leaderboard_page.py."""

from __future__ import annotations

import io
import json

import pandas as pd

from harness.report.leaderboard import build, split_notes
from harness.report.page import page
from harness.report.render import render
from harness.report.runs import current_citations
from tests.unit.test_leaderboard import QUICK, R34, WRN, frame

TASK_NOTE = "task digits: embedded task, no reference settings; generator and budgets chosen (docs/x)"


def noted() -> pd.DataFrame:
    """Every run records the task's note; fast5 on WRN also a budget note, cmi on R34 another."""
    runs = frame()
    runs["tags.dfkd.deviations"] = TASK_NOTE
    fast5 = runs["tags.dfkd.variant"].eq("fast5") & runs["tags.dfkd.pair"].eq(WRN)
    cmi = runs["tags.dfkd.variant"].eq("cmi") & runs["tags.dfkd.pair"].eq(R34)
    runs.loc[fast5, "tags.dfkd.deviations"] = f"{TASK_NOTE}; {QUICK}"
    runs.loc[cmi, "tags.dfkd.deviations"] = f"{TASK_NOTE}; cmi bank: full early"
    return runs


def test_notes_every_run_shares_go_to_the_caption_once_and_the_rest_are_numbered():
    board = build(noted())
    assert board.shared_notes == TASK_NOTE
    assert board.caption().count(TASK_NOTE) == 1
    assert board.footnotes == ["¹ cmi bank: full early", f"² {QUICK}"]
    table = board.table.set_index("Method")
    assert table.loc["cmi", R34].endswith(" ¹") and table.loc["fast5", WRN].endswith(" ²")
    assert not table.loc["deepinv", WRN][-1].isdigit() and "¹" not in table.loc["deepinv", WRN]
    markdown = render(board, "github")
    assert markdown.count(TASK_NOTE) == 1 and "departs from the reference implementation" in markdown


def test_csv_and_json_carry_the_note_text():
    board = build(noted())
    table = pd.read_csv(io.StringIO(render(board, "csv")), keep_default_na=False).set_index("Method")
    assert table.loc["fast5", "Notes"] == f"{TASK_NOTE}; {QUICK}"
    assert table.loc["deepinv", "Notes"] == TASK_NOTE
    records = json.loads(render(board, "json"))
    fast5 = next(r for r in records if r["variant"] == "fast5" and r["pair"] == WRN)
    assert fast5["notes"] == [QUICK] and fast5["shared_notes"] == TASK_NOTE
    assert fast5["deviation_notes"] == [f"{TASK_NOTE}; {QUICK}"]


def test_split_notes_shares_only_what_every_run_records():
    shared, own = split_notes(pd.Series([("a; b; c",), ("a; b",), ()]), pd.Series([False, False, True]))
    assert (shared, own) == ("a; b", [("c",), (), ()])  # the teacher's tag row records nothing: ignored
    shared, own = split_notes(pd.Series([("a; b",), ()]), pd.Series([False, False]))
    assert (shared, own) == ("", [("a; b",), ()])  # a run without departures: nothing is shared
    assert split_notes(pd.Series([("a; x",), ("a; y",)]), pd.Series([False, False])) == ("a", [("x",), ("y",)])
    # shared wherever it stands: a method's own note may come first
    assert split_notes(pd.Series([("m; a; b",), ("a; b; n",)]), pd.Series([False, False])) == ("a; b", [("m",), ("n",)])


def test_notes_recorded_with_the_old_specification_citations_show_the_docs_anchors():
    old = ("task digits: embedded task, no reference settings; generator and budgets chosen (spec §12); "
           "budget quick: epochs 20 (paper 200); schedules scaled (§12)")
    assert current_citations(old) == (
        "task digits: embedded task, no reference settings; generator and budgets chosen "
        "(docs/methods.md#decision-budgets-and-schedule-scaling); budget quick: epochs 20 (paper 200); "
        "schedules scaled (docs/methods.md#decision-budgets-and-schedule-scaling)")
    runs = noted()
    runs["tags.dfkd.deviations"] = old
    assert "§" not in render(build(runs), "github")


def test_the_page_is_one_utf8_document_with_table_plot_samples_and_provenance():
    board = build(noted())
    svg = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n'
           '<svg id="p"></svg>')
    text = page(board, plot_svg=svg, samples={"fast5": b"\x89PNG fake"}, provenance=["42 runs from results/x.csv."])
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">") and '<meta charset="utf-8">' in text
    assert "prefers-color-scheme: dark" in text and "<script>" in text
    assert '<svg id="p"></svg>' in text and "<?xml" not in text and "DOCTYPE svg" not in text
    assert text.count("data:image/png;base64,") == 1 and "<th scope=\"col\">Samples</th>" in text
    assert "42 runs from results/x.csv." in text and board.footnotes[0] in text
    for label in board.table["Method"]:
        assert f">{label}</th>" in text
    assert 'data-sort="0.882"' in text  # fast5 on WRN sorts by its mean, in store units
    assert "±" in text and "&plusmn;" not in text  # literal UTF-8, declared


def test_an_empty_board_is_still_a_page():
    text = render(build(pd.DataFrame()), "html")
    assert text.startswith("<!DOCTYPE html>") and "No finished runs." in text
