"""The committed notebooks read well without a kernel: image outputs, no errors, small files.

(nbval, configured in pyproject.toml, re-runs each one and compares its outputs.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TOKEN_NAMES = ("mhk_live_", "mhk_test_")


def test_the_promised_notebooks_exist():
    assert {p.stem for p in NOTEBOOKS} >= {"quickstart", "sdk_workflow", "classroom", "batch"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_saved_with_outputs_an_image_and_no_errors(path: Path):
    assert path.stat().st_size < 2 * 1024 * 1024
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert all(o["output_type"] != "error" for o in outputs)
    assert all(c.get("execution_count") for c in code), "run top to bottom before committing"
    counts = [c["execution_count"] for c in code]
    assert counts == sorted(counts)
    images = [
        o
        for o in outputs
        if any(k.startswith("image/") for k in o.get("data", {}))
        or '<img src="data:image/' in "".join(o.get("data", {}).get("text/html", ""))
    ]
    assert images, "readers without a kernel should see at least one result"
    assert not any(name in path.read_text() for name in TOKEN_NAMES)


def test_gallery_makes_small_animated_thumbnails(tmp_path: Path):
    from PIL import Image

    from magicgif_widget import ValidationError, gallery
    from magicgif_widget.emulator.render import render

    paths = []
    for i, fmt in enumerate(["gif", "mp4"]):
        path = tmp_path / f"item{i}.{fmt}"
        path.write_bytes(render(f"prompt {i}", fmt))
        paths.append(path)
    html = gallery(paths, size=100).data
    assert html.count("<figure") == 2 and "data:image/gif;base64," in html
    assert "data:image/png;base64," in html and len(html) < 200_000
    import base64
    import io

    gif = base64.b64decode(html.split("data:image/gif;base64,")[1].split('"')[0])
    with Image.open(io.BytesIO(gif)) as im:
        assert im.is_animated and max(im.size) == 100
    with pytest.raises(ValidationError, match="size"):
        gallery(paths, size=5)
    with pytest.raises(ValidationError, match="items"):
        gallery([tmp_path / "missing.gif"])
