"""Soft edge: the photo's boundaries as soft, graded lines (HED), looser than canny's hard one-pixel edges."""

from app.controls.base import FLUX_UNION_CONTROLNET, ControlType, Guide, register

SOFTEDGE = register(
    ControlType(
        name="softedge",
        label="Soft edge",
        description="soft edges (HED)",
        default_detector="hed",
        scorer="softedge",
        controlnets={"sd15": "lllyasviel/control_v11p_sd15_softedge", "flux": FLUX_UNION_CONTROLNET},
        # xinsir/controlnet-union-sdxl-1.0 (ControlNetPlus's test scripts): mode 2 is hed/pidi/scribble/ted.
        union_modes={"sdxl": 2},
        rank=50,
        other_names=("hed", "pidi", "pidinet", "teed"),
        in_default_comparison=False,
        guide=Guide(
            carries="the main boundaries of the control image as soft lines, without its fine texture.",
            fits_when="you want the shapes kept but redrawn freely: a restyle that should not copy every detail.",
            watch_for="thin or low-contrast parts fade out; it holds less than canny and more than depth.",
        ),
    )
)
