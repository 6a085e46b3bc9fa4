"""What a Generate asks for, checked before anything is sent: one prompt or a gallery."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client.errors import ValidationError
from ..client.settings import Settings
from ..client.timing import expected_render
from ..client.validation import check_name, check_output_format, check_style
from ..contract import DEFAULT_FORMAT
from ..jobstore.journal import JobSettings
from .gallery_state import gallery_prompts


@dataclass(frozen=True)
class Request:
    """A checked job: one prompt (``style``), or a gallery (``prompts``, one job each)."""

    output_format: str
    name: str | None = None
    style: dict[str, Any] | None = None
    prompts: list[str] | None = None

    @property
    def count(self) -> int:
        """How many GIFs the request makes (and pays for)."""
        return len(self.prompts) if self.prompts is not None else 1

    @property
    def settings(self) -> JobSettings:
        """What the journal knows a single job by."""
        return JobSettings(str((self.style or {}).get("prompt", "")), self.name, self.output_format)

    def items(self) -> list[dict[str, str]]:
        """A gallery's batch items: one per prompt, each named ``name N`` when named."""
        name = self.name
        return [
            {"prompt": p, **({"name": f"{name} {i + 1}"} if name else {})}
            for i, p in enumerate(self.prompts or [])
        ]


def request(prompt: str, name: str, output_format: str, gallery_mode: bool) -> Request:
    """The form's values as a job; bad input raises ValidationError before anything is sent."""
    checked_name = check_name(name.strip() or None)
    fmt = check_output_format(output_format) or DEFAULT_FORMAT
    if gallery_mode:
        return Request(fmt, checked_name, prompts=gallery_prompts(prompt))
    return Request(fmt, checked_name, style=check_style({"prompt": prompt}))


def estimate(settings: Settings, output_format: str) -> float:
    """Expected seconds of rendering, from the poller's model (client/timing.py): what earlier
    jobs of this backend and format took, else the vendor's published median."""
    return round(expected_render(settings.base_url, settings.sandbox, output_format), 2)


def fresh_folder(parent: Path, prefix: str) -> Path:
    """A new, empty folder ``parent/prefix-YYYYmmdd-HHMMSS[-n]`` (never an existing one)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        path = parent / (f"{prefix}-{stamp}" if n == 1 else f"{prefix}-{stamp}-{n}")
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ValidationError(
                "download_directory", f"cannot create {path}: {exc.strerror or exc}"
            ) from None
        return path
    raise ValidationError("download_directory", f"no free folder name under {parent}")
