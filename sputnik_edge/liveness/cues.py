"""Pure liveness cues: numbers from landmarks and pixels, no state and no thresholds on verdicts.

* ``eye_aspect_ratio``: Soukupova & Cech (CVWW 2016) on the MediaPipe mesh; a blink is a dip of
  the ratio below the track's own open-eye level. Stops still photos, not video replays.
* ``planarity``: whether the face's texture moves between two frames as one plane (a photo or
  a screen) or with parallax (a real head); De Marsico et al. (ICB 2012) do it on landmarks,
  here on tracked corners, which the mesh model's jitter would otherwise drown. Only votes when
  the face turned enough.
* ``border_score``: straight edges framing the face on both sides (a phone, tablet or print held
  up), from one frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sputnik_edge.vision.types import FloatArray, ImageArray

__all__ = ["Border", "Planarity", "border", "border_score", "eye_aspect_ratio", "planarity"]

# MediaPipe face-mesh indices: p1..p6 of the EAR formula per eye (outer corner, two upper lid
# points, inner corner, two lower lid points).
_RIGHT_EYE = (33, 160, 158, 133, 153, 144)
_LEFT_EYE = (362, 385, 387, 263, 373, 380)


def eye_aspect_ratio(points: FloatArray) -> float:
    """Mean EAR of both eyes: lid opening over eye width (~0.25-0.35 open, < 0.15 closed)."""

    def one(idx: tuple[int, ...]) -> float:
        p = points[list(idx), :2]
        width = float(np.linalg.norm(p[0] - p[3]))
        opening = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
        return opening / (2.0 * width) if width > 1e-6 else 0.0

    return (one(_RIGHT_EYE) + one(_LEFT_EYE)) / 2.0


@dataclass(frozen=True, slots=True)
class Planarity:
    """How the face's texture moved between two frames (``planarity``)."""

    deformation: float  # median distance from the best similarity, in face widths
    ratio: float  # median distance from the best homography over ``deformation``
    points: int


def _fit_residuals(a: np.ndarray, b: np.ndarray, model: str) -> np.ndarray | None:
    # RANSAC: a feature on a hair edge or at the face's outline slides; one outlier must not
    # decide for the whole face.
    if model == "homography":
        h, _ = cv2.findHomography(a, b, cv2.RANSAC, 1.0)
        if h is None:
            return None
        proj = cv2.perspectiveTransform(a[None], h)[0]
    else:
        m, _ = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=1.0)
        if m is None:
            return None
        proj = a @ m[:, :2].T + m[:, 2]
    return np.asarray(np.linalg.norm(proj - b, axis=1))


def planarity(
    prev_grey: ImageArray, grey: ImageArray, bbox: tuple[float, float, float, float], min_points: int = 15
) -> Planarity | None:
    """Track corners inside the face from the previous frame and compare two motion models.

    A flat photo or screen moves as a plane: one homography explains every point to tracking
    noise, so ``ratio`` (homography residual over similarity residual) is small when the face
    turned. A real head shows parallax (nose against cheeks) that no homography removes: the
    ratio stays near 1. ``deformation`` says whether there was enough 3-D motion to judge at
    all. None when too few points could be tracked both ways.
    """
    x1, y1, x2, y2 = bbox
    w = x2 - x1
    if w <= 1:
        return None
    # Work on a crop around the face: corners and flow of the whole frame would cost ~5x more.
    h_img, w_img = grey.shape[:2]
    a, b = int(max(0, x1 - 0.3 * w)), int(max(0, y1 - 0.3 * w))
    c, d = int(min(w_img, x2 + 0.3 * w)), int(min(h_img, y2 + 0.3 * w))
    if c - a < 16 or d - b < 16:
        return None
    prev_roi, roi = np.ascontiguousarray(prev_grey[b:d, a:c]), np.ascontiguousarray(grey[b:d, a:c])
    cx, cy, hw, hh = (
        (x1 + x2) / 2 - a,
        (y1 + y2) / 2 - b,
        0.4 * w,
        0.4 * (y2 - y1),
    )  # inner 80 %: no background
    mask = np.zeros(roi.shape[:2], np.uint8)
    mask[int(max(0, cy - hh)) : int(max(0, cy + hh)), int(max(0, cx - hw)) : int(max(0, cx + hw))] = 255
    pts = cv2.goodFeaturesToTrack(prev_roi, maxCorners=120, qualityLevel=0.01, minDistance=4, mask=mask)
    if pts is None or len(pts) < min_points:
        return None
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev_roi, roi, pts, pts.copy(), winSize=(15, 15), maxLevel=2)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(roi, prev_roi, nxt, np.copy(nxt), winSize=(15, 15), maxLevel=2)
    # Forward-backward check: keep only points tracked to the same place both ways.
    good = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back - pts, axis=2).ravel() < 0.5)
    src, dst = pts.reshape(-1, 2)[good].astype(np.float64), nxt.reshape(-1, 2)[good].astype(np.float64)
    if len(src) < min_points:
        return None
    rs, rh = _fit_residuals(src, dst, "similarity"), _fit_residuals(src, dst, "homography")
    if rs is None or rh is None:
        return None
    sim, hom = float(np.median(rs)), float(np.median(rh))
    return Planarity(sim / w, hom / max(sim, 1e-9), len(src))


