"""Benchmarks: magicgif-widget against the vendor SDK (magic-hour) on the same emulator.

    python bench/run.py [--runs 5] [--write docs/benchmarks.md]

Starts `magicgif emulator` on loopback for each scenario, runs our client and the vendor's
against it, and prints medians and ratios. Needs the test extra (it has magic-hour).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from magicgif_widget.emulator.server import emulator_process

PROMPT = {"prompt": "Cute dancing cat, pixel art"}
TOKEN = "mhk_bench_token"


# ---- the emulator, as a separate process --------------------------------------------------


def emulator(render_seconds: float, output_file: Path) -> Any:
    return emulator_process(
        "--render-seconds",
        str(render_seconds),
        "--output-file",
        str(output_file),
        "--log-level",
        "error",
    )


def reset(url: str) -> None:
    httpx.post(f"{url}/emulator/reset").raise_for_status()


def polls(url: str) -> int:
    return int(httpx.get(f"{url}/emulator/stats").json()["requests"].get("poll", 0))


def make_gif(path: Path, megabytes: float) -> Path:
    """A noisy animated GIF of about ``megabytes`` (noise does not compress)."""
    from PIL import Image

    rng = random.Random(1)
    side = 400
    frames = max(2, int(megabytes * 1024 * 1024 / (side * side)) + 1)
    images = [
        Image.frombytes("L", (side, side), rng.randbytes(side * side)).convert("P")
        for _ in range(frames)
    ]
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0)
    return path


def make_blob(path: Path, mebibytes: int) -> Path:
    with path.open("wb") as out:
        out.write(b"GIF89a")
        out.write(os.urandom(mebibytes * 1024 * 1024 - 6))
    return path


# ---- one generate, ours or the vendor's -------------------------------------------------------


def generate_ours(url: str, directory: Path) -> list[str]:
    from magicgif_widget import Client

    with Client(base_url=url, token=TOKEN) as client:
        res = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=directory)
    return list(res.downloaded_paths or [])


def generate_vendor(url: str, directory: Path) -> list[str]:
    from magic_hour import Client

    client = Client(base_url=url, token=TOKEN)
    res = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=str(directory))
    return list(res.downloaded_paths or [])


CLIENTS: dict[str, Callable[[str, Path], list[str]]] = {
    "ours": generate_ours,
    "vendor": generate_vendor,
}


# ---- scenarios -------------------------------------------------------------------------------


def latency(render: float, gif: Path, runs: int) -> dict[str, Any]:
    """Scenario 1: generate wall time minus render time, and the GETs made."""
    out: dict[str, Any] = {}
    with emulator(render, gif) as url:
        for name, fn in CLIENTS.items():
            overheads, gets = [], []
            for _ in range(runs):
                reset(url)
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    fn(url, Path(tmp))
                    overheads.append(time.perf_counter() - t0 - render)
                gets.append(polls(url))
            out[name] = {
                "overhead": statistics.median(overheads),
                "mean_overhead": statistics.fmean(overheads),
                "gets": statistics.median(gets),
            }
    return out


async def _many_ours(url: str, directory: Path, n: int) -> None:
    from magicgif_widget import AsyncClient

    async with AsyncClient(base_url=url, token=TOKEN) as client:
        await asyncio.gather(
            *(
                client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=directory)
                for _ in range(n)
            )
        )


async def _many_vendor(url: str, directory: Path, n: int) -> None:
    from magic_hour import AsyncClient

    client = AsyncClient(base_url=url, token=TOKEN)
    await asyncio.gather(
        *(
            client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=str(directory))
            for _ in range(n)
        )
    )


def concurrency(gif: Path, runs: int, n: int = 100, render: float = 1.0) -> dict[str, Any]:
    """Scenario 2: n concurrent generates on one async client: wall time, distinct files."""
    out: dict[str, Any] = {}
    with emulator(render, gif) as url:
        for name, fn in (("ours", _many_ours), ("vendor", _many_vendor)):
            walls, files = [], []
            for _ in range(runs):
                reset(url)
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    asyncio.run(fn(url, Path(tmp), n))
                    walls.append(time.perf_counter() - t0)
                    files.append(len([p for p in Path(tmp).iterdir() if p.is_file()]))
            out[name] = {"wall": statistics.median(walls), "files": min(files)}
    return out


def rss(blob: Path, runs: int) -> dict[str, Any]:
    """Scenario 3: peak RSS growth of a fresh process during one generate of a big output."""
    out: dict[str, Any] = {}
    with emulator(0.5, blob) as url:
        for name in CLIENTS:
            growths = []
            for _ in range(runs):
                reset(url)
                with tempfile.TemporaryDirectory() as tmp:
                    child = subprocess.run(
                        [sys.executable, __file__, "--child-rss", name, url, tmp],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                growths.append(json.loads(child.stdout)["growth_mib"])
            out[name] = {"growth_mib": statistics.median(growths)}
    return out


def peak_rss_kib() -> int:
    """This process's RSS high-water mark (VmHWM: unlike ru_maxrss, not inherited)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child_rss(name: str, url: str, directory: str) -> None:
    # Import first, so the growth is the download's, not the libraries'.
    if name == "ours":
        import magicgif_widget  # noqa: F401
    else:
        import magic_hour  # noqa: F401
    before = peak_rss_kib()
    paths = CLIENTS[name](url, Path(directory))
    after = peak_rss_kib()
    size = sum(Path(p).stat().st_size for p in paths)
    print(json.dumps({"growth_mib": (after - before) / 1024, "bytes": size}))


