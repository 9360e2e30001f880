"""harness.report.leaderboard on runs frames built by hand with known values: cell text, mean ± sample
std over seeds, seed counts, speed-up, bold, footnotes, the five formats, --vs-paper and the
metric/time switches. No store and no training: the frames mimic ``Tracker.runs``."""

from __future__ import annotations

import io
import json
import statistics
from html.parser import HTMLParser

import pandas as pd
import pytest

from harness.core.errors import BenchError
from harness.core.registry import TASKS
from harness.report import paper_numbers
from harness.report.exports import export, load_export
from harness.report.leaderboard import build
from harness.report.plots import pareto_front, plot_data
from harness.report.render import render
from harness.report.runs import METRIC_DIRECTIONS

WRN, R34 = "wrn40_2-wrn16_1", "resnet34-resnet18"
TEACHER = {WRN: "0.9487", R34: "0.957"}
QUICK = ("budget quick: fewer epochs/steps than the paper; schedules scaled "
         "(docs/methods.md#decision-budgets-and-schedule-scaling)")


def run(variant, pair, seed, value, seconds=0.0, projected_h=0.0, images=0.0, *, deviations="none", task="cifar10",
        budget="paper", start=None, total=None, final=None, metric="acc"):
    """One row as ``Tracker.runs`` returns it: tags are strings, metrics floats."""
    method = variant.split(":")[0]
    return {"run_id": f"{variant}-{pair}-{seed}-{budget}-{start}", "run_name": f"{variant}/{pair}/seed{seed}",
            "status": "FINISHED", "start_time": 1_700_000_000_000 + (seed if start is None else start),
            "tags.dfkd.method": method, "tags.dfkd.variant": variant, "tags.dfkd.task": task,
            "tags.dfkd.pair": pair, "tags.dfkd.teacher": pair.split("-")[0], "tags.dfkd.student": pair.split("-")[1],
            "tags.dfkd.seed": str(seed), "tags.dfkd.budget": budget, "tags.dfkd.deviations": deviations,
            "tags.dfkd.teacher_metric": TEACHER.get(pair, "0.99"), "params.epochs": "200",
            f"metrics.best/{metric}": value, f"metrics.final/{metric}": value - 0.01 if final is None else final,
            "metrics.time/synthesis_s": seconds, "metrics.time/kd_s": 5.0,
            "metrics.time/total_s": seconds + 100.0 if total is None else total,
            "metrics.time/projected_paper_synthesis_h": projected_h, "metrics.synth/images": images}


# Known values: (variant, pair) -> best/acc per seed 0, 1, 2; synthesis seconds per seed; projected hours.
VALUES = {
    ("scratch", WRN): [0.910, 0.912, 0.914], ("scratch", R34): [0.950, 0.952, 0.954],
    ("kd", WRN): [0.990, 0.992, 0.994], ("kd", R34): [0.990, 0.990, 0.990],  # higher than any data-free cell
    ("deepinv", WRN): [0.830, 0.840, 0.850], ("deepinv", R34): [0.930, 0.932, 0.934],
    ("deepinv:g_steps=1000", WRN): [0.800, 0.810, 0.820],
    ("cmi", WRN): [0.900, 0.910, 0.920], ("cmi", R34): [0.946, 0.948, 0.950],
    ("fast5", WRN): [0.880, 0.882, 0.884], ("fast5", R34): [0.950, 0.952, 0.954],
    ("fast2", WRN): [0.870],
}
SECONDS = {"deepinv": [10.0, 12.0, 14.0], "deepinv:g_steps=1000": [5.0, 6.0, 7.0], "cmi": [4.0, 4.0, 4.0],
           "fast5": [0.5, 0.6, 0.7], "fast2": [0.3]}
PROJECTED = {("deepinv", WRN): 16.0, ("deepinv", R34): 40.0, ("cmi", WRN): 8.0, ("cmi", R34): 20.0,
             ("fast5", WRN): 0.08, ("fast5", R34): 0.16, ("fast2", WRN): 0.04, ("deepinv:g_steps=1000", WRN): 8.0}


