"""``vitpose``: RT-DETR finds people, ViTPose finds their keypoints (transformers, safetensors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from app.errors import ModelLoadError
from app.preprocess.base import DetectorParams, PoseDetector
from app.preprocess.keypoints import Person
from app.preprocess.render_pose import coco17_to_openpose18


class VitPoseParams(DetectorParams):
    """Thresholds for the two stages."""

    person_threshold: float = Field(
        0.3, ge=0.0, le=1.0, description="Minimum person-detector confidence for a box to be posed."
    )
    keypoint_threshold: float = Field(0.3, ge=0.0, le=1.0, description="Keypoints below this confidence are not drawn.")
    max_people: int = Field(8, ge=1, le=20, description="At most this many people (most confident first).")


@dataclass
class _Models:
    detector_processor: Any
    detector: Any
    pose_processor: Any
    pose: Any
    person_label: int


class VitPoseDetector(PoseDetector):
    """Top-down pose: person boxes from RT-DETR, COCO-17 keypoints from ViTPose, drawn as OpenPose-18."""

    name: ClassVar[str] = "vitpose"
    label: ClassVar[str] = "ViTPose (transformers)"
    description: ClassVar[str] = "Robust body pose for several people; Apache-2.0 weights."
    Params: ClassVar[type[DetectorParams]] = VitPoseParams
    needs_model: ClassVar[bool] = True

    def source_description(self) -> str:
        return f"{self.sources.person_detector!r} + {self.sources.vitpose!r}"

    def _load(self) -> _Models:
        from transformers import AutoModelForObjectDetection, VitPoseForPoseEstimation

        det_src, pose_src = self.sources.person_detector, self.sources.vitpose
        detector = AutoModelForObjectDetection.from_pretrained(det_src, **self.sources.transformers_kwargs(det_src))
        pose = VitPoseForPoseEstimation.from_pretrained(pose_src, **self.sources.transformers_kwargs(pose_src))
        detector_processor, pose_processor = (
            self.sources.image_processor(det_src),
            self.sources.image_processor(pose_src),
        )
        labels = {int(i): str(n).lower() for i, n in detector.config.id2label.items()}
        person = [i for i, n in labels.items() if n == "person"]
        if not person:
            raise ModelLoadError(
                f"the person detector {det_src!r} has no 'person' class (labels: {list(labels.values())[:10]}); "
                "use a COCO-trained detector such as PekingU/rtdetr_r50vd_coco_o365."
            )
        place = self.placement.place
        return _Models(detector_processor, place(detector).eval(), pose_processor, place(pose).eval(), person[0])

    def _people(self, image: Image.Image, params: VitPoseParams) -> list[Person]:
        import torch

        m: _Models = self._model
        width, height = image.size
        with torch.inference_mode():
            inputs = self.placement.inputs(m.detector_processor(images=image, return_tensors="pt"))
            outputs = m.detector(**inputs)
            # Post-processing in float32 on the CPU: half-precision logits lose the thresholds' resolution.
            outputs.logits, outputs.pred_boxes = outputs.logits.float().cpu(), outputs.pred_boxes.float().cpu()
            found = m.detector_processor.post_process_object_detection(
                outputs, threshold=params.person_threshold, target_sizes=[(height, width)]
            )[0]
            keep = found["labels"] == m.person_label
            boxes, scores = found["boxes"][keep], found["scores"][keep]
            order = torch.argsort(scores, descending=True)[: params.max_people]
            boxes, scores = boxes[order].float().numpy(), scores[order].float().numpy()
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
            valid = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
            boxes, scores = boxes[valid], scores[valid]
            if len(boxes) == 0:
                return []
            coco_boxes = boxes.copy()
            coco_boxes[:, 2:] -= coco_boxes[:, :2]  # xyxy → xywh, as ViTPose expects
            pose_inputs = self.placement.inputs(m.pose_processor(images=image, boxes=[coco_boxes], return_tensors="pt"))
            pose_out = m.pose(**pose_inputs)
            pose_out.heatmaps = pose_out.heatmaps.float().cpu()
            posed = m.pose_processor.post_process_pose_estimation(pose_out, boxes=[coco_boxes])[0]
        people = []
        scale = np.array([width, height], dtype=np.float64)
        for entry, box, score in zip(posed, boxes, scores, strict=True):
            points = entry["keypoints"].float().cpu().numpy() / scale
            confidences = entry["scores"].float().cpu().numpy()
            people.append(
                Person(
                    keypoints=coco17_to_openpose18(points, confidences),
                    score=float(score),
                    box=(box[0] / width, box[1] / height, box[2] / width, box[3] / height),
                )
            )
        return people
