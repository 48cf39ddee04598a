"""Lineart: the photo's drawn lines, thin and dark-on-light turned white-on-black, the way an artist would ink it."""

from app.controls.base import ControlType, Guide, register

LINEART = register(
    ControlType(
        name="lineart",
        label="Lineart",
        description="line drawing",
        default_detector="lineart_standard",
        scorer="lineart",
        controlnets={"sd15": "lllyasviel/control_v11p_sd15_lineart"},
        # xinsir/controlnet-union-sdxl-1.0 (ControlNetPlus's test scripts): mode 3 is canny/lineart/anime_lineart/mlsd.
        union_modes={"sdxl": 3},
        # TencentARC's SDXL adapter (safetensors; its SD1.5 adapters ship pickled .bin files only).
        adapters={"sdxl": "TencentARC/t2i-adapter-lineart-sdxl-1.0"},
        rank=40,
        in_default_comparison=False,  # a fourth structure map doubles nothing a new user asked for: opt in
        guide=Guide(
            carries="the drawn lines of the control image, with their weight: contours and the strokes inside them.",
            fits_when="you start from a sketch or ink drawing, or want a photo redrawn with its linework kept.",
            watch_for="shading and texture become lines too; on a busy photo it holds as tightly as canny.",
        ),
    )
)
