"""CI runs the screenshot script (scripts/screenshots.py) so it keeps working: real windows under
Xvfb, nine PNGs that show a panel (not a blank or black frame)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_screenshot_script_writes_the_docs_pngs(tmp_path: Path):
    if shutil.which("xvfb-run") is None:
        pytest.fail("xvfb-run is not installed; it is a required test dependency: run 'make setup'")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["RAPPORT_ASSIST_DATA"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshots.py"), "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(written) == ["dark", "flood", "normal", "qa", "settings", "summary"]
    from PySide6.QtGui import QImage

    for name, width in (
        ("normal", 360),
        ("flood", 360),
        ("qa", 360),
        ("dark", 360),
        ("scaled", 720),
        ("summary", 360),
        ("summary-scaled", 720),
    ):
        image = QImage(str(tmp_path / f"sidebar-{name}.png"))
        assert not image.isNull(), name
        assert image.width() == width and image.height() >= 800, (name, image.width(), image.height())
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 40, (name, len(colours))  # text, cards and icons, not an empty frame
    dark = QImage(str(tmp_path / "sidebar-dark.png"))
    light = QImage(str(tmp_path / "sidebar-normal.png"))
    assert dark.pixelColor(5, 400).lightness() < 80 < light.pixelColor(5, 400).lightness()
    # the settings dialog at 100 % and 200 %: the same layout, twice the pixels
    settings = QImage(str(tmp_path / "sidebar-settings.png"))
    scaled = QImage(str(tmp_path / "sidebar-settings-scaled.png"))
    assert not settings.isNull() and not scaled.isNull()
    assert settings.width() >= 300 and abs(scaled.width() - 2 * settings.width()) <= 8, (
        settings.width(),
        scaled.width(),
    )
    # the call summary card: its green top edge is drawn at both scales, near the top of the panel
    for name, scale in (("summary", 1), ("summary-scaled", 2)):
        image = QImage(str(tmp_path / f"sidebar-{name}.png"))
        edge = [image.pixelColor(image.width() // 2, y) for y in range(60 * scale, 90 * scale)]
        assert any(c.green() > c.red() + 50 and c.green() > c.blue() + 20 for c in edge), name  # @ok #3d8b64
