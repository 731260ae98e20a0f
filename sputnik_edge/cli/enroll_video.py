"""`enroll --video FILE` / `enroll --camera ID`: a few good frames of one person as templates.

The frames are read here (a file, or a configured camera for a few seconds), each sampled frame
goes through the recognizer's analyze (the daemon's detector, backlight pass and quality gate),
and ``recognition.enrol_select`` picks the templates and says why it refused the rest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import structlog

from sputnik_edge.cli.common import Ctx, UsageError
from sputnik_edge.recognition.enrol_select import (
    ClipRefused,
    FrameObservation,
    Selection,
    SelectionRules,
    select_frames,
)
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.vision.types import ImageArray

log = structlog.get_logger(__name__)

# About ten frames a second are plenty: neighbouring frames of a 30 fps clip are near-duplicates.
SAMPLE_FPS = 10.0


def parse_frames(text: str | None) -> tuple[int, int | None]:
    """``A-B`` (inclusive), ``A-`` or None -> (first, last or None)."""
    if not text:
        return 0, None
    first, sep, last = text.partition("-")
    try:
        a = int(first)
        b = int(last) if last else None
    except ValueError:
        raise UsageError(f"--frames {text!r}: expected FIRST-LAST frame numbers, e.g. 0-69") from None
    if not sep or a < 0 or (b is not None and b < a):
        raise UsageError(f"--frames {text!r}: expected FIRST-LAST with 0 <= FIRST <= LAST, e.g. 0-69")
    return a, b


def video_frames(path: Path, first: int, last: int | None) -> Iterator[tuple[int, ImageArray]]:
    import cv2

    if not path.is_file():
        raise UsageError(f"--video {path}: not found")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise UsageError(f"--video {path}: not a video this build can read")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0
    stride = max(1, round(fps / SAMPLE_FPS))
    try:
        i = 0
        while last is None or i <= last:
            ok, img = cap.read()
            if not ok or img is None:
                break
            if i >= first and (i - first) % stride == 0:
                yield i, np.asarray(img, dtype=np.uint8)
            i += 1
    finally:
        cap.release()


def camera_frames(ctx: Ctx, camera_id: str, seconds: float) -> Iterator[tuple[int, ImageArray]]:
    from sputnik_edge.capture.sources import open_capture, parse_source

    cams = {c.id: c for c in ctx.settings.cameras}
    if camera_id not in cams:
        known = ", ".join(sorted(cams)) or "none configured"
        raise UsageError(f"--camera {camera_id!r}: no such camera in cameras (known: {known})")
    cam = cams[camera_id]
    try:
        spec = parse_source(cam.source)
    except ValueError as exc:
        raise UsageError(f"cameras[{camera_id}].source: {exc}") from None
    cap = open_capture(spec, open_timeout_s=cam.open_timeout_s, read_timeout_s=cam.read_timeout_s)
    if not cap.isOpened():
        cap.release()
        raise UsageError(f"--camera {camera_id}: cannot open {spec.display}")
    log.info("enrol_camera_open", camera_id=camera_id, source=spec.display, seconds=seconds)
    try:
        t0 = time.monotonic()
        next_at = t0
        i = 0
        while time.monotonic() - t0 < seconds:
            ok, img = cap.read()
            if not ok or img is None:
                break
            now = time.monotonic()
            if now >= next_at:
                next_at = now + 1.0 / SAMPLE_FPS
                yield i, np.asarray(img, dtype=np.uint8)
            i += 1
    finally:
        cap.release()


def observe(rec: Recognizer, frames: Iterator[tuple[int, ImageArray]]) -> list[FrameObservation]:
    """One observation per sampled frame; only usable single faces are embedded."""
    out = []
    for i, img in frames:
        cands = rec.analyze(img)
        # Weak detections (a poster, a reflection) do not count as a second person, as for photos.
        strong = [c for c in cands if c.detection.score >= rec.limits.min_det_score]
        if len(strong) == 1 and strong[0].quality.ok:
            c = strong[0]
            emb = rec.embed([c])[0]
            out.append(FrameObservation(i, 1, (), c.quality.score, c.quality.yaw, emb))
        elif strong:
            c = strong[0]
            out.append(FrameObservation(i, len(strong), c.quality.reasons, c.quality.score, c.quality.yaw))
        elif cands:
            c = max(cands, key=lambda k: k.detection.score)
            out.append(FrameObservation(i, 1, c.quality.reasons, c.quality.score, c.quality.yaw))
        else:
            out.append(FrameObservation(i, 0))
    return out


def select_from(ctx: Ctx, rec: Recognizer, what: str) -> Selection:
    args = ctx.args
    rules = SelectionRules(
        max_templates=args.max_templates,
        same_person_similarity=ctx.settings.recognition.low_confidence_threshold,
    )
    if args.video:
        first, last = parse_frames(args.frames)
        frames = video_frames(Path(args.video), first, last)
    else:
        if args.frames:
            raise UsageError("--frames applies to --video only")
        frames = camera_frames(ctx, args.camera, args.seconds)
    observations = observe(rec, frames)
    if not observations:
        raise UsageError(f"{what}: no frames read")
    try:
        return select_frames(observations, rules)
    except ClipRefused as exc:
        raise UsageError(f"{what}: refused: {exc}") from None


def report(selection: Selection) -> list[str]:
    lines = [
        f"  chose frame {c.frame}: {c.pose}, yaw {c.yaw:+.0f} deg, quality {c.quality:.2f}"
        for c in selection.chosen
    ]
    counts = selection.refused_by_reason()
    if counts:
        detail = ", ".join(f"{k}={v}" for k, v in counts.items())
        lines.append(f"  refused {len(selection.refused)} frame(s): {detail}")
    return lines
