"""The leaderboard page in a real browser (headless Chromium): it renders (a screenshot that is not
blank), its DOM holds the table's cells and the plot, its script sorts the table by a column, and
served over HTTP without a charset header it still shows "±" (the page declares UTF-8)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.report.exports import load_export
from harness.report.leaderboard import build
from tests.conftest import bench

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "results" / "runs" / "digits.csv"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Runs headless Chromium with a throwaway profile; CI must have it (.ci/run installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (.ci/run installs the chromium package)")
        pytest.skip("no Chromium here")
    profile = tmp_path_factory.mktemp("chromium-profile")

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([found, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                               f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        return done
    return run


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("page") / "digits.html"
    done = bench("leaderboard", "--task", "digits", "--from", str(EXPORT), "--format", "html", "--output", str(out))
    assert done.returncode == 0, done.stderr
    return out


def rows_of(dom: str) -> list[list[str]]:
    body = dom.split("<tbody>")[1].split("</tbody>")[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_the_page_renders_to_a_screenshot_that_is_not_blank(browser, page, tmp_path):
    shot = tmp_path / "page.png"
    browser("--window-size=1280,1400", f"--screenshot={shot}", page.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1400, 1280)
    background = np.median(pixels)
    assert (np.abs(pixels - background) > 40).mean() > 0.02  # text, rules and the plot: not a blank page
    assert pixels.std() > 10


def test_the_dom_holds_every_row_its_cells_and_the_plot(browser, page):
    dom = browser("--dump-dom", page.as_uri()).stdout
    board = build(load_export(EXPORT), task="digits")
    rows = rows_of(dom)
    assert [row[0] for row in rows] == list(board.table["Method"])
    assert rows == [[str(v) for v in row] for row in board.table.astype(str).values.tolist()]
    assert "98.8 ± 0.2 (n=3) [45.3s]" in dom and "<svg" in dom
    assert board.caption().split(".")[0] in dom


def test_clicking_a_column_header_sorts_the_rows_by_it(browser, page, tmp_path):
    board = build(load_export(EXPORT), task="digits")
    pair = board.pairs[0]
    clicked = tmp_path / "clicked.html"  # the page, plus one click on the pair's header, twice for ascending
    clicked.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", '<script>const b = document.querySelectorAll("th button")[1]; b.click(); b.click();</script>'
                   "</body>"), encoding="utf-8")
    rows = rows_of(browser("--dump-dom", clicked.as_uri()).stdout)
    means = board.cells.groupby("label", sort=False)["mean"].first()
    assert [row[0] for row in rows] == list(means.sort_values(kind="stable").index)
    assert board.table.columns[1] == pair


def test_served_without_a_charset_header_it_shows_plus_minus_not_mojibake(browser, page):
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(page.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{page.name}"
        with urllib.request.urlopen(url) as response:
            assert "charset" not in response.headers["Content-Type"]
        dom = browser("--dump-dom", url).stdout
    finally:
        server.shutdown()
    assert "99.7 ± 0.0 (n=3)" in dom
    assert "Â" not in dom
