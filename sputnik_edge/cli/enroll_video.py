"""`enroll --video FILE` / `enroll --camera ID`: a few good frames of one person as templates.

The frames are read here (a file, or a configured camera for a few seconds);
``recognition.enrol_clip`` runs them through the recognizer and picks the templates, saying why it
refused the rest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import structlog

from sputnik_edge.cli.common import Ctx, UsageError
from sputnik_edge.recognition.enrol_clip import select_clip
from sputnik_edge.recognition.enrol_select import ClipRefused, Selection, SelectionRules
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.vision.types import ImageArray
from sputnik_edge.vision.videoio import VideoError, sampled_frames

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


def select_from(ctx: Ctx, rec: Recognizer, what: str) -> Selection:
    args = ctx.args
    rules = SelectionRules(
        max_templates=args.max_templates,
        same_person_similarity=ctx.settings.recognition.low_confidence_threshold,
    )
    if args.video:
        first, last = parse_frames(args.frames)
        path = Path(args.video)
        if not path.is_file():
            raise UsageError(f"--video {path}: not found")
        frames = sampled_frames(path, sample_fps=SAMPLE_FPS, first=first, last=last, name=what)
    else:
        if args.frames:
            raise UsageError("--frames applies to --video only")
        frames = camera_frames(ctx, args.camera, args.seconds)
    try:
        return select_clip(rec, frames, rules)
    except VideoError as exc:
        raise UsageError(str(exc)) from None
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
