"""Synthetic presentation attacks from the dev photos, for tests and for the liveness numbers'
synthetic column (which are NOT real-attack numbers: see README "Liveness").

One attack is a photo on a flat card moving in 3-D in front of a fixed camera and a still
background: the card turns (yaw and pitch), comes closer, and shakes as a hand would. Kinds:

* ``print``: the photo on paper with a white border, printed contrast (flatter, less saturated);
* ``screen``: the photo on a phone with a black bezel, screen gamma, moire and a moving glare;
* ``cutout``: the face cut out along an ellipse, no border at all (only the motion test sees it).

    python -m sputnik_edge.tools.synthetic_attacks --faces-dir ../shared/faces --out /tmp/attacks
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from sputnik_edge.vision.types import ImageArray

__all__ = ["KINDS", "background", "card_image", "render_attack", "write_clip"]

KINDS = ("print", "screen", "cutout")
_FOCAL = 600.0  # px, a typical 640x480 webcam's focal length


def background(size: tuple[int, int], rng: np.random.Generator) -> ImageArray:
    """A still, cluttered room-like background: a gradient, blurred blocks and sensor noise."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(60, 180, 3).astype(np.float32)
    img = base + (xx[..., None] / w - 0.5) * rng.uniform(-60, 60, 3) + (yy[..., None] / h - 0.5) * 40
    for _ in range(25):
        x1, y1 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x2, y2 = x1 + int(rng.integers(20, w // 3)), y1 + int(rng.integers(20, h // 3))
        img[y1:y2, x1:x2] = rng.uniform(20, 235, 3)
    img = cv2.GaussianBlur(img, (0, 0), 6)
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


Box = tuple[float, float, float, float]


def _portrait(photo: ImageArray, face: Box | None) -> ImageArray:
    """A 5:6 portrait around the face (the head and some shoulders), as a printed photo is."""
    h, w = photo.shape[:2]
    if face is None:
        x1, y1, x2, y2 = w * 0.25, h * 0.15, w * 0.75, h * 0.65
    else:
        x1, y1, x2, y2 = face
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2 + 0.1 * (y2 - y1), max(x2 - x1, y2 - y1) * 1.9
    a, b = int(max(0, cx - side / 2)), int(max(0, cy - side * 0.6))
    c, d = int(min(w, cx + side / 2)), int(min(h, cy + side * 0.6))
    return np.ascontiguousarray(photo[b:d, a:c])


def card_image(photo: ImageArray, kind: str, face_box: Box | None = None) -> tuple[ImageArray, np.ndarray]:
    """The flat card (photo + border) and its opacity mask (uint8), before any motion."""
    face = cv2.resize(_portrait(photo, face_box), (300, 360), interpolation=cv2.INTER_AREA)
    if kind == "print":
        flat = cv2.addWeighted(face, 0.8, np.full_like(face, 128), 0.2, 0)  # printed contrast
        grey = cv2.cvtColor(cv2.cvtColor(flat, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        flat = cv2.addWeighted(flat, 0.8, grey, 0.2, 0)
        card = cv2.copyMakeBorder(flat, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=(235, 238, 240))
        return np.asarray(card, np.uint8), np.full(card.shape[:2], 255, np.uint8)
    if kind == "screen":
        lit = (255.0 * (face.astype(np.float32) / 255.0) ** 0.75).astype(np.uint8)  # screen gamma
        card = cv2.copyMakeBorder(lit, 30, 50, 18, 18, cv2.BORDER_CONSTANT, value=(12, 12, 14))
        mask = np.zeros(card.shape[:2], np.uint8)
        r = 24  # rounded phone corners
        h, w = mask.shape
        cv2.rectangle(mask, (r, 0), (w - r, h), 255, -1)
        cv2.rectangle(mask, (0, r), (w, h - r), 255, -1)
        for cx, cy in ((r, r), (w - r, r), (r, h - r), (w - r, h - r)):
            cv2.circle(mask, (cx, cy), r, 255, -1)
        return np.asarray(card, np.uint8), mask
    if kind == "cutout":
        mask = np.zeros(face.shape[:2], np.uint8)
        cv2.ellipse(mask, (150, 170), (118, 160), 0, 0, 360, 255, -1)
        return np.asarray(face, np.uint8), np.asarray(cv2.GaussianBlur(mask, (0, 0), 3), np.uint8)
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = (
        np.cos(yaw),
        np.sin(yaw),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(roll),
        np.sin(roll),
    )
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def _project(
    card_wh: tuple[int, int], rot: np.ndarray, shift: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """Image positions of the card's four corners (card 24 cm tall, camera at the origin)."""
    cw, ch = card_wh
    s = 0.24 / ch
    corners = (
        np.array([[-cw / 2, -ch / 2, 0], [cw / 2, -ch / 2, 0], [cw / 2, ch / 2, 0], [-cw / 2, ch / 2, 0]]) * s
    )
    world = corners @ rot.T + shift
    w, h = size
    return np.stack(
        [_FOCAL * world[:, 0] / world[:, 2] + w / 2, _FOCAL * world[:, 1] / world[:, 2] + h / 2], 1
    )


def render_attack(
    photo: ImageArray,
    kind: str,
    seed: int,
    frames: int = 90,
    size: tuple[int, int] = (640, 480),
    face_box: Box | None = None,
) -> list[ImageArray]:
    """``frames`` frames (30 fps) of the attack; the same seed gives the same clip. ``face_box``
    (the face in ``photo``, x1 y1 x2 y2) centres the printed portrait on it."""
    rng = np.random.default_rng(seed)
    bg = background(size, rng)
    card, mask = card_image(photo, kind, face_box)
    ch, cw = card.shape[:2]
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    yaw_amp, pitch_amp = np.radians(rng.uniform(18, 30)), np.radians(rng.uniform(6, 12))
    period = rng.uniform(1.5, 2.5)  # seconds per turn back and forth
    phase = rng.uniform(0, 2 * np.pi)
    z0, z1 = rng.uniform(0.65, 0.8), rng.uniform(0.45, 0.55)  # metres: walks the card closer
    x0, y0 = rng.uniform(-0.05, 0.05), rng.uniform(-0.03, 0.03)
    theta, pitch_px = rng.uniform(0, np.pi), rng.uniform(3.5, 6.0)  # moire direction and period
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    moire = 1.0 + 0.07 * np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / pitch_px)
    out: list[ImageArray] = []
    for i in range(frames):
        t = i / 30.0
        a = 2 * np.pi * t / period + phase
        shake = rng.normal(0, 0.004, 3)  # a hand: ~4 mm jitter per frame
        rot = _rotation(yaw_amp * np.sin(a), pitch_amp * np.sin(0.7 * a + 1.0), rng.normal(0, 0.01))
        z = z0 + (z1 - z0) * i / max(frames - 1, 1)
        dst = _project((cw, ch), rot, np.array([x0, y0, z]) + shake, size).astype(np.float32)
        h = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(card, h, size, flags=cv2.INTER_LINEAR).astype(np.float32)
        alpha = cv2.warpPerspective(mask, h, size, flags=cv2.INTER_LINEAR).astype(np.float32)[..., None] / 255
        if kind == "screen":
            warped *= moire[..., None]
            gx, gy = dst[:, 0].mean() + 60 * np.sin(a), dst[:, 1].mean() - 40
            glare = 120 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * 35.0**2))
            warped += glare[..., None] * (alpha > 0.5)
        frame = bg.astype(np.float32) * (1 - alpha) + warped * alpha
        frame = cv2.GaussianBlur(frame, (3, 3), 0.6) + rng.normal(0, 2.5, frame.shape)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


def write_clip(frames: Sequence[ImageArray], path: Path, fps: float = 30.0) -> Path:
    """An MP4 (OpenCV's mp4v) of the frames, 0600: it shows a real person's face."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    try:
        for f in frames:
            writer.write(f)
    finally:
        writer.release()
    os.chmod(path, 0o600)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    from sputnik_edge.config import RecognitionSection
    from sputnik_edge.recognition.recognizer import Recognizer
    from sputnik_edge.tools.paths import dev_people
    from sputnik_edge.vision.imageio import load_image

    parser = argparse.ArgumentParser(prog="python -m sputnik_edge.tools.synthetic_attacks")
    parser.add_argument("--faces-dir", type=Path, required=True, help="the dev face data (labels.csv)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the clips (kept 0700)")
    parser.add_argument("--frames", type=int, default=90)
    args = parser.parse_args(argv)
    people = dev_people(args.faces_dir)
    if not people:
        print(f"no dev photos under {args.faces_dir}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    os.chmod(args.out, 0o700)
    rec = Recognizer.from_config(RecognitionSection())
    for seed, (who, photo) in enumerate(sorted(people.items())):
        image = load_image(photo)
        faces = rec.detect(image)
        box = max(faces, key=lambda d: d.width).bbox if faces else None
        for kind in KINDS:
            frames = render_attack(image, kind, seed, args.frames, face_box=box)
            print(write_clip(frames, args.out / f"{who}_{kind}.mp4"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
