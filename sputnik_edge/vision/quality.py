"""Quality gate for one detected face: size, sharpness, pose, exposure, detector confidence, border.

Pose comes from the 5 landmarks only, so it is a rough weak-perspective estimate (see
``estimate_pose``): good enough to reject profiles and strong nods, not a head-pose model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from sputnik_edge.vision.types import Detection, Quality

FACE_TOO_SMALL = "face_too_small"
BLURRY = "blurry"
POSE_YAW = "pose_yaw"
POSE_PITCH = "pose_pitch"
TOO_DARK = "too_dark"
TOO_BRIGHT = "too_bright"
LOW_DET_SCORE = "low_det_score"
PARTIAL_FACE = "partial_face"
REASONS = (FACE_TOO_SMALL, BLURRY, POSE_YAW, POSE_PITCH, TOO_DARK, TOO_BRIGHT, LOW_DET_SCORE, PARTIAL_FACE)

# Face proportions for the pose approximation, relative to half the inter-ocular distance (yaw) and
# the eye-to-mouth height (pitch): how far the nose tip stands in front of the eye/mouth plane.
_NOSE_DEPTH_YAW = 0.75
_NOSE_DEPTH_PITCH = 0.35
# Where YuNet puts the nose tip between the eye line (0) and the mouth line (1) on frontal faces:
# the median over the frontal dev photos (the ArcFace template itself gives 0.495).
_NOSE_T_FRONTAL = 0.56


@dataclass(frozen=True, slots=True)
class QualityLimits:
    min_face_px: float = 40.0  # shorter side of the detector box
    # Variance of the Laplacian on the grey 112x112 aligned crop. Sharp dev photos measure ~200-2000;
    # the same faces blurred with a 7x7 Gaussian (sigma ~1.5 at crop scale) fall under ~40.
    min_blur: float = 60.0
    max_yaw_deg: float = 40.0
    max_pitch_deg: float = 35.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    min_det_score: float = 0.6
    # A landmark closer to the image border than max(edge_margin_px, edge_margin_iod * eye distance)
    # marks a cut-off face (see is_partial).
    edge_margin_px: float = 1.0
    edge_margin_iod: float = 0.35

    def __post_init__(self) -> None:
        if self.min_brightness >= self.max_brightness:
            raise ValueError(
                f"quality limits: min_brightness {self.min_brightness} must be below max_brightness "
                f"{self.max_brightness}"
            )
        for name in (
            "min_face_px",
            "min_blur",
            "max_yaw_deg",
            "max_pitch_deg",
            "edge_margin_px",
            "edge_margin_iod",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"quality limits: {name} must be >= 0, got {getattr(self, name)}")


def estimate_pose(landmarks: npt.ArrayLike) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from right eye, left eye, nose, right and left mouth corner.

    Roll is the eye line's angle. After undoing roll, yaw treats the nose tip as a point
    ``_NOSE_DEPTH_YAW`` half-eye-distances in front of the face plane: its sideways offset from the
    face midline (through the eye and mouth midpoints) is depth*sin(yaw) against half-eye-distance
    * cos(yaw). Pitch does the same vertically with the nose's position between eye and mouth lines.
    Positive yaw: nose toward larger x in the image; positive pitch: face tilted up.
    """
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    r_eye, l_eye, nose, r_mouth, l_mouth = pts
    dx, dy = l_eye - r_eye
    roll = math.degrees(math.atan2(dy, dx))
    c, s = math.cos(-math.radians(roll)), math.sin(-math.radians(roll))
    rot = np.array([[c, -s], [s, c]])
    p = (pts - pts[:2].mean(axis=0)) @ rot.T
    r_eye, l_eye, nose, r_mouth, l_mouth = p
    half_iod = max(abs(l_eye[0] - r_eye[0]) / 2.0, 1e-6)
    eye_mid = (r_eye + l_eye) / 2.0
    mouth_mid = (r_mouth + l_mouth) / 2.0
    height = mouth_mid[1] - eye_mid[1]
    if abs(height) < 1e-6:
        height = 1e-6
    t = (nose[1] - eye_mid[1]) / height
    midline_x = eye_mid[0] + (mouth_mid[0] - eye_mid[0]) * t
    yaw = math.degrees(math.atan((nose[0] - midline_x) / (half_iod * _NOSE_DEPTH_YAW)))
    pitch = math.degrees(math.atan((_NOSE_T_FRONTAL - t) / _NOSE_DEPTH_PITCH))
    return yaw, pitch, roll


