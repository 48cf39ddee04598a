"""Segmentation: what each region of the photo is (sky, wall, person, tree…), as flat ADE20K class colours; it keeps
where things are and what they are, not their shapes' detail or their look."""

from app.controls.base import ControlType, Guide, register

SEG = register(
    ControlType(
        name="seg",
        label="Segmentation",
        description="segmentation map (ADE20K classes)",
        default_detector="upernet",
        scorer="seg",
        controlnets={"sd15": "lllyasviel/control_v11p_sd15_seg"},
        # xinsir/controlnet-union-sdxl-1.0 (ControlNetPlus's test scripts): mode 5 is segment.
        union_modes={"sdxl": 5},
        rank=70,
        other_names=("segment", "segmentation", "ofade", "ufade", "oneformer", "uniformer", "upernet"),
        in_default_comparison=False,
        guide=Guide(
            carries="which class of thing fills each region of the control image, as flat colour areas.",
            fits_when="you want a scene's arrangement kept (sky here, building there) with every object redrawn.",
            watch_for="regions the segmenter misreads are drawn as that class; small objects disappear.",
        ),
    )
)
