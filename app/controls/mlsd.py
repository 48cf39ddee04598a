"""MLSD: the photo's straight lines only (M-LSD line segments), for architecture and interiors: walls, edges of
furniture, the lines of a room, with every curve and texture left out."""

from app.controls.base import ControlType, Guide, register

MLSD = register(
    ControlType(
        name="mlsd",
        label="Straight lines (MLSD)",
        description="straight lines (M-LSD)",
        default_detector="mlsd",
        scorer="mlsd",
        controlnets={"sd15": "lllyasviel/control_v11p_sd15_mlsd"},
        # xinsir/controlnet-union-sdxl-1.0 (ControlNetPlus's test scripts): mode 3 is canny/lineart/anime_lineart/mlsd.
        union_modes={"sdxl": 3},
        rank=45,
        other_names=("lines", "hough"),
        in_default_comparison=False,
        guide=Guide(
            carries="the straight line segments of the control image: walls, frames, the edges of boxy things.",
            fits_when="the picture is architecture or an interior whose perspective lines must stay where they are.",
            watch_for="curves, people and organic shapes carry no lines and are left entirely to the prompt.",
        ),
    )
)
