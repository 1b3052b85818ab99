"""The static leaderboard (-m report --html) in a real headless Chromium (tests/browser.py):
pages load without console messages, exceptions or failed loads; the table values in the DOM
equal table.json; sorting works; every link of a run page resolves. Skips only where Chromium
cannot be installed (not root)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from browser import Browser, BrowserUnavailable, ensure_installed
from emobench.orchestration import tables
from emobench.orchestration.cli import main
from report_helpers import aggregate


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return ensure_installed()
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    five = [0.6, 0.7, 0.65, 0.6, 0.7]
    aggregate(root, "wavlm_large", "demo", "labels", five, [0.2, 0.3, 0.5], full_runs=True,
              ci={"low": 0.6, "high": 0.7, "level": 0.95, "unit": "speaker",
                  "resamples": 1000, "seed": 0})
    aggregate(root, "apc", "demo", "labels", [0.4, 0.5], [0.6, 0.3, 0.1], full_runs=True,
              significance={"mark": "*", "legend": "*: below the best row (Holm, p < 0.05)"})
    aggregate(root, "apc", "demo", "arousal", [0.8, 0.7, 0.75, 0.7, 0.8], full_runs=True)
    aggregate(root, "wavlm_large", "demo", "arousal", [0.9] * 5, full_runs=True,
              record={"checkpoint": "/ck/tiny.ckpt",
                      "measured": {"hidden_states": 3, "dim": 16, "params_m": 0.01}})
    run = root / "wavlm_large_demo_labels" / "fold1" / "scores.json"
    scores = json.loads(run.read_text())  # the optional fields of a run's scores (statistics)
    scores["metrics"]["test"]["ci"] = {"macro_f1": {"low": 0.5, "high": 0.7, "level": 0.95}}
    scores["ceiling"] = {"test": {"absent_classes": ["Sad"], "perfect_macro_f1": 0.75}}
    scores["provenance"] = {"label_sha256": "cd" * 32}
    run.write_text(json.dumps(scores))
    assert main(["-m", "report", "-p", str(root), "--html"]) == 0
    return root / "report"


DOM_CELLS = """Array.from(document.querySelectorAll('#leaderboard td.cell')).map(td => ({
    upstream: td.dataset.row, condition: td.dataset.condition,
    value: parseFloat(td.dataset.value), text: td.textContent}))"""


def test_the_leaderboard_loads_cleanly_and_shows_table_json(chromium: str, site: Path):
    table = json.loads((site / "table.json").read_text())
    with Browser() as browser:
        browser.load((site / "index.html").as_uri())
        assert browser.problems() == []
        shown = browser.evaluate(DOM_CELLS)
        expected = {(c["upstream"], c["condition"]): c for c in table["cells"]}
        assert {(c["upstream"], c["condition"]) for c in shown} == set(expected)
        for cell in shown:
            want = expected[(cell["upstream"], cell["condition"])]
            assert cell["value"] == want["mean"] and cell["text"] == want["text"]
        assert "partial" in expected[("apc", "demo/labels")]["text"]
        rows = browser.evaluate("Array.from(document.querySelectorAll('#leaderboard tbody tr'))"
                                ".map(r => r.cells[0].textContent)")
        assert rows == table["rows"]
        flags = browser.evaluate("Array.from(document.querySelectorAll('#leaderboard .flag'))"
                                 ".map(s => s.textContent)")
        assert flags == ["tiny"]
        # a click on the demo/labels header sorts by its values, ascending, then descending
        column = 4 + table["columns"].index("demo/labels")
        order = (f"Array.from(document.querySelectorAll('#leaderboard tbody tr'))"
                 f".map(r => r.cells[{column}].dataset.value).filter(v => v).map(Number)")
        browser.evaluate(f"document.querySelectorAll('#leaderboard th')[{column}].click()")
        assert browser.evaluate(order) == sorted(browser.evaluate(order))
        browser.evaluate(f"document.querySelectorAll('#leaderboard th')[{column}].click()")
        assert browser.evaluate(order) == sorted(browser.evaluate(order), reverse=True)
        images = browser.evaluate("Array.from(document.images).map(i => [i.src, "
                                  "i.naturalWidth])")
        assert images and all(width > 0 for _, width in images), images
        assert browser.problems() == []
        links = browser.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    pages = [unquote(urlparse(link).path) for link in links if "/runs/" in link]
    assert len(pages) == 3 * 5 + 2  # every run of every cell (apc on demo/labels: 2 folds)
    with Browser() as browser:
        browser.load((site / "runs" / "wavlm_large_demo_labels_fold1.html").as_uri())
        assert browser.problems() == []
        text = browser.evaluate("document.body.innerText")
        assert "config.yaml" in text and "checkpoint_sha256" in text
        assert "perfect_macro_f1" in text and "label_sha256" in text and '"high": 0.7' in text
        assert browser.evaluate("document.querySelector('table th:last-child').textContent") \
            == "macro_f1"  # the interval is not a metric column
        hrefs = browser.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    targets = [Path(unquote(urlparse(h).path)) for h in hrefs]
    assert all(t.is_file() for t in targets), targets
    assert {t.name for t in targets} >= {"scores.json", "predictions.csv", "config.yaml",
                                         "index.html"}


def test_a_page_with_an_error_is_caught(chromium: str, tmp_path: Path):
    """The check can fail: an exception, a console message and a missing image are seen."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><img src='gone.png'><script>"
                    "console.warn('w'); setTimeout(function () { null.x; }, 0);"
                    "</script></body></html>")
    with Browser() as browser:
        browser.load(page.as_uri())
        found = "\n".join(browser.problems())
    assert "console.warning: w" in found and "TypeError" in found and "gone.png" in found


def test_the_sort_in_the_address_is_applied(chromium: str, site: Path):
    column = 4 + json.loads((site / "table.json").read_text())["columns"].index("demo/arousal")
    with Browser() as browser:
        browser.load((site / "index.html").as_uri() + f"#sort=leaderboard:{column}:asc")
        assert browser.problems() == []
        first = browser.evaluate("document.querySelector('#leaderboard tbody tr')"
                                 ".cells[0].textContent")
    assert first == "apc"  # 0.75 < 0.9 ascending


def test_without_html_no_site(tmp_path: Path):
    aggregate(tmp_path / "r", "apc", "demo", "labels", [0.4])
    names = {p.name for p in tables.write_report(tmp_path / "r", tmp_path / "out")}
    assert "index.html" not in names
