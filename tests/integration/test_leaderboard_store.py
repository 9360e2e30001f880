"""The leaderboard from a real sqlite MLflow store: runs logged through ``Tracker`` with known
values (the record ``harness.engine.runner`` writes, minus the training), read back with
``Tracker.runs``; the export round trip (csv and parquet) gives the same tables; ``plot`` writes
its files and returns the plotted numbers."""

from __future__ import annotations

import io
import statistics
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from harness.record.tracking import Tracker
from harness.report.exports import export, load_export
from harness.report.leaderboard import build
from harness.report.plots import POINT_COLUMNS, plot
from harness.report.render import render

TASK = "cifar10"
WRN, R34 = "wrn40_2-wrn16_1", "resnet34-resnet18"
TEACHER = {WRN: 0.9487, R34: 0.957}
# (variant, pair) -> [(best/acc, synthesis seconds)] per seed; projected hours per (variant, pair)
RUNS = {
    ("kd", WRN): [(0.95, 0.0), (0.96, 0.0)],
    ("deepinv", WRN): [(0.83, 10.0), (0.84, 12.0), (0.85, 14.0)],
    ("deepinv", R34): [(0.93, 20.0), (0.94, 22.0)],
    ("cmi", WRN): [(0.90, 4.0), (0.91, 5.0), (0.92, 6.0)],
    ("fast5", WRN): [(0.880, 0.5), (0.882, 0.6), (0.884, 0.7)],
    ("fast5", R34): [(0.95, 1.0)],
    ("dafl", WRN): [(0.60, 2.0), (0.62, 2.5)],  # faster than cmi, worse than fast5: off the front
}
PROJECTED = {("deepinv", WRN): 16.0, ("deepinv", R34): 40.0, ("cmi", WRN): 8.0, ("fast5", WRN): 0.08,
             ("fast5", R34): 0.16, ("dafl", WRN): 1.6}
