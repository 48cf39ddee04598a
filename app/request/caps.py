"""This studio's caps (the operator's limits beside the schema's bounds), checked before any work starts."""

from __future__ import annotations

from app.errors import StudioError
from app.request.compare import CompareRequest
from app.request.generation import GenerationRequest
from app.request.labels import describe_field
from app.settings import Settings


def check_generation_caps(request: GenerationRequest, caps: Settings) -> None:
    """Raise StudioError naming every field over this studio's caps, and every control or IP-Adapter without its
    image, with the value received and what is allowed."""
    problems = []
    for name in ("width", "height"):
        value = getattr(request, name)
        if value > caps.max_side:
            problems.append(
                f"{describe_field([name])}: received {value}, this studio allows at most {caps.max_side} pixels"
            )
    for name, cap in (("num_inference_steps", caps.max_steps), ("num_images_per_prompt", caps.max_images)):
        value = getattr(request, name)
        if value > cap:
            problems.append(f"{describe_field([name])}: received {value}, this studio allows at most {cap}")
    for index, control in enumerate(request.controls):
        if control.image is None:
            problems.append(
                f"{describe_field(['controls', index])}: the {control.control_type} ControlNet needs a control "
                "image, received none"
            )
    if request.ip_adapter is not None and request.ip_adapter.image is None:
        problems.append("IP-Adapter · ip_adapter.image: the IP-Adapter needs a reference image, received none")
    if problems:
        raise StudioError("Invalid request — " + "; ".join(problems))


def check_compare_caps(request: CompareRequest, method_count: int, caps: Settings) -> None:
    """Raise StudioError when a comparison asks for more seeds or methods than this studio allows."""
    if request.seed_count > caps.max_seeds:
        raise StudioError(
            f"Invalid comparison — seed_count: received {request.seed_count} seeds per method, this studio allows "
            f"at most {caps.max_seeds} (STUDIO_MAX_SEEDS)"
        )
    if method_count > caps.max_methods:
        raise StudioError(
            f"Invalid comparison — methods: received {method_count}, this studio allows at most "
            f"{caps.max_methods} per comparison"
        )
