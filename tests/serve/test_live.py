"""A real uvicorn server: raw HTTP traversal attempts, and the map page in headless chromium."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
LAYER_NAMES = ["S2 RGB (High-Res)", "S2 RGB (original 10 m)", "S2 false colour (High-Res)", "SR confidence",
               "Training patches footprint"]


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """Send ``GET target`` byte for byte (no client-side path normalisation)."""
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("target", [
    "/static/../../etc/passwd",
    "/static/leaflet/../../../../../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/../../../../etc/passwd",
    "/tiles/sr/../../../etc/passwd/1/1/1.png",
    "/static/leaflet/leaflet.js/../../../../../etc/passwd",
])
def test_raw_traversal_on_live_server(served: str, target: str) -> None:
    status, body = raw_get(served, target)
    assert 400 <= status < 500, target
    assert b"root:" not in body


def test_live_server_binds_loopback_and_serves_tiles(served: str) -> None:
    import httpx

    assert urlparse(served).hostname == "127.0.0.1"
    layers = httpx.get(served + "/layers").json()
    assert layers[0]["tiles"].startswith(served + "/tiles/sr/sr_rgb/")
    status, _ = raw_get(served, "/static/leaflet/leaflet.js")
    assert status == 200


def _driver(tmp: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                "--disable-dev-shm-usage", "--window-size=1100,800", f"--user-data-dir={tmp}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def _wait(driver, js: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(js)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {js}")


def _check_tools(driver) -> None:
    """Swipe clip, opacity slider, footprint popup and mouse coordinates react as a user sees them."""
    from selenium.webdriver.common.action_chains import ActionChains

    driver.find_element("id", "swipe-toggle").click()
    clip = driver.execute_script("return window.s2srMap.getPane('srPane').style.clip")
    top, right, bottom, left = (float(v) for v in re.findall(r"-?[0-9.]+", clip))
    width = driver.execute_script("return window.s2srMap.getSize().x")
    assert right - left == pytest.approx(width / 2, abs=1) and bottom > top
    ActionChains(driver).drag_and_drop_by_offset(driver.find_element("id", "swipe-handle"), -150, 0).perform()
    clip = driver.execute_script("return window.s2srMap.getPane('srPane').style.clip")
    top, right, bottom, left = (float(v) for v in re.findall(r"-?[0-9.]+", clip))
    assert right - left == pytest.approx(width / 2 - 150, abs=3)
    driver.find_element("id", "swipe-toggle").click()
    assert driver.execute_script("return window.s2srMap.getPane('srPane').style.clip") == ""
    driver.find_element("id", "swipe-toggle").click()  # leave it on for the screenshot, at 50 %
    driver.execute_script("window.s2srSwipe.setFraction(0.5)")
    driver.execute_script("var r = document.getElementById('opacity'); r.value = 30;"
                          "r.dispatchEvent(new Event('input'));")
    opacities = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-sr-pane .leaflet-layer'))"
        ".map(e => e.style.opacity)")
    assert opacities and set(opacities) == {"0.3"}
    driver.execute_script("var r = document.getElementById('opacity'); r.value = 100;"
                          "r.dispatchEvent(new Event('input'));")
    driver.find_elements("css selector", "path.leaflet-interactive")[0].click()
    popup = _wait(driver, "var p = document.querySelector('.leaflet-popup-content'); return p && p.innerText")
    assert "patch 0" in popup and "split: train" in popup
    ActionChains(driver).move_to_element(driver.find_element("id", "map")).perform()
    coords = driver.find_element("id", "mouse-coords").text
    lat, lon = (float(v.strip(",")) for v in coords.split()[:2])
    assert 41.5 < lat < 41.6 and 2.99 < lon < 3.03


LOADED_TILES = """return Array.from(document.querySelectorAll('img.leaflet-tile'))
  .filter(i => i.complete && i.naturalWidth === 256).length"""
CONF_TILES = """return Array.from(document.querySelectorAll('.leaflet-conf-pane img.leaflet-tile'))
  .filter(i => i.complete && i.naturalWidth === 256).length"""
CONF_PIXELS = """var out = [0, 0];
  document.querySelectorAll('.leaflet-conf-pane img.leaflet-tile').forEach(function (i) {
    if (!i.complete || i.naturalWidth !== 256) { return; }
    var c = document.createElement('canvas'); c.width = c.height = 256;
    var g = c.getContext('2d'); g.drawImage(i, 0, 0);
    var d = g.getImageData(0, 0, 256, 256).data;
    for (var k = 3; k < d.length; k += 4) { out[d[k] > 0 ? 1 : 0] += 1; }
  });
  return out;"""


def _check_confidence(driver) -> None:
    """The SR confidence layer switches on from the layer list with its legend, shows coloured and
    transparent pixels, and switches off with its legend."""
    box = driver.find_element("xpath", "//label[contains(., 'SR confidence')]//input")
    assert not box.is_selected() and not driver.find_elements("css selector", ".s2sr-legend")
    box.click()
    _wait(driver, CONF_TILES + " >= 2")
    transparent, coloured = driver.execute_script(CONF_PIXELS)
    assert transparent > 0 and coloured > 0
    legend = driver.find_element("css selector", ".s2sr-legend").text
    assert "SR confidence: half-width of the 90 % interval" in legend and "transparent below" in legend
    box.click()
    assert not driver.find_elements("css selector", ".s2sr-legend")


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_map_page_in_chromium(served: str) -> None:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)")
    tmp = Path(tempfile.mkdtemp(prefix="s2sr-chrome-"))
    driver = _driver(tmp)
    try:
        driver.get(served + "/")
        _wait(driver, "return document.body.getAttribute('data-ready') || document.body.getAttribute('data-error')")
        assert driver.execute_script("return document.body.getAttribute('data-error')") is None
        text = driver.find_element("css selector", ".leaflet-control-layers").text
        for name in LAYER_NAMES:
            assert name in text
        assert _wait(driver, LOADED_TILES + " >= 4")
        _wait(driver, "return Array.from(document.querySelectorAll('img.leaflet-tile')).every(i => i.complete)")
        assert driver.execute_script("return document.querySelectorAll('path.leaflet-interactive').length") == 3
        card = driver.find_element("id", "model-card").text
        assert "bicubic" in card and "psnr" in card and "31.50" in card
        assert driver.find_element("css selector", ".leaflet-control-scale-line").text.endswith("m")
        _check_confidence(driver)
        _check_tools(driver)
        png = driver.get_screenshot_as_png()
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    finally:
        driver.quit()
        shutil.rmtree(tmp, ignore_errors=True)
    assert severe == []
    assert urls and all(u.startswith(served + "/") for u in urls)  # nothing from outside
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    assert img.std() > 20  # not blank
    if os.environ.get("S2SR_SCREENSHOT"):
        Path(os.environ["S2SR_SCREENSHOT"]).write_bytes(png)


def test_cli_serve_runs_uvicorn(serve_data, tmp_path: Path) -> None:
    """`s2sr serve` as users start it: a real process, loopback only, Ctrl-C (SIGINT) stops it."""
    import signal
    import subprocess
    import sys

    import httpx

    from s2sr.serve.app import free_port

    port = free_port("127.0.0.1")
    cmd = [sys.executable, "-m", "s2sr", "serve", "--sr", str(serve_data.sr), "--lr", str(serve_data.lr),
           "--footprint", str(serve_data.footprint), "--port", str(port)]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        layers = httpx.get(base + "/layers").json()
        assert layers[1]["tiles"] == f"{base}/tiles/sr/lr_rgb/{{z}}/{{x}}/{{y}}.png"
        assert httpx.get(base + "/footprint.geojson").json()["features"]
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(15)
    assert rc == 0
    assert f"s2sr map at {base}/" in log.read_text()