@dataclass(frozen=True, slots=True)
class Border:
    """The straight edges framing a face in one frame (``border``), in image x pixels."""

    left: float | None  # the vertical edge nearest the face on its left, if any
    right: float | None
    closed: bool  # a horizontal edge above or below the face joins the two sides as well
    lefts: tuple[float, ...] = ()  # every vertical edge found on the left (a bar has two)
    rights: tuple[float, ...] = ()

    @property
    def score(self) -> float:
        return 0.5 * (self.left is not None) + 0.5 * (self.right is not None)


def border(grey: ImageArray, bbox: tuple[float, float, float, float]) -> Border:
    """Long straight edges left and right of the face that enclose it like a frame.

    A side counts with an edge at least as long as the face is tall, overlapping it, within 1.6
    face widths; ``closed`` needs a horizontal edge above or below the face as wide as the face
    that reaches both sides' edges. One frame cannot tell a held phone from a door frame or a
    window's mullions beside the head: the track compares frames (``state``).
    """
    none = Border(None, None, False)
    h, w = grey.shape[:2]
    x1, y1, x2, y2 = bbox
    bw, bh = x2 - x1, y2 - y1
    a, b = int(max(0, x1 - 2.0 * bw)), int(max(0, y1 - 1.2 * bh))
    c, d = int(min(w, x2 + 2.0 * bw)), int(min(h, y2 + 1.5 * bh))
    if c - a < 8 or d - b < 8:
        return none
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
        return none
    lefts: list[float] = []
    rights: list[float] = []
    flat: list[tuple[float, float, float]] = []
    for lx1, ly1, lx2, ly2 in lines.reshape(-1, 4):
        gx1, gx2, gy1, gy2 = float(lx1 + a), float(lx2 + a), float(ly1 + b), float(ly2 + b)
        if abs(gy2 - gy1) <= 0.27 * abs(gx2 - gx1):  # within ~15 degrees of horizontal
            y = (gy1 + gy2) / 2
            if y < y1 + 0.1 * bh or y > y2 - 0.1 * bh:  # above the brow or below the chin
                flat.append((min(gx1, gx2), max(gx1, gx2), y))
            continue
        if abs(gx2 - gx1) > 0.27 * abs(gy2 - gy1):  # more than ~15 degrees off vertical
            continue
        top, bottom = min(gy1, gy2), max(gy1, gy2)
        if bottom < y1 + 0.3 * bh or top > y2 - 0.3 * bh:  # must run alongside the face
            continue
        x = (gx1 + gx2) / 2
        if x1 - 1.6 * bw < x < x1 + 0.05 * bw:
            lefts.append(x)
        elif x2 - 0.05 * bw < x < x2 + 1.6 * bw:
            rights.append(x)
    left, right = max(lefts, default=None), min(rights, default=None)
    closed = (
        left is not None
        and right is not None
        and any(lo <= left + 0.1 * bw and hi >= right - 0.1 * bw for lo, hi, _ in flat)
    )
    return Border(left, right, closed, tuple(sorted(lefts)), tuple(sorted(rights)))


def border_score(grey: ImageArray, bbox: tuple[float, float, float, float]) -> float:
    """0..1: 1 with an edge on both sides of the face (``border``), half of it for one side."""
    return border(grey, bbox).score