def sandbox(runs: int) -> dict[str, Any]:
    """Scenario 4: render the default sandbox GIF, and import time (fresh processes)."""
    from magicgif_widget.emulator.render import render

    render("warm up")
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        render(f"Cute dancing cat, pixel art {i}")
        times.append(time.perf_counter() - t0)

    def import_time(module: str) -> float:
        code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
        samples = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(runs)
        ]
        return statistics.median(samples)

    return {
        "render": statistics.median(times),
        "import_ours": import_time("magicgif_widget"),
        "import_vendor": import_time("magic_hour"),
    }


# ---- report ----------------------------------------------------------------------------------


def table(results: dict[str, Any], runs: int) -> str:
    rows = [("scenario", "ours", "vendor SDK", "ours / vendor", "target", "met")]

    def add(
        label: str, ours: float, vendor: float | None, fmt: str, target: str, met: bool
    ) -> None:
        ratio = f"{ours / vendor:.2f}" if vendor else "-"
        shown = format(vendor, fmt) if vendor is not None else "n/a"
        rows.append((label, format(ours, fmt), shown, ratio, target, "yes" if met else "NO"))

    for render in ("1.0", "2.5"):
        r = results[f"latency_{render}"]
        o, v = r["ours"], r["vendor"]
        add(
            f"1. overhead, {render} s render (mean s)",
            o["mean_overhead"],
            v["mean_overhead"],
            ".3f",
            "<= 40% of vendor",
            o["mean_overhead"] <= 0.4 * v["mean_overhead"],
        )
        add(
            f"1. GETs, {render} s render",
            o["gets"],
            v["gets"],
            ".0f",
            "<= vendor",
            o["gets"] <= v["gets"],
        )
    c = results["concurrency"]
    add(
        "2. 100 concurrent, wall (s)",
        c["ours"]["wall"],
        c["vendor"]["wall"],
        ".2f",
        "< render + 1 s = 2.0",
        c["ours"]["wall"] < 2.0,
    )
    add(
        "2. 100 concurrent, distinct files",
        c["ours"]["files"],
        c["vendor"]["files"],
        ".0f",
        "100",
        c["ours"]["files"] == 100,
    )
    m = results["rss"]
    add(
        "3. 64 MiB output, peak RSS growth (MiB)",
        m["ours"]["growth_mib"],
        m["vendor"]["growth_mib"],
        ".1f",
        "< 16",
        m["ours"]["growth_mib"] < 16,
    )
    s = results["sandbox"]
    add("4. sandbox GIF render (s)", s["render"], None, ".3f", "< 0.3", s["render"] < 0.3)
    add("4. import time (s)", s["import_ours"], s["import_vendor"], ".3f", "-", True)
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()}"
    )
    return "\n".join(lines) + f"\n\nMedians of {runs} runs; {machine}.\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-rss":
        child_rss(*sys.argv[2:5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", help="also write the table into this Markdown file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="magicgif-bench-"))
    try:
        gif = make_gif(work / "one-mb.gif", 1.0)
        blob = make_blob(work / "big.gif", 64)
        results = {
            "latency_1.0": latency(1.0, gif, args.runs),
            "latency_2.5": latency(2.5, gif, args.runs),
            "concurrency": concurrency(gif, args.runs),
            "rss": rss(blob, args.runs),
            "sandbox": sandbox(args.runs),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = table(results, args.runs)
    print(report)
    if args.write:
        notes = Path(__file__).with_name("NOTES.md")
        Path(args.write).write_text(
            "# Benchmarks\n\nProduced by `python bench/run.py --write docs/benchmarks.md` "
            "(our client and the vendor SDK `magic-hour` 0.90.0, on the same `magicgif "
            "emulator` over loopback, in one run).\n\n"
            + report
            + ("\n" + notes.read_text() if notes.is_file() else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
