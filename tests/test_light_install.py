"""A plain `pip install magicgif-widget` has neither PyAV nor uvicorn (they are the `video` and
`emulator` extras). Each check runs in a fresh interpreter where both imports fail, as they
would there: GIFs work on the sandbox, MP4/WebM on the sandbox say in one line what to install,
a real MP4 result still plays in the widget (no still image), and `magicgif emulator` says
what it needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import Server

WITHOUT_EXTRAS = """
import sys, warnings
sys.modules["av"] = None  # `import av` raises ImportError, as in a plain install
sys.modules["uvicorn"] = None
warnings.simplefilter("ignore")
"""


def _run(code: str, tmp_path: Path, *args: str) -> dict:
    script = tmp_path / "check.py"
    script.write_text(WITHOUT_EXTRAS + textwrap.dedent(code))
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "MAGICGIF_SANDBOX_RENDER_SECONDS": "0.1",
            "PATH": "/usr/bin:/bin",
            **{k: os.environ[k] for k in ("MAGICGIF_CACHE_DIR", "MAGIC_HOUR_POLL_INTERVAL")},
        },
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_sandbox_draws_gifs_and_names_the_extra_for_video(tmp_path: Path):
    out = _run(
        """
        import json
        from magicgif_widget import Client, BadRequestError
        client = Client()
        gif = client.v1.ai_gif_generator.generate(
            style={"prompt": "a cat"}, download_directory=sys.argv[1])
        errors = {}
        for fmt in ("mp4", "webm"):
            try:
                client.v1.ai_gif_generator.generate(
                    style={"prompt": "a cat"}, output_format=fmt, download_directory=sys.argv[1])
            except BadRequestError as exc:
                errors[fmt] = str(exc)
        print(json.dumps({"gif": gif.downloaded_paths, "errors": errors,
                          "credits": client.v1.account.get().credits,
                          "loaded": sorted(m for m in ("av", "uvicorn") if sys.modules.get(m))}))
        """,
        tmp_path,
        str(tmp_path),
    )
    assert len(out["gif"]) == 1 and Path(out["gif"][0]).read_bytes()[:6] == b"GIF89a"
    for fmt in ("mp4", "webm"):
        line = out["errors"][fmt]
        assert "\n" not in line and "pip install 'magicgif-widget[video]'" in line, line
        assert fmt.upper() in line
    assert out["loaded"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["check.py", Path(out["gif"][0]).name]


def test_a_real_mp4_plays_in_the_widget_without_pyav(server: Server, tmp_path: Path):
    """The API's MP4 (here the loopback emulator, which has PyAV) reaches the widget as media;
    only the saved notebook's still image needs PyAV, so there is none."""
    out = _run(
        """
        import asyncio, json
        from magicgif_widget import Client, GifWidget
        async def main():
            w = GifWidget(client=Client(base_url=sys.argv[1], token="t"), prompt="a fox",
                          output_format="mp4", download_directory=sys.argv[2])
            result = await w.generate()
            still = w._still
            print(json.dumps({"status": w.status, "error": w.error, "media": w.media,
                              "bytes": result.data[4:8].decode("latin-1"),
                              "still": still}))
            w.close()
        asyncio.run(main())
        """,
        tmp_path,
        server.url,
        str(tmp_path),
    )
    assert out["status"] == "complete" and out["error"] == ""
    assert out["media"]["format"] == "mp4" and out["media"]["size"] > 0
    assert out["bytes"] == "ftyp"  # an MP4 file, served to the front end as it is
    still = out["still"]  # the static output: a caption, no picture
    assert "image/png" not in still and "<img" not in still["text/html"]
    assert Path(out["media"]["filename"]).name in still["text/html"]


def test_the_http_emulator_names_its_extra(tmp_path: Path):
    script = tmp_path / "cli.py"
    script.write_text(WITHOUT_EXTRAS + "from magicgif_widget.cli import main\nsys.exit(main())\n")
    done = subprocess.run(
        [sys.executable, str(script), "emulator", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "magicgif: error: serving the emulator over HTTP needs uvicorn (uvicorn is not "
        "installed): pip install 'magicgif-widget[emulator]'"
    ]
