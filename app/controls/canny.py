"""Canny edges: the outlines of the photo."""

from app.controls.base import FLUX_UNION_CONTROLNET, ControlType, Guide, register

CANNY = register(
    ControlType(
        name="canny",
        label="Canny",
        description="canny edges",
        default_detector="canny",
        scorer="edges",
        controlnets={"sd15": "lllyasviel/control_v11p_sd15_canny", "flux": FLUX_UNION_CONTROLNET},
        # xinsir/controlnet-union-sdxl-1.0: mode 3 is canny/lineart/mlsd.
        union_modes={"sdxl": 3},
        # TencentARC's SDXL adapter (safetensors; its SD1.5 adapters ship pickled .bin files only).
        adapters={"sdxl": "TencentARC/t2i-adapter-canny-sdxl-1.0"},
        rank=10,
        guide=Guide(
            carries="the outlines and fine detail of the control image.",
            fits_when="you need the same shapes and contours (a product, a building, line art).",
            watch_for="detail you did not want is kept too; a busy edge map leaves the prompt little room.",
        ),
    )
)
