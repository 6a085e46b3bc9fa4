"""The wheel: the front end (users never need npm), `py.typed`, the license, one version, and
the heavy parts (PyAV, uvicorn) only behind their extras."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from magicgif_widget import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # hatchling's PEP 517 hook, as any front end would call it
        [sys.executable, "-c", "import sys, hatchling.build as b; b.build_wheel(sys.argv[1])", out],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with zipfile.ZipFile(next(out.glob("magicgif_widget-*.whl"))) as zf:
        yield zf


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return email.message_from_bytes(wheel.read(name))


def test_wheel_contains_the_front_end(wheel: zipfile.ZipFile):
    names = set(wheel.namelist())
    js = wheel.read("magicgif_widget/static/widget.js").decode()
    css = wheel.read("magicgif_widget/static/widget.css").decode()
    assert js == (ROOT / "js" / "widget.js").read_text() and "export default" in js
    assert css == (ROOT / "js" / "widget.css").read_text()
    assert "magicgif_widget/emulator/render.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_wheel_is_typed_and_licensed(wheel: zipfile.ZipFile):
    names = set(wheel.namelist())
    assert "magicgif_widget/py.typed" in names  # PEP 561: what "Typing :: Typed" promises
    meta = _metadata(wheel)
    assert "Typing :: Typed" in meta.get_all("Classifier", [])
    assert meta["License-Expression"] == "MIT"
    licenses = [n for n in names if n.endswith("/licenses/LICENSE")]
    assert licenses and "MIT License" in wheel.read(licenses[0]).decode()


def test_the_version_has_one_home(wheel: zipfile.ZipFile):
    from magicgif_widget.client.settings import USER_AGENT

    assert _metadata(wheel)["Version"] == __version__
    assert f"magicgif-widget/{__version__}" == USER_AGENT
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and __version__ not in pyproject
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_video_and_the_http_server_are_extras(wheel: zipfile.ZipFile):
    """A plain install stays light: PyAV (FFmpeg, ~100 MB) and uvicorn come only as extras."""
    requires = [Requirement(r) for r in _metadata(wheel).get_all("Requires-Dist", [])]

    def needed(extra: str) -> set[str]:
        env = {"extra": extra}
        return {r.name for r in requires if r.marker is None or r.marker.evaluate(env)}

    plain = needed("")
    assert plain == {
        "anywidget",
        "filelock",
        "httpx",
        "pillow",
        "platformdirs",
        "starlette",
        "tqdm",
    }
    assert needed("video") - plain == {"av"}
    assert needed("emulator") - plain == {"uvicorn"}


def test_the_checkout_finds_the_front_end_too():
    from magicgif_widget.widget import GifWidget, _asset

    assert _asset("widget.js").is_file() and _asset("widget.css").is_file()
    assert "export default" in str(GifWidget._esm)