QUICK = ("budget quick: fewer epochs/steps than the paper; schedules scaled "
         "(docs/methods.md#decision-budgets-and-schedule-scaling)")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with one finished run per (variant, pair, seed) and one failed run."""
    results = tmp_path_factory.mktemp("results")
    tracker = Tracker(results)
    for (variant, pair), seeds in RUNS.items():
        teacher, student = pair.split("-")
        for seed, (acc, seconds) in enumerate(seeds):
            tags = {"dfkd.method": variant, "dfkd.variant": variant, "dfkd.task": TASK, "dfkd.pair": pair,
                    "dfkd.teacher": teacher, "dfkd.student": student, "dfkd.seed": seed, "dfkd.budget": "paper",
                    "dfkd.deviations": QUICK if variant == "dafl" else "none",
                    "dfkd.teacher_metric": TEACHER[pair], "dfkd.teacher_sha256": ""}
            run_id = tracker.start(TASK, f"{variant}/{pair}/seed{seed}", tags, {"epochs": 200, "lr": 0.1})
            tracker.log_metrics(run_id, {"eval/acc": acc - 0.02}, step=0)
            tracker.log_metrics(run_id, {
                "best/acc": acc, "final/acc": acc - 0.01, "time/synthesis_s": seconds, "time/kd_s": 3.0,
                "time/total_s": seconds + 30.0, "time/projected_paper_synthesis_h": PROJECTED.get((variant, pair), 0.0),
                "synth/images": 0.0 if variant == "kd" else 500.0 * (seed + 1)}, step=1)
            tracker.finish(run_id)
    failed = tracker.start(TASK, "cmi/wrn40_2-wrn16_1/seed9", {"dfkd.method": "cmi", "dfkd.variant": "cmi",
                                                                "dfkd.pair": WRN, "dfkd.seed": 9}, {})
    tracker.log_metrics(failed, {"best/acc": 0.01})
    tracker.fail(failed, RuntimeError("boom"))
    return tracker


def test_store_to_leaderboard(store):
    runs = store.runs(TASK)
    assert len(runs) == sum(len(s) for s in RUNS.values())  # the failed run is not read back
    board = build(runs)
    assert list(board.table["Method"]) == ["Teacher", "kd", "deepinv", "cmi", "dafl", "fast5"]
    table = board.table.set_index("Method")
    assert table.loc["Teacher", WRN] == "94.9" and table.loc["Teacher", R34] == "95.7"
    assert table.loc["kd", WRN] == "95.5 ± 0.7 (n=2)"
    assert table.loc["deepinv", WRN] == "84.0 ± 1.0 (n=3) [12.0s]"
    assert table.loc["dafl", WRN] == "61.0 ± 1.4 (n=2) [2.2s] ¹"
    assert table.loc["fast5", R34] == "95.0 [1.0s]"
    assert table.loc["fast5", "Speed-up"] == f"{(16 / 0.08 + 40 / 0.16) / 2:.1f}×"
    assert table.loc["cmi", "Speed-up"] == "2.0×"
    cells = board.cells.set_index(["variant", "pair"])
    for (variant, pair), seeds in RUNS.items():
        values = [acc for acc, _ in seeds]
        assert cells.loc[(variant, pair), "n"] == len(values)
        assert cells.loc[(variant, pair), "mean"] == pytest.approx(statistics.fmean(values))
    bold = board.bold.set_index(board.table["Method"])
    assert list(bold.index[bold[WRN]]) == ["cmi"] and list(bold.index[bold[R34]]) == ["fast5"]
    csv = pd.read_csv(io.StringIO(render(board, "csv")))
    assert list(csv["Method"]) == list(board.table["Method"])
    vs = build(runs, vs_paper=True).table.set_index("Method")
    assert vs.loc["fast5", WRN] == "88.2 ± 0.2 (n=3) [0.6s] (paper 88.90, -0.7)"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_round_trip_gives_the_same_leaderboard(store, tmp_path, suffix):
    runs = store.runs(TASK)
    path = export(runs, tmp_path / f"runs{suffix}")
    assert path.is_file()
    back = load_export(path)
    assert list(back.columns[:4]) == ["run_id", "run_name", "status", "start_time"]
    assert {c for c in runs.columns} == set(back.columns)
    assert back["tags.dfkd.seed"].map(type).eq(str).all() and back["start_time"].dtype == "int64"
    expected = runs[list(back.columns)]
    if suffix == ".csv":  # csv cannot tell an empty tag from a missing one
        expected = expected.where(expected.ne(""))
    pd.testing.assert_frame_equal(back, expected, check_dtype=suffix == ".parquet")
    for options in ({}, {"which": "final", "time": "total"}, {"vs_paper": True}, {"budget": "paper"}):
        original, restored = build(runs, **options), build(back, **options)
        pd.testing.assert_frame_equal(original.table, restored.table)
        for fmt in ("github", "csv", "latex", "html", "json"):
            assert render(restored, fmt) == render(original, fmt), (options, fmt)


def test_plot_writes_files_and_returns_the_runs_numbers(store, tmp_path):
    runs = store.runs(TASK)
    data = plot(runs, TASK, tmp_path / "plots" / "cifar10")
    assert data.png == tmp_path / "plots" / "cifar10.png" and data.svg == tmp_path / "plots" / "cifar10.svg"
    assert data.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(data.svg).getroot().tag.endswith("svg")
    points = data.points
    assert list(points.columns) == POINT_COLUMNS
    assert not points["variant"].isin(["kd"]).any()  # baselines are reference lines, not points
    assert set(data.references["label"]) == {"Teacher", "kd"}
    assert len(points) == len(RUNS) - 1
    indexed = points.set_index(["variant", "pair"])
    for (variant, pair), seeds in RUNS.items():
        if variant == "kd":
            continue
        p = indexed.loc[(variant, pair)]
        accs, secs = [a for a, _ in seeds], [s for _, s in seeds]
        assert p["n"] == len(seeds)
        assert p["y_mean"] == pytest.approx(statistics.fmean(accs))
        assert p["x_mean"] == pytest.approx(statistics.fmean(secs))
        if len(seeds) > 1:
            assert p["y_std"] == pytest.approx(statistics.stdev(accs))
            assert p["x_std"] == pytest.approx(statistics.stdev(secs))
        else:
            assert pd.isna(p["y_std"])
    front = points[points["on_front"]]
    # WRN: fast5 (0.6 s, 88.2) and cmi (5 s, 91.0); dafl (2.25 s, 61.0) and deepinv (12 s, 84.0) are beaten.
    assert set(map(tuple, front[["variant", "pair"]].values)) == {("fast5", WRN), ("cmi", WRN), ("fast5", R34)}
