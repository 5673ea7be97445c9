"""The demo's HTML report, rendered in a real browser (headless Chromium).

The page must load without a console error, every figure must decode to an
image, and a screenshot is kept as an artefact of the run (under
``$TOUPY_ARTIFACTS`` when set, else pytest's temporary folder). ``.ci/run``
installs Debian's chromium and chromium-driver; on a machine without them the
test is skipped with the reason, never passed silently.
"""

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from toupy.resolution.cli import main

webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromedriver (installed by .ci/run)"
)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CI", "true")  # the small demo
        result = CliRunner().invoke(main, ["demo", "--out", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = folder / "report.html"
    assert report.stat().st_size > 0
    return report


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1280,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _artifact_folder(tmp_path) -> Path:
    folder = Path(os.environ.get("TOUPY_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_report_renders_without_errors(demo_report, browser, tmp_path):
    browser.get(demo_report.as_uri())
    browser.execute_script("return document.readyState")
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]);"
    )
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    screenshot = _artifact_folder(tmp_path) / "report.png"
    browser.save_screenshot(str(screenshot))

    assert errors == [], f"console errors: {errors}"
    assert len(images) >= 5, f"the report shows {len(images)} figures"
    broken = [alt for alt, complete, width, height in images if not (complete and width > 0 and height > 0)]
    assert broken == [], f"figures that did not decode: {broken}"
    assert screenshot.stat().st_size > 10_000
    title = browser.title
    assert "toupy-resolution" in title


def test_a_broken_figure_is_detected(browser, tmp_path):
    """The check above can fail: a page with a corrupt embedded PNG is caught."""
    page = tmp_path / "broken.html"
    page.write_text('<html><body><img alt="bad" src="data:image/png;base64,AAAA"></body></html>')
    browser.get(page.as_uri())
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);"
    )
    assert images == [["bad", True, 0]]
