"""Human names of the samplers, importable without diffusers.

The UI builds its sampler menu before torch and diffusers are imported, so the
page is served in seconds; :mod:`app.engine.schedulers` maps the same names to the
scheduler classes, and a test keeps the two in step.
"""

from __future__ import annotations

from typing import get_args

from app.request import SchedulerName

SCHEDULER_LABELS: dict[str, str] = {
    "dpmpp_2m_karras": "DPM++ 2M Karras",
    "euler_a": "Euler a",
    "euler": "Euler",
    "unipc": "UniPC",
    "ddim": "DDIM",
}


def scheduler_choices() -> list[tuple[str, str]]:
    """``(label, name)`` pairs for every scheduler the request schema allows, in schema order."""
    return [(SCHEDULER_LABELS.get(name, name), name) for name in get_args(SchedulerName)]
