"""Benchmarks: magicgif-widget against the vendor SDK (magic-hour) on the same emulator.

    python bench/run.py [--runs 5] [--write docs/benchmarks.md]

Starts `magicgif emulator` on loopback for each scenario, runs our client and the vendor's
against it side by side, and prints medians and ratios. Needs the test extra (magic-hour,
uvicorn). About 15 minutes: the realistic sequence is 20 jobs of ~26 s each, one after the
other, while every other timing scenario runs beside it; then a class of 30 on one key.
``--table JSON`` reprints saved results (``--save``, the temp dir by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the emulator-process tooling
from bench.front import Point, front_for, gets_at
from magicgif_widget.emulator.rate_limit import RateLimit
from tests.emulator_process import emulator_process

PROMPT = {"prompt": "Cute dancing cat, pixel art"}
TOKEN = "mhk_bench_token"


# ---- the emulator, as a separate process --------------------------------------------------


def emulator(render_seconds: float, output_file: Path) -> Any:
    return emulator_with(["--render-seconds", str(render_seconds)], output_file)


def emulator_with(flags: list[str], output_file: Path) -> Any:
    return emulator_process(*flags, "--output-file", str(output_file), "--log-level", "error")


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


FIXED = (5.0, 26.0, 60.0)  # seconds: the vendor's 26 s median, and either side of it
FIXED_JOBS = 5  # per client and render time, one after another
REALISTIC_JOBS = 20  # drawn from `magicgif emulator --profile realistic`, one after another
SHORT_JOBS = 10  # the first ten of them are reported on their own too (less history)
REALISTIC_SEED = 5
CLASS_SIZE = 30  # students, each with a client of their own, all on one API key


def timing_child(name: str, url: str, jobs: int, prefix: str) -> None:
    """One client in a fresh process: ``jobs`` generates in a row; prints each one's wall time.
    Ours starts from an empty timing cache and learns along the way, as a new user's would."""
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MAGICGIF_CACHE_DIR"] = str(Path(tmp) / "cache")
        for i in range(jobs):
            style = {"prompt": f"{prefix} job {i}"}
            t0 = time.perf_counter()
            if name == "ours":
                from magicgif_widget import Client

                with Client(base_url=url, token=TOKEN) as client:
                    res = client.v1.ai_gif_generator.generate(style=style, download_directory=tmp)
            else:
                from magic_hour import Client as VendorClient

                vendor = VendorClient(base_url=url, token=TOKEN)
                res = vendor.v1.ai_gif_generator.generate(style=style, download_directory=tmp)
            walls.append({"wall": time.perf_counter() - t0, "id": res.id})
    print(json.dumps(walls))


def timings(gif: Path) -> dict[str, Any]:
    """Scenario 1: the fixed renders and the realistic sequence, every client in its own
    process, all at once. Overhead = wall time minus the job's own time (completion to file);
    GETs = the emulator's count for that project."""
    plans = [(f"fixed_{r:g}", ["--render-seconds", str(r)], FIXED_JOBS) for r in FIXED]
    # Seed 5: its 20 jobs average 27.3 s, the closest of seeds 0-12 to the profile's own mean
    # (27.6 s); chosen by job lengths alone, before either client ran on it.
    realistic = ["--profile", "realistic", "--seed", str(REALISTIC_SEED)]
    plans.append(("realistic", realistic, REALISTIC_JOBS))
    env = {k: v for k, v in os.environ.items() if k != "MAGIC_HOUR_POLL_INTERVAL"}
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        running = []
        for label, flags, jobs in plans:
            url = stack.enter_context(emulator_with(flags, gif))
            for name in CLIENTS:  # the same prompts: on the realistic profile, the same jobs
                cmd = [sys.executable, __file__, "--child-timing", name, url, str(jobs), label]
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
                running.append((label, name, url, proc))
        for label, name, url, proc in running:
            stdout, _ = proc.communicate()
            if proc.returncode:
                raise RuntimeError(f"{label}/{name} failed")
            planned = {j["id"]: j for j in httpx.get(f"{url}/emulator/jobs").json()}
            done = json.loads(stdout)
            runs = [(label, done)]
            if label == "realistic":
                runs.insert(0, (f"realistic_{SHORT_JOBS}", done[:SHORT_JOBS]))
            for key, jobs in runs:
                out.setdefault(key, {})[name] = _timing_row(jobs, planned)
    return out


