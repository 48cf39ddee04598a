"""Normals: which way each surface of the photo faces, as a colour per pixel (a normal map); it keeps the shapes'
relief and lighting directions without their texture or colour."""

from app.controls.base import ControlType, Guide, register

NORMAL = register(
    ControlType(
        name="normal",
        label="Normals",
        description="normal map (surface directions)",
        default_detector="normalbae",
        scorer="normal",
        controlnets={"sd15": "lllyasviel/control_v11p_sd15_normalbae"},
        # xinsir/controlnet-union-sdxl-1.0 (ControlNetPlus's test scripts): mode 4 is normal.
        union_modes={"sdxl": 4},
        rank=35,
        other_names=("normalbae", "bae", "normals", "normalmap", "dsine"),
        in_default_comparison=False,
        guide=Guide(
            carries="the direction every surface of the control image faces: its relief, folds and planes.",
            fits_when="the 3-D form matters more than the outline: sculpted faces, fabric, products, rooms.",
            watch_for="flat or far-away areas carry little; it holds form more tightly than depth and less than canny.",
        ),
    )
)
