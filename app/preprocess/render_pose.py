"""Draw people as OpenPose-18 skeletons: the format ``control_v11p_sd15_openpose`` was trained on.

Keypoint order (OpenPose COCO-18)::

    0 nose, 1 neck, 2 r_shoulder, 3 r_elbow, 4 r_wrist, 5 l_shoulder,
    6 l_elbow, 7 l_wrist, 8 r_hip, 9 r_knee, 10 r_ankle, 11 l_hip,
    12 l_knee, 13 l_ankle, 14 r_eye, 15 l_eye, 16 r_ear, 17 l_ear

Limbs are filled ellipses in the limb colour at 60 % brightness, joints are
discs of radius 4 in full colour, on black — the same drawing as
controlnet-aux's ``draw_bodypose`` (so maps from either pose detector look
alike to the ControlNet). Hands and the face are drawn as controlnet-aux does.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from app.preprocess.keypoints import Keypoint, Person

# Pairs of keypoint indices (0-based) joined by a limb, in OpenPose drawing order.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
# The standard OpenPose colours (RGB), one per keypoint and one per limb.
COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
STICK_WIDTH = 4
JOINT_RADIUS = 4
LIMB_BRIGHTNESS = 0.6

# COCO-17 (ViTPose, RT-Pose, most detectors) → OpenPose-18; None is the neck.
COCO_TO_OPENPOSE = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)

HAND_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10),
    (10, 11), (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip


def coco17_to_openpose18(points: np.ndarray, scores: np.ndarray) -> tuple[Keypoint, ...]:
    """Reorder COCO-17 keypoints to OpenPose-18, adding the neck as the shoulder midpoint.

    Args:
        points: ``(17, 2)`` normalised x, y.
        scores: ``(17,)`` confidences.

    Returns:
        18 keypoints; the neck's score is the lower of the two shoulders'.
    """
    out = []
    for coco in COCO_TO_OPENPOSE:
        if coco is None:
            (lx, ly), (rx, ry) = points[5], points[6]
            out.append(Keypoint((lx + rx) / 2.0, (ly + ry) / 2.0, float(min(scores[5], scores[6]))))
        else:
            out.append(Keypoint(float(points[coco][0]), float(points[coco][1]), float(scores[coco])))
    return tuple(out)


def _pixel(k: Keypoint, width: int, height: int) -> tuple[int, int]:
    return int(k.x * width), int(k.y * height)


def draw_body(canvas: np.ndarray, keypoints: Sequence[Keypoint], threshold: float = 0.0) -> np.ndarray:
    """Draw one OpenPose-18 body on an RGB canvas in place, skipping keypoints scored at or below ``threshold``."""
    height, width = canvas.shape[:2]
    present = [k.score > threshold for k in keypoints]
    for (a, b), color in zip(LIMBS, COLORS[: len(LIMBS)], strict=True):
        if not (present[a] and present[b]):
            continue
        ka, kb = keypoints[a], keypoints[b]
        xs = np.array([ka.x, kb.x]) * width
        ys = np.array([ka.y, kb.y]) * height
        length = math.hypot(xs[0] - xs[1], ys[0] - ys[1])
        angle = math.degrees(math.atan2(ys[0] - ys[1], xs[0] - xs[1]))
        polygon = cv2.ellipse2Poly(
            (int(xs.mean()), int(ys.mean())), (int(length / 2), STICK_WIDTH), int(angle), 0, 360, 1
        )
        cv2.fillConvexPoly(canvas, polygon, [int(c * LIMB_BRIGHTNESS) for c in color])
    for keypoint, color, ok in zip(keypoints, COLORS, present, strict=True):
        if ok:
            cv2.circle(canvas, _pixel(keypoint, width, height), JOINT_RADIUS, color, thickness=-1)
    return canvas


def draw_hand(canvas: np.ndarray, keypoints: Sequence[Keypoint], threshold: float = 0.0) -> np.ndarray:
    """Draw one 21-point hand as controlnet-aux does (HSV-coloured bones, blue joints)."""
    height, width = canvas.shape[:2]
    for i, (a, b) in enumerate(HAND_EDGES):
        ka, kb = keypoints[a], keypoints[b]
        if ka.score > threshold and kb.score > threshold:
            color = [int(c * 255) for c in colorsys.hsv_to_rgb(i / len(HAND_EDGES), 1.0, 1.0)]
            cv2.line(canvas, _pixel(ka, width, height), _pixel(kb, width, height), color, thickness=2)
    for k in keypoints:
        if k.score > threshold:
            cv2.circle(canvas, _pixel(k, width, height), 4, (0, 0, 255), thickness=-1)
    return canvas


def draw_face(canvas: np.ndarray, keypoints: Sequence[Keypoint], threshold: float = 0.0) -> np.ndarray:
    """Draw face landmarks as small white dots, as controlnet-aux does."""
    height, width = canvas.shape[:2]
    for k in keypoints:
        if k.score > threshold:
            cv2.circle(canvas, _pixel(k, width, height), 3, (255, 255, 255), thickness=-1)
    return canvas


def render_people(people: Sequence[Person], width: int, height: int, threshold: float = 0.0) -> Image.Image:
    """Draw every person (body, then hands and face where present) on a black RGB canvas.

    Args:
        people: People with OpenPose-18 keypoints normalised to 0–1.
        width: Canvas width in pixels.
        height: Canvas height in pixels.
        threshold: Keypoints with a score at or below this are not drawn.

    Returns:
        An RGB image of ``(width, height)``.
    """
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for person in people:
        draw_body(canvas, person.keypoints, threshold)
        for hand in person.hands:
            draw_hand(canvas, hand, threshold)
        if person.face:
            draw_face(canvas, person.face, threshold)
    return Image.fromarray(canvas, mode="RGB")
