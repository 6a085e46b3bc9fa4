"""The wheel ships the front end, so users never need npm."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_the_front_end(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            "-q",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    wheel = next(tmp_path.glob("magicgif_widget-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        js = zf.read("magicgif_widget/static/widget.js").decode()
        css = zf.read("magicgif_widget/static/widget.css").decode()
    assert js == (ROOT / "js" / "widget.js").read_text() and "export default" in js
    assert css == (ROOT / "js" / "widget.css").read_text()
    assert "magicgif_widget/emulator/render.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_the_checkout_finds_the_front_end_too():
    from magicgif_widget.widget import GifWidget, _asset

    assert _asset("widget.js").is_file() and _asset("widget.css").is_file()
    assert "export default" in str(GifWidget._esm)
