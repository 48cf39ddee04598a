"""Pose: the skeletons of the people in the photo (OpenPose-18 keypoints)."""

from app.controls.base import FLUX_UNION_CONTROLNET, ControlType, Guide, register

POSE = register(
    ControlType(
        name="pose",
        label="Pose",
        description="OpenPose skeleton",
        default_detector="vitpose",
        scorer="pose",
        controlnets={"sd15": "lllyasviel/control_v11p_sd15_openpose", "flux": FLUX_UNION_CONTROLNET},
        union_modes={"sdxl": 0},  # xinsir/controlnet-union-sdxl-1.0: mode 0 is openpose
        # TencentARC's SDXL adapter (safetensors; its SD1.5 adapters ship pickled .bin files only).
        adapters={"sdxl": "TencentARC/t2i-adapter-openpose-sdxl-1.0"},
        rank=20,
        other_names=("openpose", "dwpose", "dw", "pose"),
        guide=Guide(
            carries="only a person's body configuration (the skeleton).",
            fits_when="you want one pose on a new person, in new clothes, in a new scene.",
            watch_for="it needs a clearly visible person; hands and faces are held loosely.",
        ),
    )
)