def blur_score(aligned_bgr: npt.NDArray[np.uint8]) -> float:
    grey = cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY) if aligned_bgr.ndim == 3 else aligned_bgr
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def is_partial(det: Detection, image_shape: tuple[int, ...], margin_px: float, margin_iod: float) -> bool:
    """True when a landmark lies outside the image or too close to its border.

    The box is deliberately not used: YuNet draws a whole-face box even for a half face, and on
    tight crops (150x150 aligned photos, LFW-like frames) the box routinely overhangs the border
    by ~7% while the face is complete, the same overhang as on a half-face crop. The landmarks
    separate them: on the dev half-face crops an eye sits 0.12-0.27 eye-distances from the cut,
    on complete tight crops every landmark keeps >= 0.49 eye-distances from the border.
    """
    h, w = image_shape[0], image_shape[1]
    lm = np.asarray(det.landmarks, dtype=np.float64).reshape(-1, 2)
    iod = float(np.linalg.norm(lm[1] - lm[0]))
    margin = max(margin_px, margin_iod * iod)
    return bool(
        np.any(lm[:, 0] < margin)
        or np.any(lm[:, 1] < margin)
        or np.any(lm[:, 0] > w - margin)
        or np.any(lm[:, 1] > h - margin)
    )


def _ramp(value: float, floor: float) -> float:
    """0 at or below ``floor``'s half, 1 from twice ``floor``: a soft version of a hard limit."""
    if floor <= 0:
        return 1.0
    return float(np.clip((value - floor / 2) / (floor * 1.5), 0.0, 1.0))


def assess(
    det: Detection,
    aligned: npt.NDArray[np.uint8],
    image_shape: tuple[int, ...],
    limits: QualityLimits | None = None,
) -> Quality:
    """Verdict for one face: ``aligned`` is its 112x112 crop, ``image_shape`` the frame's shape."""
    lim = limits or QualityLimits()
    if aligned.ndim not in (2, 3) or aligned.dtype != np.uint8:
        raise ValueError(f"aligned crop must be a uint8 image, got {aligned.dtype} {aligned.shape}")
    size = float(min(det.width, det.height))
    blur = blur_score(aligned)
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY) if aligned.ndim == 3 else aligned
    brightness = float(grey.mean())
    yaw, pitch, roll = estimate_pose(det.landmarks)

    reasons: list[str] = []
    if size < lim.min_face_px:
        reasons.append(FACE_TOO_SMALL)
    if blur < lim.min_blur:
        reasons.append(BLURRY)
    if abs(yaw) > lim.max_yaw_deg:
        reasons.append(POSE_YAW)
    if abs(pitch) > lim.max_pitch_deg:
        reasons.append(POSE_PITCH)
    if brightness < lim.min_brightness:
        reasons.append(TOO_DARK)
    if brightness > lim.max_brightness:
        reasons.append(TOO_BRIGHT)
    if det.score < lim.min_det_score:
        reasons.append(LOW_DET_SCORE)
    if is_partial(det, image_shape, lim.edge_margin_px, lim.edge_margin_iod):
        reasons.append(PARTIAL_FACE)

    mid = (lim.min_brightness + lim.max_brightness) / 2
    half = (lim.max_brightness - lim.min_brightness) / 2
    factors = (
        float(np.clip(det.score, 0.0, 1.0)),
        _ramp(size, lim.min_face_px),
        _ramp(blur, lim.min_blur),
        max(0.0, 1.0 - abs(yaw) / 90.0),
        max(0.0, 1.0 - abs(pitch) / 90.0),
        float(np.clip(1.0 - (abs(brightness - mid) / half) ** 2, 0.0, 1.0)) if half > 0 else 1.0,
    )
    score = float(np.prod(factors))
    if reasons:
        # A rejected face must never outrank an accepted one of the same track.
        score *= 0.5
    return Quality(
        ok=not reasons,
        reasons=tuple(reasons),
        face_size=size,
        blur=blur,
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        brightness=brightness,
        score=score,
    )
