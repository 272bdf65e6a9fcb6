"""The HTML report renders in headless Chromium: every image decodes, tables mark winners."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate

from .conftest import smooth_image

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.mark.browser
def test_report_renders_in_headless_chromium(make_raster, bicubic_model, tmp_path: Path) -> None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")) or not Path(CHROMEDRIVER).exists():
        pytest.skip(f"chromium ({CHROMIUM}) or chromedriver ({CHROMEDRIVER}) not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    img = make_raster("img.tif", data=smooth_image((4, 96, 96), 11), nodata=None)
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", tile=8, progress=False))
    html = res.report_path.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run",
              f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(res.report_path.as_uri())
        imgs = driver.find_elements(By.TAG_NAME, "img")
        assert len(imgs) >= 5  # 2 band charts, density chart, >= 2 crops
        widths = [driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) for i in imgs]
        assert all(w and w > 0 for w in widths), widths
        winners = driver.find_elements(By.CSS_SELECTOR, "td.win")
        assert len(winners) >= 8
        assert "Model vs baselines" in driver.find_element(By.TAG_NAME, "h2").text
    finally:
        driver.quit()