def frame(shuffle: bool = True) -> pd.DataFrame:
    rows = []
    for (variant, pair), values in VALUES.items():
        for seed, value in enumerate(values):
            baseline = variant in ("scratch", "kd")
            rows.append(run(variant, pair, seed, value, 0.0 if baseline else SECONDS[variant][seed],
                            PROJECTED.get((variant, pair), 0.0), 0.0 if baseline else 1000.0 * (seed + 1),
                            deviations=QUICK if (variant, pair) == ("fast5", WRN) else "none"))
    runs = pd.DataFrame(rows)
    return runs.sample(frac=1, random_state=0).reset_index(drop=True) if shuffle else runs


def cell(board, label, pair):
    return board.table.set_index("Method").loc[label, pair]


def test_rows_columns_and_cells():
    board = build(frame())
    assert list(board.table["Method"]) == ["Teacher", "scratch", "kd", "deepinv", "deepinv:g_steps=1000", "cmi",
                                           "fast2", "fast5"]
    assert list(board.table.columns) == ["Method", R34, WRN, "Speed-up", "Data amount"]
    assert board.headers() == ["Method", "ResNet-34 / ResNet-18", "WRN-40-2 / WRN-16-1", "Speed-up", "Data amount"]
    # One value (the teacher tag) shows the mean alone; baselines have no time bracket.
    assert cell(board, "Teacher", WRN) == "94.9"
    assert cell(board, "Teacher", R34) == "95.7"
    assert cell(board, "scratch", WRN) == "91.2 ± 0.2 (n=3)"
    assert cell(board, "kd", R34) == "99.0 ± 0.0 (n=3)"
    assert cell(board, "deepinv", WRN) == "84.0 ± 1.0 (n=3) [12.0s]"
    assert cell(board, "cmi", WRN) == "91.0 ± 1.0 (n=3) [4.0s]"
    assert cell(board, "fast5", WRN) == "88.2 ± 0.2 (n=3) [0.6s] ¹"  # deviations -> footnote marker
    assert cell(board, "fast2", WRN) == "87.0 [0.3s]"  # a single seed: just the mean
    assert cell(board, "fast2", R34) == ""
    assert cell(board, "deepinv:g_steps=1000", WRN) == "81.0 ± 1.0 (n=3) [6.0s]"


def test_mean_std_and_counts_match_the_runs():
    board = build(frame())
    cells = board.cells.set_index(["variant", "pair"])
    for (variant, pair), values in VALUES.items():
        c = cells.loc[(variant, pair)]
        assert c["n"] == len(values)
        assert c["mean"] == pytest.approx(statistics.fmean(values))
        if len(values) > 1:
            assert c["std"] == pytest.approx(statistics.stdev(values))  # ddof 1
        else:
            assert pd.isna(c["std"])
        if variant in SECONDS:
            assert c["seconds"] == pytest.approx(statistics.fmean(SECONDS[variant]))
    # a non-trivial std, printed with one decimal in percent
    deepinv_r34 = statistics.stdev(VALUES[("deepinv", R34)]) * 100
    assert cell(board, "deepinv", R34) == f"93.2 ± {deepinv_r34:.1f} (n=3) [12.0s]"


