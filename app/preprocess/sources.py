"""Where every detector model comes from: configuration, never a code branch.

The real defaults are Hub repositories. Each can be overridden by an
environment variable (a Hub id or a local folder), or everything can be
pointed at one local folder with the standard layout::

    ROOT/person_detector/   RT-DETR (transformers, safetensors)
    ROOT/vitpose/           ViTPose (transformers, safetensors)
    ROOT/depth_anything/    Depth Anything (transformers, safetensors)
    ROOT/segmenter/         UperNet ADE20K segmenter (transformers, safetensors)
    ROOT/annotators/        controlnet-aux files with their real names
                            (body_pose_model.pth, hand_pose_model.pth,
                            facenet.pth, dpt_hybrid-midas-501f0c75.pt)

:func:`app.tiny.detectors.build_tiny_detectors` writes such a folder with
tiny seeded-random models, so every detector also runs offline.

Environment variables: ``STUDIO_DETECTORS_DIR`` (a folder with the layout
above), ``STUDIO_POSE_DETECTOR_MODEL``, ``STUDIO_POSE_MODEL``,
``STUDIO_DEPTH_MODEL``, ``STUDIO_SEG_MODEL`` and ``STUDIO_ANNOTATORS`` (the pinned repository or a
local folder). ``HF_HUB_OFFLINE`` is honoured by huggingface_hub itself: only the local Hub cache is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.errors import ModelLoadError, StudioError, offline_hint

PERSON_DETECTOR_MODEL = "PekingU/rtdetr_r50vd_coco_o365"
VITPOSE_MODEL = "usyd-community/vitpose-base-simple"
DEPTH_ANYTHING_MODEL = "depth-anything/Depth-Anything-V2-Small-hf"
# UperNet + ConvNeXt-T on ADE20K's 150 classes (MIT; the model card ControlNet 1.1's seg example uses, its smallest
# size; its main branch serves model.safetensors).
SEGMENTER_MODEL = "openmmlab/upernet-convnext-tiny"
# controlnet-aux annotators are pickled .pth files: only this repository at this
# commit (or an operator's local folder) is trusted, and even then they load weights-only.
ANNOTATORS_REPO = "lllyasviel/Annotators"
ANNOTATORS_REVISION = "982e7edaec38759d914a963c48c4726685de7d96"

# Real file names in lllyasviel/Annotators, as controlnet-aux 0.0.10 expects them.
BODY_POSE_FILE = "body_pose_model.pth"
HAND_POSE_FILE = "hand_pose_model.pth"
FACE_FILE = "facenet.pth"
MIDAS_FILE = "dpt_hybrid-midas-501f0c75.pt"
HED_FILE = "ControlNetHED.pth"  # ControlNet 1.1's HED (Apache-2.0 reimplementation), ControlNet++'s soft-edge scorer
MLSD_FILE = "mlsd_large_512_fp32.pth"  # M-LSD large (Apache-2.0), ControlNet 1.1's straight-line annotator
NORMAL_FILE = "scannet.pt"  # Bae et al.'s surface normals (MIT), ControlNet 1.1's normal annotator
# Each detector declares the files it reads (``Detector.annotator_files``); the Hub file list and the tiny twins
# follow those declarations (``app.preprocess.registry.annotator_files``), so a new file is named in its detector.

SUBFOLDERS = {
    "person_detector": "person_detector",
    "vitpose": "vitpose",
    "depth_anything": "depth_anything",
    "segmenter": "segmenter",
    "annotators": "annotators",
}

HOW_TO_GO_OFFLINE = offline_hint(
    "point STUDIO_DETECTORS_DIR at a local folder holding the models "
    "(`python -m app.tiny.detectors FOLDER` writes a tiny offline set)"
)


@dataclass(frozen=True)
class DetectorSources:
    """Where each detector loads its weights from.

    Attributes:
        person_detector: RT-DETR person detector (Hub id or folder) for ViTPose.
        vitpose: ViTPose keypoint model (Hub id or folder).
        depth_anything: Depth Anything model (Hub id or folder).
        segmenter: The ADE20K semantic segmenter (Hub id or folder).
        annotators: ``lllyasviel/Annotators`` or a local folder holding its files.
        annotators_revision: The pinned commit of ``lllyasviel/Annotators``.
        revision: Optional revision for the transformers models (None: default branch).
        cache_dir: Hub cache folder (None: the Hub's default).
        local_files_only: Never contact the Hub; use cached or local files only.
        label: A short name for messages (``real``, ``tiny`` or ``local``).
    """

    person_detector: str = PERSON_DETECTOR_MODEL
    vitpose: str = VITPOSE_MODEL
    depth_anything: str = DEPTH_ANYTHING_MODEL
    segmenter: str = SEGMENTER_MODEL
    annotators: str = ANNOTATORS_REPO
    annotators_revision: str = ANNOTATORS_REVISION
    revision: str | None = None
    cache_dir: str | None = None
    local_files_only: bool = False
    label: str = "real"

    def __post_init__(self) -> None:
        # Pickled annotators are trusted from one repository only; anything else must be a local path.
        path = Path(self.annotators)
        if self.annotators != ANNOTATORS_REPO and not (path.is_absolute() or path.exists()):
            raise StudioError(
                f"annotators source {self.annotators!r} is not allowed; use {ANNOTATORS_REPO!r} "
                "(pinned revision) or an absolute path to a local folder."
            )

    @classmethod
    def from_folder(cls, root: str | Path, label: str = "local") -> DetectorSources:
        """Sources that load every detector from one local folder (layout in the module docstring).

        Args:
            root: The folder.
            label: Name used in messages.

        Returns:
            Sources with every entry inside ``root``; nothing is downloaded.
        """
        root = Path(root)
        return cls(
            person_detector=str(root / SUBFOLDERS["person_detector"]),
            vitpose=str(root / SUBFOLDERS["vitpose"]),
            depth_anything=str(root / SUBFOLDERS["depth_anything"]),
            segmenter=str(root / SUBFOLDERS["segmenter"]),
            annotators=str(root / SUBFOLDERS["annotators"]),
            local_files_only=True,
            label=label,
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DetectorSources:
        """Sources read from the environment (see the module docstring).

        Args:
            environ: Mapping to read instead of ``os.environ`` (tests).

        Returns:
            The configured sources; the real Hub defaults where nothing is set.
        """
        env = os.environ if environ is None else environ
        folder = env.get("STUDIO_DETECTORS_DIR", "").strip()
        sources = cls.from_folder(folder) if folder else cls()
        overrides = {
            "person_detector": env.get("STUDIO_POSE_DETECTOR_MODEL", "").strip(),
            "vitpose": env.get("STUDIO_POSE_MODEL", "").strip(),
            "depth_anything": env.get("STUDIO_DEPTH_MODEL", "").strip(),
            "segmenter": env.get("STUDIO_SEG_MODEL", "").strip(),
            "annotators": env.get("STUDIO_ANNOTATORS", "").strip(),
        }
        overrides = {k: v for k, v in overrides.items() if v}
        return replace(sources, **overrides) if overrides else sources

    def image_processor(self, source: str) -> Any:
        """The image processor saved beside a transformers model (a JSON file: no weights, so no safetensors flag)."""
        from transformers import AutoImageProcessor

        kwargs = {k: v for k, v in self.transformers_kwargs(source).items() if k != "use_safetensors"}
        return AutoImageProcessor.from_pretrained(source, **kwargs)

    def transformers_kwargs(self, source: str) -> dict:
        """Keyword arguments for ``from_pretrained``: safetensors only, never remote code."""
        kwargs: dict = {"use_safetensors": True, "trust_remote_code": False}
        if not Path(source).is_dir():
            if self.revision:
                kwargs["revision"] = self.revision
            if self.cache_dir:
                kwargs["cache_dir"] = self.cache_dir
            if self.local_files_only:
                kwargs["local_files_only"] = True
        return kwargs

    def annotator_file(self, filename: str) -> Path:
        """The local path of a controlnet-aux annotator file, downloading it at the pinned revision.

        Args:
            filename: The file's real name in ``lllyasviel/Annotators``.

        Returns:
            An existing local file.

        Raises:
            ModelLoadError: The file is missing from the local folder or cannot be downloaded.
        """
        folder = Path(self.annotators)
        if self.annotators != ANNOTATORS_REPO:
            path = folder / filename
            if not path.is_file():
                raise ModelLoadError(
                    f"annotator file {filename!r} is missing from {str(folder)!r}; that folder must hold the "
                    f"files of {ANNOTATORS_REPO} with their real names. {HOW_TO_GO_OFFLINE}"
                )
            return path
        from huggingface_hub import hf_hub_download

        try:
            return Path(
                hf_hub_download(
                    ANNOTATORS_REPO,
                    filename,
                    revision=self.annotators_revision,
                    cache_dir=self.cache_dir,
                    local_files_only=self.local_files_only,
                )
            )
        except Exception as exc:
            raise ModelLoadError(
                f"could not fetch {filename!r} from {ANNOTATORS_REPO}@{self.annotators_revision[:10]} "
                f"({type(exc).__name__}: {str(exc)[:200]}). {HOW_TO_GO_OFFLINE}"
            ) from exc
