"""Tiny, seeded-random detector models: every detector runs offline through its real loading code.

:func:`build_tiny_detectors` writes, into one folder with the layout of
:class:`~app.preprocess.sources.DetectorSources.from_folder`:

* ``person_detector/``: an RT-DETR with a two-class head (``person``, ``other``),
* ``vitpose/``: a one-layer ViTPose with 17 COCO keypoints,
* ``depth_anything/``: a Depth Anything with a four-layer DINOv2 backbone,
* ``segmenter/``: a UperNet with a four-stage ConvNeXt backbone and ADE20K's 150 classes,

each with its image processor, saved with ``save_pretrained`` as safetensors;
and ``annotators/`` with controlnet-aux's files under their real names
(``body_pose_model.pth``, ``hand_pose_model.pth``, ``facenet.pth``,
``dpt_hybrid-midas-501f0c75.pt``) holding every tensor of the real
architectures. Those architectures are fixed (50–120 M parameters), so the
files store each weight as a strided view of a small shared random buffer:
the files stay a few MB, yet load through the same weights-only reader into
the same model classes as the real ones. Maps from tiny models are noise;
shapes, code paths and settings are real.

Command line: ``python -m app.tiny.detectors FOLDER``.
"""

from __future__ import annotations

import math
import sys
import zlib
from pathlib import Path

from app.preprocess.sources import (
    BODY_POSE_FILE,
    SUBFOLDERS,
    DetectorSources,
)
from app.tiny.common import marker_is_current, write_marker

SEED = 0
# Bump when the tiny layout changes, so stale folders are rebuilt.
TINY_VERSION = 8
_MARKER = "tiny_detectors.json"

COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


def build_tiny_detectors(root: str | Path, *, force: bool = False) -> DetectorSources:
    """Write tiny seeded-random models for every detector into ``root``.

    Deterministic (seeded) and fast (about a second); reuses a complete
    folder of the same version unless ``force``.

    Args:
        root: Folder to write (created if needed).
        force: Rebuild even if a complete folder is there.

    Returns:
        Sources pointing every detector at ``root``.
    """
    root = Path(root)
    marker = root / _MARKER
    sources = DetectorSources.from_folder(root, label="tiny")

    if not force and marker_is_current(marker, TINY_VERSION):
        return sources
    import torch

    root.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        _person_detector(root / SUBFOLDERS["person_detector"])
        torch.manual_seed(SEED + 1)
        _vitpose(root / SUBFOLDERS["vitpose"])
        torch.manual_seed(SEED + 2)
        _depth_anything(root / SUBFOLDERS["depth_anything"])
        torch.manual_seed(SEED + 3)
        _segmenter(root / SUBFOLDERS["segmenter"])
    _annotators(root / SUBFOLDERS["annotators"])
    write_marker(marker, TINY_VERSION, SEED)
    return sources


def _person_detector(folder: Path) -> None:
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessor, RTDetrResNetConfig

    backbone = RTDetrResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16, 16, 16],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
    config = RTDetrConfig(
        backbone_config=backbone,
        encoder_in_channels=[16, 16, 16],
        encoder_hidden_dim=16,
        encoder_ffn_dim=16,
        encoder_attention_heads=2,
        d_model=16,
        decoder_in_channels=[16, 16, 16],
        decoder_ffn_dim=16,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_n_points=2,
        num_queries=10,
        num_denoising=0,
        id2label={0: "person", 1: "other"},
        label2id={"person": 0, "other": 1},
    )
    RTDetrForObjectDetection(config).eval().save_pretrained(folder, safe_serialization=True)
    RTDetrImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder)


def _vitpose(folder: Path) -> None:
    from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation, VitPoseImageProcessor

    backbone = VitPoseBackboneConfig(
        image_size=[64, 48],
        patch_size=[16, 16],
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        mlp_ratio=2,
        out_indices=[1],
    )
    config = VitPoseConfig(
        backbone_config=backbone,
        num_labels=len(COCO_KEYPOINTS),
        id2label=dict(enumerate(COCO_KEYPOINTS)),
        label2id={n: i for i, n in enumerate(COCO_KEYPOINTS)},
    )
    VitPoseForPoseEstimation(config).eval().save_pretrained(folder, safe_serialization=True)
    VitPoseImageProcessor(size={"height": 64, "width": 48}).save_pretrained(folder)