def test_speedup_against_hand_computed_values():
    board = build(frame())
    speed = board.table.set_index("Method")["Speed-up"]
    # deepinv's own hours / the variant's, averaged over the pairs both ran.
    assert speed["deepinv"] == "1.0×"
    assert speed["cmi"] == f"{(16 / 8 + 40 / 20) / 2:.1f}×" == "2.0×"
    assert speed["fast5"] == f"{(16 / 0.08 + 40 / 0.16) / 2:.1f}×" == "225.0×"
    assert speed["fast2"] == "400.0×"
    assert speed["deepinv:g_steps=1000"] == "2.0×"
    assert speed["Teacher"] == speed["scratch"] == speed["kd"] == ""
    cells = board.cells.set_index(["variant", "pair"])
    assert cells.loc[("fast5", WRN), "speedup"] == pytest.approx(225.0)
    # Without DeepInv there is no column of blanks: it is left out and the caption says why.
    no_deepinv = frame()
    no_deepinv = no_deepinv[~no_deepinv["tags.dfkd.variant"].eq("deepinv")]
    board = build(no_deepinv)
    assert "Speed-up" not in board.table.columns and "Speed-up" not in board.bold.columns
    assert "No Speed-up column: none of these runs is of DeepInv, the method it is measured against." in board.caption()
    assert "Speed-up" not in render(board, "github").splitlines()[0]


def test_data_amount_is_the_mean_of_synth_images():
    amounts = build(frame()).table.set_index("Method")["Data amount"]
    assert amounts["fast5"] == "2,000"  # seeds synthesised 1,000, 2,000 and 3,000 images
    assert amounts["fast2"] == "1,000"
    assert amounts["kd"] == amounts["Teacher"] == ""


def test_bold_marks_the_best_data_free_cell_per_column_only():
    board = build(frame())
    bold = board.bold.set_index(board.table["Method"])
    # kd (99.x) beats every data-free cell but baselines are never bold.
    assert list(bold.index[bold[WRN]]) == ["cmi"]
    assert list(bold.index[bold[R34]]) == ["fast5"]  # fast5 95.2 over cmi 94.8 and deepinv 93.2
    assert list(bold.index[bold["Speed-up"]]) == ["fast2"]
    assert not bold.loc[["Teacher", "scratch", "kd"]].any().any()
    assert board.cells["best"].sum() == 2
    text = render(board, "github")
    assert "**91.0 ± 1.0 (n=3) [4.0s]**" in text and "**99.0" not in text and "**400.0×**" in text
    assert METRIC_DIRECTIONS["acc"] == "max" and METRIC_DIRECTIONS["synthesis_s"] == "min"


def test_footnotes_name_the_deviations():
    runs = frame()
    other = "cmi g_steps=500: the README's CMI-500 row; the released script runs 200"
    runs.loc[runs["tags.dfkd.variant"].eq("cmi") & runs["tags.dfkd.pair"].eq(R34), "tags.dfkd.deviations"] = other
    board = build(runs)
    assert cell(board, "cmi", R34) == "94.8 ± 0.2 (n=3) [4.0s] ¹"  # first in table order
    assert cell(board, "fast5", WRN) == "88.2 ± 0.2 (n=3) [0.6s] ²"
    assert "¹" not in cell(board, "cmi", WRN) and "¹" not in cell(board, "deepinv", WRN)
    assert board.footnotes == [f"¹ {other}", f"² {QUICK}"]
    assert board.shared_notes == ""  # most runs record no departure: nothing is shared by all
    text = render(board, "github")
    assert board.footnotes[0] in text and board.footnotes[1] in text
    flags = board.cells.set_index(["variant", "pair"])["deviations"]
    assert flags[("fast5", WRN)] and flags[("cmi", R34)] and not flags[("cmi", WRN)]


