"""Scribble: the photo's main shapes as thick, rough strokes, as a person would sketch them; it keeps the layout and
leaves the model free on the details."""

from app.controls.base import ControlType, Guide, register

SCRIBBLE = register(
    ControlType(
        name="scribble",
        label="Scribble",
        description="scribble (thick rough strokes)",
        default_detector="hed_scribble",
        scorer="scribble",
        controlnets={"sd15": "lllyasviel/control_v11p_sd15_scribble"},
        # xinsir/controlnet-union-sdxl-1.0 (ControlNetPlus's test scripts): mode 2 is hed/pidi/scribble/ted.
        union_modes={"sdxl": 2},
        # TencentARC's SDXL adapter (safetensors; its SD1.5 adapters ship pickled .bin files only).
        adapters={"sdxl": "TencentARC/t2i-adapter-sketch-sdxl-1.0"},
        rank=60,
        other_names=("sketch",),
        in_default_comparison=False,
        guide=Guide(
            carries="the main shapes of the control image as rough, thick strokes, none of its fine lines.",
            fits_when="you start from a quick sketch, or want a photo's composition kept and everything else redrawn.",
            watch_for="small parts vanish in the thick strokes; it holds the layout more loosely than soft edges.",
        ),
    )
)