def _timing_row(done: list[dict[str, Any]], planned: dict[str, Any]) -> dict[str, Any]:
    """Overheads, GETs and poll delays (first GET showing the end, minus the end) of jobs."""
    overheads = [d["wall"] - planned[d["id"]]["seconds"] for d in done]
    delays = [planned[d["id"]]["seen_final_seconds"] - planned[d["id"]]["seconds"] for d in done]
    return {
        "median": statistics.median(overheads),
        "p90": _p90(overheads),
        "mean": statistics.fmean(overheads),
        "first": overheads[0],
        "gets": statistics.fmean(planned[d["id"]]["polls"] for d in done),
        "delay": statistics.fmean(delays),
        "job_seconds": statistics.fmean(planned[d["id"]]["seconds"] for d in done),
    }


def limit(samples: int = 100_000) -> dict[str, Any]:
    """The Pareto front for the realistic profile's drawn durations (``bench/front.py``)."""
    from magicgif_widget.emulator.timing import Drawn

    drawn = Drawn.realistic(REALISTIC_SEED)
    phases = [drawn.draw(f"front sample {i}") for i in range(samples)]
    return {
        "front": front_for([p.total for p in phases]),
        "render_front": front_for([p.rendering for p in phases]),  # the queue wait free
    }


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


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
    """Scenario 2: n concurrent generates on one async client: wall time, distinct files.
    Ours has first learned this emulator's 1 s jobs from three earlier ones, as a user who
    generated before would have (scenario 1 shows what a first job costs)."""
    out: dict[str, Any] = {}
    with emulator(render, gif) as url:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(3):
                generate_ours(url, Path(tmp))
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


