"""Pure liveness cues: numbers from landmarks and pixels, no state and no thresholds on verdicts.

* ``eye_aspect_ratio``: Soukupova & Cech (CVWW 2016) on the MediaPipe mesh; a blink is a dip of
  the ratio below the track's own open-eye level. Stops still photos, not video replays.
* ``planar_residual``: how far the mesh's motion between two frames is from one homography
  (a flat photo or screen moves as a plane; a real head turning shows parallax). Only meaningful
  when the face moved enough, which ``mesh_motion`` measures.
* ``border_score``: straight edges framing the face on both sides (a phone, tablet or print held
  up), from one frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from sputnik_edge.vision.types import FloatArray, ImageArray

__all__ = [
    "border_score",
    "deformation",
    "eye_aspect_ratio",
    "mesh_motion",
    "planar_residual",
]

# MediaPipe face-mesh indices: p1..p6 of the EAR formula per eye (outer corner, two upper lid
# points, inner corner, two lower lid points), and points spread over the face for motion fits.
_RIGHT_EYE = (33, 160, 158, 133, 153, 144)
_LEFT_EYE = (362, 385, 387, 263, 373, 380)
# Nose tip and bridge, cheeks, jaw and forehead: far apart in depth, which is what parallax needs.
RIGID_POINTS = (
    1,
    4,
    6,
    168,
    197,
    5,
    10,
    152,
    234,
    454,
    93,
    323,
    132,
    361,
    58,
    288,
    33,
    263,
    133,
    362,
    61,
    291,
    199,
    9,
)


def eye_aspect_ratio(points: FloatArray) -> float:
    """Mean EAR of both eyes: lid opening over eye width (~0.25-0.35 open, < 0.15 closed)."""

    def one(idx: tuple[int, ...]) -> float:
        p = points[list(idx), :2]
        width = float(np.linalg.norm(p[0] - p[3]))
        opening = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
        return opening / (2.0 * width) if width > 1e-6 else 0.0

    return (one(_RIGHT_EYE) + one(_LEFT_EYE)) / 2.0


def _face_size(points: FloatArray) -> float:
    xy = points[:, :2]
    return max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1.0)


def mesh_motion(prev: FloatArray, cur: FloatArray) -> float:
    """Mean displacement of the rigid points between two frames, in face sizes."""
    idx = list(RIGID_POINTS)
    d = np.linalg.norm(cur[idx, :2] - prev[idx, :2], axis=1)
    return float(np.mean(d) / _face_size(cur))


def _fit_residual(a: np.ndarray, b: np.ndarray, model: str) -> float:
    if model == "homography":
        h, _ = cv2.findHomography(a, b, 0)
        if h is None:
            return 0.0
        proj = cv2.perspectiveTransform(a[None], h)[0]
    else:
        m, _ = cv2.estimateAffinePartial2D(a, b, method=cv2.LMEDS)
        if m is None:
            return 0.0
        proj = a @ m[:, :2].T + m[:, 2]
    return float(np.sqrt(np.mean(np.sum((proj - b) ** 2, axis=1))))


def deformation(prev: FloatArray, cur: FloatArray) -> float:
    """RMS distance of the rigid points from the best similarity (shift, turn in the image
    plane, scale) prev -> cur, in face sizes: the part of the motion only a 3-D turn explains.
    A face that only slides or comes closer has none, so it says nothing about flatness."""
    idx = list(RIGID_POINTS)
    a, b = prev[idx, :2].astype(np.float64), cur[idx, :2].astype(np.float64)
    return _fit_residual(a, b, "similarity") / _face_size(cur)


def planar_residual(prev: FloatArray, cur: FloatArray) -> float:
    """RMS distance of the rigid points from the best homography prev -> cur, in face sizes.

    A least-squares fit (no RANSAC): with the landmark model's jitter every point counts, and a
    robust fit would explain the nose's parallax away as an outlier.
    """
    idx = list(RIGID_POINTS)
    a, b = prev[idx, :2].astype(np.float64), cur[idx, :2].astype(np.float64)
    return _fit_residual(a, b, "homography") / _face_size(cur)


def border_score(grey: ImageArray, bbox: tuple[float, float, float, float]) -> float:
    """0..1: long straight edges left and right of the face that enclose it like a frame.

    1 means an edge on both sides, each at least as long as the face is tall and overlapping it,
    within two face widths; half of it counts one side only.
    """
    h, w = grey.shape[:2]
    x1, y1, x2, y2 = bbox
    bw, bh = x2 - x1, y2 - y1
    a, b = int(max(0, x1 - 2.0 * bw)), int(max(0, y1 - 1.2 * bh))
    c, d = int(min(w, x2 + 2.0 * bw)), int(min(h, y2 + 1.5 * bh))
    if c - a < 8 or d - b < 8:
        return 0.0
    roi = grey[b:d, a:c]
    edges = cv2.Canny(cv2.GaussianBlur(roi, (5, 5), 0), 40, 120)
    lines = cv2.HoughLinesP(
        edges,
        1,
        np.pi / 180,
        threshold=int(bh * 0.5),
        minLineLength=int(bh * 0.9),
        maxLineGap=int(max(3, bh * 0.08)),
    )
    if lines is None:
        return 0.0
    left = right = False
    for lx1, ly1, lx2, ly2 in lines.reshape(-1, 4):
        gx1, gx2, gy1, gy2 = lx1 + a, lx2 + a, ly1 + b, ly2 + b
        if abs(gx2 - gx1) > 0.27 * abs(gy2 - gy1):  # more than ~15 degrees off vertical
            continue
        top, bottom = min(gy1, gy2), max(gy1, gy2)
        if bottom < y1 + 0.3 * bh or top > y2 - 0.3 * bh:  # must run alongside the face
            continue
        x = (gx1 + gx2) / 2
        if x1 - 1.6 * bw < x < x1 + 0.05 * bw:
            left = True
        elif x2 - 0.05 * bw < x < x2 + 1.6 * bw:
            right = True
    return 0.5 * left + 0.5 * right
