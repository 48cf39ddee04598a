"""What the studio is asked to do: typed, bounded requests, named as diffusers names its arguments.

- :mod:`app.request.generation` — one generation (the shared settings, ControlNets, IP-Adapter);
- :mod:`app.request.compare` — several methods on one seed, and what a comparison returns;
- :mod:`app.request.sweep` — one setting varied along one or two axes;

The generation models are re-exported here, so ``from app.request import GenerationRequest`` reads as
the flow does: ui → request → studio → preprocess / engine → fit → recipes.
"""

from app.request.generation import (
    MAX_CONTROLS,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    CommonSettings,
    ControlSettings,
    ControlStrength,
    FamilyName,
    GenerationRequest,
    IPAdapterMode,
    IPAdapterScale,
    IPAdapterSettings,
    SchedulerName,
    StrictModel,
    check_adapters,
    check_family,
    check_one_control_per_type,
    describe_errors,
    field_bounds,
    parse_request,
    validated,
    whole_number,
)

__all__ = [
    "MAX_CONTROLS",
    "MAX_PROMPT_CHARS",
    "MAX_SEED",
    "CommonSettings",
    "ControlSettings",
    "ControlStrength",
    "FamilyName",
    "GenerationRequest",
    "IPAdapterMode",
    "IPAdapterScale",
    "IPAdapterSettings",
    "SchedulerName",
    "StrictModel",
    "check_adapters",
    "check_family",
    "check_one_control_per_type",
    "describe_errors",
    "field_bounds",
    "parse_request",
    "validated",
    "whole_number",
]