def _depth_anything(folder: Path) -> None:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(
        hidden_size=16,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=32,
        patch_size=14,
        image_size=56,
        out_indices=[1, 2, 3, 4],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        patch_size=14,
        reassemble_hidden_size=16,
        neck_hidden_sizes=[8, 8, 8, 8],
        fusion_hidden_size=8,
        head_hidden_size=8,
    )
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(folder, safe_serialization=True)
    # Depth Anything's real processor settings (aspect kept, multiple of 14), at a tiny size.
    DPTImageProcessor(
        size={"height": 56, "width": 56},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        do_pad=False,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(folder)


def _segmenter(folder: Path) -> None:
    from transformers import ConvNextConfig, SegformerImageProcessor, UperNetConfig, UperNetForSemanticSegmentation

    backbone = ConvNextConfig(
        hidden_sizes=[8, 8, 8, 8], depths=[1, 1, 1, 1], out_features=["stage1", "stage2", "stage3", "stage4"]
    )
    config = UperNetConfig(
        backbone_config=backbone,
        hidden_size=8,
        pool_scales=[1, 2, 3, 6],
        use_auxiliary_head=False,
        num_labels=150,  # ADE20K's classes, as the real segmenter's head
    )
    UperNetForSemanticSegmentation(config).eval().save_pretrained(folder, safe_serialization=True)
    # The real processor (openmmlab/upernet-convnext-*: SegformerImageProcessor, ImageNet statistics) at a tiny size.
    SegformerImageProcessor(
        size={"height": 64, "width": 64},
        do_reduce_labels=False,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(folder)


def _annotators(folder: Path) -> None:
    import warnings

    import torch

    from app.preprocess.registry import annotator_files

    folder.mkdir(parents=True, exist_ok=True)
    # Every file a registered detector declares, with its real architecture and layout (random, strided weights).
    for file in annotator_files():
        with torch.device("meta"), warnings.catch_warnings():  # shapes only: nothing is allocated or initialised
            warnings.simplefilter("ignore")  # controlnet-aux's imports re-register timm models noisily
            shapes = file.network().state_dict()
        generator = torch.Generator().manual_seed(SEED + zlib.crc32(file.name.encode()))  # whatever the file order
        state = _strided_random_state(shapes, generator)
        if file.name == BODY_POSE_FILE:
            _posable_body_head(state)
        if not file.block_prefix:  # controlnet-aux's util.transfer expects names without the block prefix
            state = {".".join(k.split(".")[1:]): v for k, v in state.items()}
        if file.wrapper is not None:  # a DataParallel training checkpoint, like the real file
            state = {file.wrapper: {f"module.{k}": v for k, v in state.items()}}
        torch.save(state, folder / file.name)


def _posable_body_head(state: dict) -> None:
    """Make the random OpenPose body model find a few "people" in a photo.

    With plain random weights the part heatmaps stay below OpenPose's peak
    threshold and the map is always empty, so the grouping and drawing code
    would never run offline. A stronger heatmap head with a negative bias
    gives a few sharp peaks per part, and a constant part-affinity field
    (zero weights, bias 1) lets the real grouping code join them into people.
    """
    import torch

    heat, paf = "model6_2.Mconv7_stage6_L2", "model6_1.Mconv7_stage6_L1"
    state[f"{heat}.weight"] = state[f"{heat}.weight"] * 10.0
    state[f"{heat}.bias"] = torch.full_like(state[f"{heat}.bias"], -0.3)
    state[f"{paf}.weight"] = torch.zeros_like(state[f"{paf}.weight"])
    state[f"{paf}.bias"] = torch.ones_like(state[f"{paf}.bias"])


def _strided_random_state(shapes: dict, generator) -> dict:
    """Random weights for every tensor, each ≥2-D weight a strided view of one shared buffer per fan-in.

    Rows of a view overlap (row stride 7), so a 2 M-element weight costs a few
    KB on disk; torch.save writes each shared buffer once. Weights are scaled
    by He initialisation so activations neither vanish nor explode through
    the deep VGG-style OpenPose stages.
    """
    import torch

    buffers: dict[tuple[int, float], torch.Tensor] = {}
    state = {}
    for name, meta in shapes.items():
        shape = tuple(meta.shape)
        if meta.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            state[name] = torch.zeros(shape, dtype=meta.dtype)
        elif name.endswith("running_var"):
            state[name] = torch.ones(shape)
        elif name.endswith("running_mean"):
            state[name] = torch.zeros(shape)
        elif len(shape) < 2 and name.endswith("weight"):
            state[name] = torch.ones(shape)  # norm scales
        elif len(shape) < 2:
            state[name] = torch.randn(shape, generator=generator) * 0.01  # biases
        else:
            inner = math.prod(shape[1:])
            std = math.sqrt(2.0 / inner) if len(shape) == 4 else 0.02
            key = (inner, std)
            needed = 7 * (shape[0] - 1) + inner
            buffer = buffers.get(key)
            if buffer is None or buffer.numel() < needed:
                buffer = torch.randn(max(needed, 4096), generator=generator) * std
                buffers[key] = buffer
            strides = [7] + [math.prod(shape[i + 1 :]) for i in range(1, len(shape))]
            state[name] = buffer.as_strided(shape, strides)
    return state


def main(argv: list[str] | None = None) -> int:
    """``python -m app.tiny.detectors FOLDER``: write the tiny detector folder and print its sources."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m app.tiny.detectors FOLDER", file=sys.stderr)
        return 2
    sources = build_tiny_detectors(Path(args[0]), force=True)
    print(f"tiny detectors written to {args[0]}; use STUDIO_DETECTORS_DIR={args[0]}")
    print(sources)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
