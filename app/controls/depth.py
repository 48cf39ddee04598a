"""Depth: what is near and what is far in the photo."""

from app.controls.base import FLUX_UNION_CONTROLNET, ControlType, Guide, register

DEPTH = register(
    ControlType(
        name="depth",
        label="Depth",
        description="depth map",
        default_detector="depth_anything",
        scorer="depth",
        controlnets={"sd15": "lllyasviel/control_v11f1p_sd15_depth", "flux": FLUX_UNION_CONTROLNET},
        union_modes={"sdxl": 1},  # xinsir/controlnet-union-sdxl-1.0: mode 1 is depth
        # TencentARC's SDXL adapter (safetensors; its SD1.5 adapters ship pickled .bin files only).
        adapters={"sdxl": "TencentARC/t2i-adapter-depth-midas-sdxl-1.0"},
        rank=30,
        other_names=("midas", "zoe", "zoedepth", "leres", "marigold"),
        guide=Guide(
            carries="the 3-D layout: what is near and what is far.",
            fits_when="you want the same arrangement of the scene with new textures, materials or style.",
            watch_for="outlines and fine detail are free to change.",
        ),
    )
)
