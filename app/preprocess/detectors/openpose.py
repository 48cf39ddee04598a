"""``openpose``: controlnet-aux's OpenPose body estimator (hands and face optional).

controlnet-aux is imported here, lazily, so a problem with it only disables
this detector and ``midas``. Its ``.pth`` files come from the pinned
``lllyasviel/Annotators`` revision or an operator's folder, read weights-only
by :mod:`app.preprocess.weights` and handed to controlnet-aux's model classes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from app.errors import ModelLoadError
from app.preprocess.base import AnnotatorFile, DetectorParams, PoseDetector
from app.preprocess.keypoints import Keypoint, Person
from app.preprocess.sources import BODY_POSE_FILE, FACE_FILE, HAND_POSE_FILE
from app.preprocess.third_party import import_controlnet_aux


class OpenposeParams(DetectorParams):
    """What to detect besides the body."""

    include_hand: bool = Field(False, description="Also detect and draw hands (slower).")
    include_face: bool = Field(False, description="Also detect and draw face landmarks (slower).")


def _model() -> Any:
    return import_controlnet_aux("open_pose.model", "openpose")


class OpenposeDetector(PoseDetector):
    """The original OpenPose body model (CMU; non-commercial licence) via controlnet-aux."""

    name: ClassVar[str] = "openpose"
    label: ClassVar[str] = "OpenPose (controlnet-aux)"
    description: ClassVar[str] = "The annotator ControlNet's pose model was trained with; non-commercial weights."
    Params: ClassVar[type[DetectorParams]] = OpenposeParams
    needs_model: ClassVar[bool] = True
    # The body and hand files name their tensors without the block prefix (controlnet-aux's util.transfer).
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = (
        AnnotatorFile(BODY_POSE_FILE, lambda: _model().bodypose_model(), block_prefix=False),
        AnnotatorFile(HAND_POSE_FILE, lambda: _model().handpose_model(), block_prefix=False),
        AnnotatorFile(FACE_FILE, lambda: import_controlnet_aux("open_pose.face", "openpose").FaceNet()),
    )

    def source_description(self) -> str:
        return repr(self.sources.annotators)

    def _load(self) -> Any:
        from app.preprocess.weights import float32_at_boundary

        open_pose = import_controlnet_aux("open_pose", self.name)
        from controlnet_aux.open_pose import body, face, hand, util

        # Subclasses that take a ready model: controlnet-aux's own constructors
        # would read the file with a bare torch.load.
        class _Body(body.Body):
            def __init__(self, net: Any) -> None:
                self.model = net

        class _Hand(hand.Hand):
            def __init__(self, net: Any) -> None:
                self.model = net

        class _Face(face.Face):
            def __init__(self, net: Any) -> None:
                self.inference_size = face.params["inference_img_size"]
                self.sigma = face.params["gaussian_sigma"]
                self.threshold = face.params["heatmap_peak_thresh"]
                self.model = net

        def build(file: AnnotatorFile) -> Any:
            def with_block_prefix(net: Any, weights: dict) -> dict:  # body/hand files name tensors without it
                try:
                    return util.transfer(net, weights)
                except KeyError as exc:
                    raise ModelLoadError(f"{file.name} lacks the tensor {exc}; is it the real {file.name}?") from None

            # controlnet-aux feeds float32 inputs and reads float32 outputs: cast at the model's boundary.
            adapt = None if file.block_prefix else with_block_prefix
            return float32_at_boundary(self._annotator_network(file, adapt))

        body_file, hand_file, face_file = self.annotator_files
        return {
            "detector": open_pose.OpenposeDetector(_Body(build(body_file))),
            "hand_factory": lambda: _Hand(build(hand_file)),
            "face_factory": lambda: _Face(build(face_file)),
        }

    def _ensure_extras(self, params: OpenposeParams) -> Any:
        # Hand and face models (~75 M parameters) load only when first asked for.
        models = self._model
        detector = models["detector"]
        with self._load_lock:
            if params.include_hand and detector.hand_estimation is None:
                detector.hand_estimation = models["hand_factory"]()
            if params.include_face and detector.face_estimation is None:
                detector.face_estimation = models["face_factory"]()
        return detector

    def _people(self, image: Image.Image, params: OpenposeParams) -> list[Person]:
        import torch

        detector = self._ensure_extras(params)
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        height, width = bgr.shape[:2]
        with torch.inference_mode():
            candidate, subset = detector.body_estimation(bgr)
            bodies = detector.body_estimation.format_body_result(candidate, subset)
            people = []
            for found in bodies:
                keypoints = tuple(
                    Keypoint(float(k.x) / width, float(k.y) / height, float(k.score))
                    if k is not None
                    else Keypoint(0.0, 0.0, 0.0)
                    for k in found.keypoints
                )
                hands: tuple = ()
                face_points: tuple = ()
                if params.include_hand:
                    hands = tuple(_normalised(h) for h in detector.detect_hands(found, bgr) if h is not None)
                if params.include_face:
                    detected = detector.detect_face(found, bgr)
                    face_points = _normalised(detected) if detected is not None else ()
                score = float(found.total_score) / max(float(found.total_parts), 1.0)
                people.append(Person(keypoints=keypoints, score=score, hands=hands, face=face_points))
        return people


def _normalised(points: Any) -> tuple[Keypoint, ...]:
    # controlnet-aux marks missing hand/face points with negative coordinates.
    return tuple(Keypoint(float(p.x), float(p.y), 1.0 if p.x >= 0 and p.y >= 0 else 0.0) for p in points)
