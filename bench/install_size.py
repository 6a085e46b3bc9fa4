"""What `%pip install magicgif-widget` adds to an environment that already has JupyterLab.

    python bench/install_size.py [PROJECT_DIR] [--extras video,emulator]

Makes a throw-away virtual environment with JupyterLab (through uv, from PyPI), measures its
site-packages, installs the project (a plain install unless --extras), and prints what was
added, in total and per package. PROJECT_DIR defaults to this checkout.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise SystemExit(f"no site-packages under {venv}")
    return found[0]


def _sizes(site: Path) -> dict[str, int]:
    """Bytes per top-level entry of site-packages (a package, its .libs, its dist-info)."""
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes[entry.name] = sum(p.lstat().st_size for p in files)
    return sizes


def _uv(*args: str) -> None:
    uv = shutil.which("uv") or sys.exit("uv is needed (it is in the test extra)")
    subprocess.run([uv, *args], check=True, stdout=subprocess.DEVNULL)


def measure(project: Path, extras: str) -> tuple[int, int, list[tuple[str, int]]]:
    """(base bytes, added bytes, the ten largest added entries)."""
    with tempfile.TemporaryDirectory(prefix="magicgif-size-") as tmp:
        venv = Path(tmp) / "venv"
        python = sysconfig.get_config_var("VERSION")
        _uv("venv", "-q", "--python", python, str(venv))
        env_python = str(venv / "bin" / "python")
        _uv("pip", "install", "-q", "--python", env_python, "jupyterlab")
        site = _site_packages(venv)
        before = _sizes(site)
        spec = f"{project}[{extras}]" if extras else str(project)
        _uv("pip", "install", "-q", "--python", env_python, spec)
        after = _sizes(site)
    added = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    top = sorted(added.items(), key=lambda kv: -kv[1])[:10]
    return sum(before.values()), sum(added.values()), top


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("project", nargs="?", type=Path, default=ROOT)
    ap.add_argument("--extras", default="", help="comma-separated extras, e.g. video")
    args = ap.parse_args()
    base, added, top = measure(args.project.resolve(), args.extras)
    label = f"magicgif-widget[{args.extras}]" if args.extras else "magicgif-widget"
    print(f"| environment | size |\n|---|---|\n| JupyterLab alone | {base / MB:.0f} MB |")
    print(f"| + {label} | +{added / MB:.1f} MB |\n")
    print("| largest additions | MB |\n|---|---|")
    for name, size in top:
        print(f"| {name} | {size / MB:.1f} |")


if __name__ == "__main__":
    main()