def test_every_format_parses():
    board = build(frame())
    table = pd.read_csv(io.StringIO(render(board, "csv")), keep_default_na=False)
    assert list(table["Method"]) == list(board.table["Method"])
    notes = table.set_index("Method")["Notes"]
    assert notes["fast5"] == QUICK and notes["cmi"] == ""
    assert table.set_index("Method").loc["cmi", WRN] == "91.0 ± 1.0 (n=3) [4.0s]"  # no bold markup
    assert "**" not in render(board, "csv")

    records = json.loads(render(board, "json"))
    assert len(records) == len(board.cells) == 14  # 12 (variant, pair) cells + the tag teacher's 2
    fast5 = next(r for r in records if r["variant"] == "fast5" and r["pair"] == WRN)
    assert fast5["mean"] == pytest.approx(0.882) and fast5["n"] == 3 and fast5["std"] == pytest.approx(0.002)
    assert fast5["seconds"] == pytest.approx(0.6) and fast5["projected_h"] == pytest.approx(0.08)
    assert fast5["images"] == pytest.approx(2000.0) and fast5["deviations"] is True and fast5["best"] is False
    assert next(r for r in records if r["variant"] == "cmi" and r["pair"] == WRN)["best"] is True
    for r in records:
        assert isinstance(r["n"], int) and isinstance(r["best"], bool) and isinstance(r["deviations"], bool)
        assert r["mean"] is None or isinstance(r["mean"], float)

    class Checker(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.bold, self.cells = [], 0, 0

        def handle_starttag(self, tag, attrs):
            if tag in ("meta", "img", "br", "link"):  # void elements: no end tag
                return
            self.stack.append(tag)
            self.bold += tag == "strong"
            self.cells += tag == "td"

        def handle_endtag(self, tag):
            assert self.stack and self.stack.pop() == tag, tag

    checker = Checker()
    checker.feed(render(board, "html"))
    checker.close()
    assert checker.stack == [] and checker.bold == 3 and checker.cells == 8 * 4  # + a th per row

    latex = render(board, "latex")
    for needle in (r"\toprule", r"\midrule", r"\bottomrule", r"\textbf{91.0 $\pm$ 1.0 (n=3) [4.0s]}",
                   r"deepinv:g\_steps=1000", r"\begin{tabular}{lrrrr}", r"\end{tabular}"):
        assert needle in latex, needle
    assert "±" not in latex and "_steps" not in latex.replace(r"\_steps", "")

    markdown = render(board, "github")
    assert "| Method " in markdown and "WRN-40-2 / WRN-16-1" in markdown


def test_render_errors_and_empty():
    with pytest.raises(BenchError, match="github, csv, latex, html, json"):
        render(build(frame()), "xlsx")
    with pytest.raises(BenchError, match="best, final"):
        build(frame(), which="last")
    with pytest.raises(BenchError, match="synthesis, total"):
        build(frame(), time="kd")
    empty = build(pd.DataFrame())
    assert render(empty, "json") == "[]\n" and json.loads(render(empty, "json")) == []
    assert render(empty, "github").startswith("no finished runs")
    assert render(build(frame(), budget="smoke"), "csv") == "Method\n"


def test_final_metric_and_total_time_switch_columns():
    runs = frame()
    runs["metrics.final/acc"] = runs["metrics.best/acc"] - 0.05
    runs["metrics.time/total_s"] = runs["metrics.time/synthesis_s"] * 10 + 60
    default = build(runs)
    switched = build(runs, which="final", time="total")
    assert cell(default, "deepinv", WRN) == "84.0 ± 1.0 (n=3) [12.0s]"
    assert cell(switched, "deepinv", WRN) == "79.0 ± 1.0 (n=3) [3.0m]"  # (10+12+14)*10/3 + 60 = 180 s
    assert cell(build(runs, which="final"), "cmi", WRN) == "86.0 ± 1.0 (n=3) [4.0s]"
    assert cell(build(runs, time="total"), "cmi", WRN) == "91.0 ± 1.0 (n=3) [100.0s]"  # 4*10 + 60
    assert "final epoch" in render(switched, "github") and "[total time]" in render(switched, "github")
    # the speed-up always comes from projected hours
    assert switched.table.set_index("Method")["Speed-up"]["fast5"] == "225.0×"


def test_vs_paper_shows_published_numbers_and_differences():
    board = build(frame(), vs_paper=True)
    assert cell(board, "fast5", WRN) == "88.2 ± 0.2 (n=3) [0.6s] ¹ (paper 88.90, -0.7)"
    assert cell(board, "fast5", R34) == "95.2 ± 0.2 (n=3) [0.6s] (paper 93.63, +1.6)"
    assert cell(board, "deepinv", WRN) == "84.0 ± 1.0 (n=3) [12.0s] (paper 83.04, +1.0)"
    assert cell(board, "Teacher", WRN) == "94.9 (paper 94.87, +0.0)"
    assert cell(board, "scratch", WRN) == "91.2 ± 0.2 (n=3) (paper 91.12, +0.1)"
    # CIFAR-10's KD row is a copy error in the README: flagged unverified, with the note below.
    assert cell(board, "kd", WRN) == "99.2 ± 0.2 (n=3) (paper 95.20†, +4.0)"
    assert any(note.startswith("† copy error") for note in board.footnotes)
    # a variant with overridden fields is not the published configuration
    assert cell(board, "deepinv:g_steps=1000", WRN).endswith("(no published number)")
    cells = board.cells.set_index(["variant", "pair"])
    assert cells.loc[("fast5", WRN), "paper"] == pytest.approx(0.889)
    assert cells.loc[("fast5", WRN), "paper_diff"] == pytest.approx(0.882 - 0.889)
    records = json.loads(render(board, "json"))
    assert next(r for r in records if r["variant"] == "kd" and r["pair"] == WRN)["paper_verified"] is False


def test_vs_paper_alternative_source_and_unknown_task():
    runs = pd.DataFrame([run("dafl", "vgg11-resnet18", 0, 0.55, 3.0, 0.7, 100.0, task="cifar100")])
    text = cell(build(runs, vs_paper=True), "dafl", "vgg11-resnet18")
    assert text == "55.0 [3.0s] (paper 54.16, +0.8; REF-CMI 57.29, -2.3)"
    digits = pd.DataFrame([run("fast5", "cnn_large-cnn_small", 0, 0.93, 2.0, 0.01, 50.0, task="digits")])
    board = build(digits, vs_paper=True)
    assert cell(board, "fast5", "cnn_large-cnn_small") == "93.0 [2.0s] (no published number)"
    assert board.headers()[1] == "cnn_large-cnn_small"  # unknown pairs keep their id


def test_segmentation_shows_three_decimal_fractions():
    pair = "deeplabv3_resnet50-deeplabv3_mobilenetv2"
    runs = pd.DataFrame([run("fast10", pair, s, v, 30.0, 0.5, 64.0, task="nyuv2", metric="miou")
                         for s, v in enumerate([0.361, 0.363, 0.365])]
                        + [run("dfad", pair, 0, 0.30, 20.0, 1.0, 64.0, task="nyuv2", metric="miou")])
    runs["tags.dfkd.teacher_metric"] = "0.5123"
    board = build(runs, vs_paper=True)
    assert board.metric == "miou"
    assert board.headers()[1] == "DeepLabV3-R50 / DeepLabV3-MV2"
    assert cell(board, "Teacher", pair) == "0.512 (no published number)"
    assert cell(board, "fast10", pair) == "0.363 ± 0.002 (n=3) [30.0s] (paper 0.366†, -0.003)"
    assert cell(board, "dfad", pair) == "0.300 [20.0s] (paper 0.364, -0.064)"  # DFAD's own number: verified
    assert "mIoU" in render(board, "github")


def test_e2e_method_columns_stay_compatible():
    digits = pd.DataFrame([run("fast5", "cnn_large-cnn_small", 0, 0.9, 2.0, 0.01, 50.0, task="digits",
                               budget="quick", deviations=QUICK),
                           run("deepinv:epochs=1:g_steps=1000", "cnn_large-cnn_small", 0, 0.5, 9.0, 1.0, 50.0,
                               task="digits", budget="quick", deviations=QUICK)])
    table = pd.read_csv(io.StringIO(render(build(digits), "csv")))
    assert list(table["Method"]) == ["Teacher", "deepinv:epochs=1:g_steps=1000", "fast5"]

    cifar = pd.DataFrame([run(v, WRN, 0, 0.5, 0.0 if v == "kd" else 1.0, 0.0 if v == "kd" else 1.0, 10.0,
                              budget="smoke") for v in ("fast5", "dafl", "kd", "cmi")])
    table = pd.read_csv(io.StringIO(render(build(cifar), "csv")))
    assert list(table["Method"]) == ["Teacher", "kd", "cmi", "dafl", "fast5"]
    assert WRN in table.columns

    # a run of the teacher baseline replaces the row derived from the tags
    with_teacher = pd.concat([cifar, pd.DataFrame([run("teacher", WRN, s, 0.95 + s / 100, budget="smoke")
                                                   for s in range(2)])])
    board = build(with_teacher)
    assert list(board.table["Method"]) == ["Teacher", "kd", "cmi", "dafl", "fast5"]
    assert cell(board, "Teacher", WRN) == "95.5 ± 0.7 (n=2)"


def test_budgets_filter_and_label_rows():
    runs = pd.concat([frame(), pd.DataFrame([run("fast5", WRN, 0, 0.5, 0.1, 0.08, 10.0, budget="smoke")])])
    assert cell(build(runs, budget="smoke"), "fast5", WRN) == "50.0 [0.1s]"
    assert list(build(runs, budget="smoke").table["Method"]) == ["Teacher", "fast5"]
    both = build(runs)  # two budgets: each row is one (variant, budget)
    assert "fast5 @smoke" in list(both.table["Method"]) and "fast5 @paper" in list(both.table["Method"])
    assert build(runs, budget="paper").table.equals(build(frame()).table)


def test_a_rerun_seed_counts_once_and_unfinished_runs_are_left_out():
    runs = frame()
    rerun = run("cmi", WRN, 0, 0.93, 4.0, 8.0, 1000.0, start=100)  # seed 0 again, later
    failed = {**run("cmi", WRN, 5, 0.10, 4.0, 8.0, 1000.0), "status": "FAILED"}
    board = build(pd.concat([runs, pd.DataFrame([rerun, failed])]))
    c = board.cells.set_index(["variant", "pair"]).loc[("cmi", WRN)]
    assert c["n"] == 3 and c["mean"] == pytest.approx(statistics.fmean([0.93, 0.91, 0.92]))


def test_build_is_robust_to_tag_dtypes(tmp_path):
    """Tags as numbers (a frame built by hand or read without care) give the same table."""
    runs = frame()
    typed = runs.copy()
    typed["tags.dfkd.seed"] = typed["tags.dfkd.seed"].astype(int)
    typed["tags.dfkd.teacher_metric"] = typed["tags.dfkd.teacher_metric"].astype(float)
    typed.loc[typed["tags.dfkd.deviations"].eq("none"), "tags.dfkd.deviations"] = None
    for fmt in ("csv", "json", "latex"):
        assert render(build(typed), fmt) == render(build(runs), fmt)
    for name in ("runs.csv", "runs.parquet"):
        back = load_export(export(typed, tmp_path / name))
        assert back["tags.dfkd.seed"].map(type).eq(str).all()
        assert render(build(back, vs_paper=True), "json") == render(build(runs, vs_paper=True), "json")


def test_export_rejects_unknown_suffixes(tmp_path):
    with pytest.raises(BenchError, match=r"\.csv or \.parquet"):
        export(frame(), tmp_path / "runs.xlsx")
    with pytest.raises(BenchError, match=r"\.csv or \.parquet"):
        load_export(tmp_path / "runs.json")
    with pytest.raises(BenchError, match="does not exist"):
        load_export(tmp_path / "missing.csv")


def test_paper_numbers_data():
    numbers = paper_numbers.load()
    assert {"task", "method", "pair", "metric", "value", "hours", "source", "verified", "note"} <= set(numbers.columns)
    primary = numbers[numbers["primary"]]
    assert not primary.duplicated(["task", "method", "pair", "metric"]).any()
    for task in ("cifar10", "cifar100"):
        rows = primary[primary["task"] == task]
        assert len(rows) == 11 * 5
        assert set(rows["method"]) == {"teacher", "scratch", "kd", "deepinv", "cmi", "dafl", "zskt", "dfq",
                                       "fast2", "fast5", "fast10"}
    one = paper_numbers.lookup(numbers, "cifar10", "fast5", WRN, "acc").iloc[0]
    assert one["value"] == pytest.approx(0.889) and one["hours"] == pytest.approx(0.08) and one["verified"]
    assert one["source"] == "FastDFKD README (docs/methods.md#published-cifar10)"
    kd = primary[(primary["task"] == "cifar10") & (primary["method"] == "kd")]
    assert not kd["verified"].any() and kd["note"].str.contains("copy error").all()
    assert primary[(primary["task"] == "cifar100") & (primary["method"] == "kd")]["verified"].all()
    alternatives = numbers[~numbers["primary"]]
    assert len(alternatives) == 13 and (
        alternatives["source"] == "REF-CMI README (docs/methods.md#published-ref-cmi-differences)").all()
    nyu = numbers[numbers["task"] == "nyuv2"].set_index("method")
    assert nyu.loc["dfad", "value"] == pytest.approx(0.364) and nyu.loc["dfad", "verified"]
    assert not nyu.loc["fast10", "verified"] and not nyu.loc["dafl", "verified"]
    imagenet = primary[primary["task"] == "imagenet"].set_index(["method", "pair"])
    assert imagenet.loc[("fast50_imagenet", "resnet50-resnet18"), "value"] == pytest.approx(0.5345)
    assert imagenet.loc[("fast50_imagenet", "resnet50-resnet50"), "hours"] == pytest.approx(6.28)
    assert imagenet.loc[("deepinv", "resnet50-resnet50"), "hours"] == pytest.approx(166)
    assert len(imagenet) == 7 and set(imagenet.index.get_level_values("pair")) <= set(TASKS.get("imagenet").pairs)
    assert numbers["value"].between(0, 1).all()


def test_pareto_front_of_hand_points():
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 2.0])
    y = pd.Series([0.5, 0.7, 0.6, 0.8, 0.7])
    assert list(pareto_front(x, y)) == [True, True, False, True, True]  # equal points are both on it
    points, references, metric = plot_data(frame(), "cifar10")
    assert metric == "acc" and not points["variant"].isin(["kd", "scratch"]).any()
    assert set(references["label"]) == {"Teacher", "scratch", "kd"}
    wrn = points[points["pair"] == WRN].set_index("variant")
    # fast2 (0.3 s, 87.0), fast5 (0.6 s, 88.2), cmi (4 s, 91.0) on the front; deepinv slower and worse than cmi
    assert set(wrn.index[wrn["on_front"]]) == {"fast2", "fast5", "cmi"}
    with pytest.raises(BenchError, match="nothing to plot"):
        plot_data(frame(), "cifar10", budget="smoke")


def test_times_from_several_devices_are_said_in_the_caption():
    runs = frame()
    assert "more than one device" not in build(runs).caption()  # no dfkd.device recorded
    runs["tags.dfkd.device"] = "cpu (AMD EPYC)"
    assert "more than one device" not in build(runs).caption()
    fast5 = runs["tags.dfkd.variant"] == "fast5"
    runs.loc[fast5, "tags.dfkd.device"] = "cpu (Intel(R) Xeon(R) Processor)"
    runs.loc[fast5 & (runs["tags.dfkd.seed"] == "2"), "tags.dfkd.device"] = \
        "cpu (Intel(R) Xeon(R) Processor) + cpu (AMD EPYC)"
    caption = build(runs).caption()
    # Timed runs only (the baselines' zero seconds are no timing): 16 data-free runs stay on the EPYC.
    assert ("Times come from more than one device (dfkd.device): cpu (AMD EPYC), 16 runs; "
            "cpu (Intel(R) Xeon(R) Processor), 4 runs; "
            "cpu (Intel(R) Xeon(R) Processor) + cpu (AMD EPYC), 2 runs; "
            "compare times taken on the same one.") in caption