async def _student(name: str, url: str, i: int, directory: str) -> dict[str, Any]:
    """One student's job on a client of their own: its wall time and id, or its error."""
    style = {"prompt": f"class student {i}"}
    Path(directory).mkdir(parents=True, exist_ok=True)  # the vendor SDK makes no folders
    t0 = time.perf_counter()
    try:
        if name == "ours":
            from magicgif_widget import AsyncClient

            async with AsyncClient(base_url=url, token=TOKEN) as client:
                res = await client.v1.ai_gif_generator.generate(
                    style=style, download_directory=directory
                )
        else:
            from magic_hour import AsyncClient as VendorAsyncClient

            vendor = VendorAsyncClient(base_url=url, token=TOKEN)
            res = await vendor.v1.ai_gif_generator.generate(
                style=style, download_directory=directory
            )
    except Exception as exc:  # a lost job: the benchmark counts it, whatever the error
        return {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    return {"wall": time.perf_counter() - t0, "id": res.id}


def class_child(name: str, url: str, n: int) -> None:
    """``n`` students at once, each on their own client (one process, one event loop)."""

    async def everyone() -> list[dict[str, Any]]:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MAGICGIF_CACHE_DIR"] = str(Path(tmp) / "cache")  # new users
            return await asyncio.gather(
                *(_student(name, url, i, str(Path(tmp) / f"s{i}")) for i in range(n))
            )

    print(json.dumps(asyncio.run(everyone())))


def classroom(gif: Path) -> dict[str, Any]:
    """Scenario 5: a class of CLASS_SIZE on one key, on the realistic profile, against the
    emulator's default per-key rate limit; ours and the SDK each on an emulator of its own,
    at the same time. 429s as the emulator counted them; a lost job is one not delivered."""
    flags = ["--profile", "realistic", "--seed", str(REALISTIC_SEED), "--rate-limit"]
    env = {k: v for k, v in os.environ.items() if k != "MAGIC_HOUR_POLL_INTERVAL"}
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        running = []
        for name in CLIENTS:
            url = stack.enter_context(emulator_with(flags, gif))
            cmd = [sys.executable, __file__, "--child-class", name, url, str(CLASS_SIZE)]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
            running.append((name, url, proc))
        for name, url, proc in running:
            stdout, _ = proc.communicate()
            if proc.returncode:
                raise RuntimeError(f"class/{name} failed")
            results = json.loads(stdout)
            planned = {j["id"]: j for j in httpx.get(f"{url}/emulator/jobs").json()}
            stats = httpx.get(f"{url}/emulator/stats").json()
            done = [r for r in results if "id" in r]
            lost = [r["error"] for r in results if "error" in r]
            sent = stats["requests"].get("poll", 0)
            out[name] = {
                "limited": stats["rate_limited"],
                "sent": sent,
                "gets": sent / len(done) if done else math.inf,  # per job delivered
                "overhead": statistics.fmean(r["wall"] - planned[r["id"]]["seconds"] for r in done)
                if done
                else float("nan"),
                "lost": len(lost),
                "why": sorted(set(e.split(":")[0] for e in lost)),
            }
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
        ratio = f"{ours / vendor:.2f}" if vendor and math.isfinite(vendor) else "-"
        shown = format(vendor, fmt) if vendor is not None else "n/a"
        rows.append((label, format(ours, fmt), shown, ratio, target, "yes" if met else "NO"))

    t, front = results["timings"], results["limit"]["front"]
    short, full = f"realistic_{SHORT_JOBS}", "realistic"
    scenarios: list[tuple[str, str, float | None, float | None]] = [
        ("fixed_5", "1. 5 s render", 1.0, None),
        ("fixed_26", "1. 26 s render", 1.0, None),
        ("fixed_60", "1. 60 s render", None, 0.3),
    ]
    for key, jobs in ((short, SHORT_JOBS), (full, REALISTIC_JOBS)):
        mean = t[key]["ours"]["job_seconds"]
        scenarios.append((key, f"1. realistic, first {jobs} jobs (mean {mean:.0f} s)", 0.6, 0.35))
    for key, label, over, get_factor in scenarios:
        o, v = t[key]["ours"], t[key]["vendor"]
        judged = "mean" if key.startswith("realistic") else "median"  # the target's statistic
        for stat in ("mean", "median", "p90", "first"):
            target = over is not None and stat == judged
            bound = "< vendor" if over == 1.0 else f"<= {over or 0:g} x vendor"
            add(
                f"{label}: overhead {stat} (s)",
                o[stat],
                v[stat],
                ".2f",
                bound if target else "-",
                _met(target, o[stat], v[stat], over),
            )
        add(
            f"{label}: GETs per job",
            o["gets"],
            v["gets"],
            ".1f",
            f"<= {get_factor:g} x vendor" if get_factor else "-",
            not get_factor or o["gets"] <= get_factor * v["gets"],
        )
        add(f"{label}: poll delay mean (s)", o["delay"], v["delay"], ".2f", "-", True)
        if key.startswith("realistic"):
            best = gets_at(front, o["delay"])
            rows.append(
                (
                    f"{label}: GETs, the front's at ours' delay",
                    f"{best:.1f}",
                    "-",
                    f"ours / front {o['gets'] / best:.2f}",
                    "ours <= 1.5 x front",
                    "yes" if o["gets"] <= 1.5 * best else "NO",
                )
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
    k = results["classroom"]
    o, v = k["ours"], k["vendor"]
    who = f"5. class of {CLASS_SIZE}, one key"
    add(f"{who}: 429s", o["limited"], v["limited"], ".0f", "< vendor", o["limited"] < v["limited"])
    add(
        f"{who}: GETs per job delivered",
        o["gets"],
        v["gets"],
        ".1f",
        "< vendor",
        o["gets"] < v["gets"],
    )
    add(f"{who}: GETs sent in all", o["sent"], v["sent"], ".0f", "-", True)
    add(f"{who}: overhead mean (s)", o["overhead"], v["overhead"], ".2f", "-", True)
    add(f"{who}: jobs lost", o["lost"], v["lost"], ".0f", "0", o["lost"] == 0)
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
    lost = ", ".join(v["why"]) or "none"
    return "\n".join(lines) + (
        f"\n\nScenario 1: {FIXED_JOBS} jobs per fixed render and {REALISTIC_JOBS} realistic ones,"
        f" per client, in one run; scenarios 2-4: medians of {runs} runs; scenario 5: one run,"
        f" the emulator's default rate limit ({RateLimit().describe()}); the vendor SDK's lost"
        f" jobs raised {lost}; {machine}.\n\n" + front_table(results)
    )


def _met(judged: bool, ours: float, vendor: float, factor: float | None) -> bool:
    """An overhead target: below the vendor's (factor 1), or at most factor x the vendor's."""
    if not judged or factor is None:
        return True
    return ours < vendor if factor == 1.0 else ours <= factor * vendor


def front_table(results: dict[str, Any]) -> str:
    """The Pareto front of the realistic profile, with ours and the SDK's points on it."""
    lim, t = results["limit"], results["timings"]
    lines = [
        "The limit (realistic profile): the best fixed schedule for its drawn durations, per"
        " price of a GET, and a bound for any poller that reads the status (the queue wait"
        " known for free).",
        "",
        "| price of a GET (s) | front: GETs per job | front: poll delay (s) | bound: GETs |",
        "|---|---|---|---|",
    ]
    for p in lim["front"]:
        bound = gets_at(lim["render_front"], p.delay)
        lines.append(f"| {p.lam:.4f} | {p.gets:.1f} | {p.delay:.3f} | {bound:.1f} |")
    lines += ["", "| client, jobs | GETs per job | poll delay (s) | front's GETs there | ratio |"]
    lines.append("|---|---|---|---|---|")
    for key in (f"realistic_{SHORT_JOBS}", "realistic"):
        for name in CLIENTS:
            row = t[key][name]
            best = gets_at(lim["front"], row["delay"])
            lines.append(
                f"| {name}, {key} | {row['gets']:.1f} | {row['delay']:.3f} | {best:.1f} |"
                f" {row['gets'] / best:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-rss":
        child_rss(*sys.argv[2:5])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child-class":
        class_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child-timing":
        timing_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", help="also write the table into this Markdown file")
    parser.add_argument(
        "--save",
        default=str(Path(tempfile.gettempdir()) / "magicgif-bench.json"),
        help="where the measured results go as JSON (default: the temp dir)",
    )
    parser.add_argument("--table", metavar="JSON", help="print the table of saved results")
    args = parser.parse_args()
    if args.table:
        loaded = json.loads(Path(args.table).read_text())
        for key in ("front", "render_front"):
            loaded["limit"][key] = [Point(**p) for p in loaded["limit"][key]]
        return report_and_write(loaded, args)
    work = Path(tempfile.mkdtemp(prefix="magicgif-bench-"))
    os.environ["MAGICGIF_CACHE_DIR"] = str(work / "cache")  # never the user's timing cache
    try:
        gif = make_gif(work / "one-mb.gif", 1.0)
        blob = make_blob(work / "big.gif", 64)
        results = {
            "timings": timings(gif),
            "concurrency": concurrency(gif, args.runs),
            "rss": rss(blob, args.runs),
            "sandbox": sandbox(args.runs),
            "classroom": classroom(gif),
            "limit": limit(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    saved = Path(args.save)
    saved.write_text(json.dumps(results, default=vars, indent=1))
    print(f"(results saved to {saved}; --table {saved} prints the table again)", file=sys.stderr)
    return report_and_write(results, args)


def report_and_write(results: dict[str, Any], args: argparse.Namespace) -> int:
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
