"""`eval-video`: labelled videos through identify frame by frame and through the daemon's
multi-frame vote, so threshold and quality changes are judged by both.

A label file is a CSV with ``start_frame,end_frame,identity`` (inclusive, 0-based; other columns
such as ``path`` or ``evidence`` are ignored, so the dev clip's ``video_labels.csv`` reads as it is).
``identity`` is an employee id, or ``unknown`` for frames where no enrolled person is in view: a
match there is wrong. Frames no row covers are not evaluated (e.g. the frames a person was
enrolled from).

Per frame (every ``every``-th labelled frame): ``right`` when the labelled person is matched,
``wrong`` when anyone else is, ``nobody`` otherwise. The daemon part runs every frame at the
camera's ``fps`` through the real ``AttendanceEngine`` (tracker, policy, a throwaway local store)
on the video's own clock, and reports per person whether a check-in happened and every event
that named someone who was not in view.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.config import AttendanceSection
from sputnik_edge.liveness.stage import LivenessStage
from sputnik_edge.liveness.types import LivenessMode
from sputnik_edge.metrics import Metrics
from sputnik_edge.pipeline.engine import AttendanceEngine, SnapshotSettings
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.store.local import LocalStore
from sputnik_edge.vision.types import ImageArray

UNKNOWN = "unknown"


class LabelError(ValueError):
    """A label file that cannot be read; the message names the file, line and column."""


@dataclass(frozen=True, slots=True)
class LabelRange:
    start: int
    end: int
    identity: str


@dataclass(frozen=True, slots=True)
class FrameVerdict:
    frame: int
    identity: str
    outcome: str  # right | wrong | nobody
    named: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PersonResult:
    identity: str
    frames: int
    right: int
    wrong: int
    nobody: int
    checked_in: bool | None  # None for `unknown` and when the daemon part was not run


@dataclass(frozen=True, slots=True)
class VideoEval:
    video: str
    frames_evaluated: int
    right: int
    wrong: int
    nobody: int
    people: list[PersonResult]
    wrong_events: list[dict[str, Any]] = field(default_factory=list)
    daemon_fps: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_labels(path: Path) -> list[LabelRange]:
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise LabelError(f"label file {path}: {exc.strerror}") from None
    out: list[LabelRange] = []
    with fh:
        reader = csv.DictReader(fh)
        missing = {"start_frame", "end_frame", "identity"} - set(reader.fieldnames or [])
        if missing:
            raise LabelError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                start, end = int(row["start_frame"]), int(row["end_frame"])
            except ValueError:
                raise LabelError(f"{path}:{line}: start_frame and end_frame must be integers") from None
            identity = (row["identity"] or "").strip()
            if start < 0 or end < start:
                raise LabelError(f"{path}:{line}: need 0 <= start_frame <= end_frame, got {start}-{end}")
            if not identity:
                raise LabelError(f"{path}:{line}: identity is empty")
            out.append(LabelRange(start, end, identity))
    if not out:
        raise LabelError(f"{path}: no label rows")
    return out


def label_at(labels: list[LabelRange], frame: int) -> str | None:
    for r in labels:
        if r.start <= frame <= r.end:
            return r.identity
    return None


def judge_frame(frame: int, identity: str, named: set[str]) -> FrameVerdict:
    """right / wrong / nobody for one frame; naming someone else beats naming the right one too."""
    others = named - {identity}
    outcome = "wrong" if others else ("right" if identity in named else "nobody")
    return FrameVerdict(frame, identity, outcome, tuple(sorted(named)))


def frames(video: Path) -> Iterator[tuple[int, ImageArray]]:
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise LabelError(f"video {video}: cannot be opened")
    try:
        i = 0
        while True:
            ok, img = cap.read()
            if not ok:
                return
            yield i, np.asarray(img, dtype=np.uint8)
            i += 1
    finally:
        cap.release()


def video_fps(video: Path) -> float:
    cap = cv2.VideoCapture(str(video))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
    return fps if 1.0 <= fps <= 240.0 else 25.0


def per_frame(
    rec: Recognizer,
    video: Path,
    labels: list[LabelRange],
    every: int,
    progress: Callable[[], Any] | None = None,
) -> list[FrameVerdict]:
    """Identify on every ``every``-th labelled frame, as `identify` would."""
    out = []
    for i, img in frames(video):
        identity = label_at(labels, i)
        if identity is None or i % every:
            continue
        named = {
            f.match.employee_id
            for f in rec.recognize(img)
            if f.match is not None and f.match.decision == "match" and f.match.employee_id
        }
        out.append(judge_frame(i, identity, named))
        if progress:
            progress()
    return out


def through_daemon(
    rec: Recognizer,
    video: Path,
    att: AttendanceSection,
    fps: float,
    liveness_mode: LivenessMode = "off",
    liveness: LivenessStage | None = None,
) -> list[tuple[int, str, str]]:
    """(frame, kind, employee_id) of every event naming someone, from the daemon's own engine fed
    the video at ``fps`` on the video's clock (the tracker and cooldowns see video time), with the
    daemon's liveness mode and stage (under ``enforce`` a check-in needs a ``live`` verdict)."""
    src_fps = video_fps(video)
    stride = max(1, round(src_fps / fps))
    now = [0.0]
    policy = AttendancePolicy(
        PolicyConfig(
            att.min_frames,
            att.cooldown_s,
            att.max_embeds_per_track,
            att.reembed_quality_gain,
            liveness_mode=liveness_mode,
        ),
        "eval-video",
        clock=lambda: now[0],
    )
    camera = CameraInfo("eval", "in")
    tracker = IouTracker(att.track_iou, att.track_max_age_s)
    base = datetime(2000, 1, 1, tzinfo=UTC)
    named: list[tuple[int, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="sputnik-eval-video-") as tmp:
        store = LocalStore(Path(tmp) / "eval.db", device_id="eval-video")
        try:
            engine = AttendanceEngine(
                rec, policy, store, SnapshotSettings(False, Path(tmp)), Metrics(), liveness=liveness
            )
            last = 0
            for i, img in frames(video):
                if i % stride:
                    continue
                now[0] = i / src_fps
                wall = base + timedelta(seconds=now[0])
                out = engine.process_frame(camera, tracker, img, wall, now[0])
                named += [(i, e.kind, e.employee_id) for e in out.events if e.employee_id]
                last = i
            for e in engine.end_tracks(camera, tracker.flush(), base + timedelta(seconds=last / src_fps)):
                if e.employee_id:
                    named.append((last, e.kind, e.employee_id))
        finally:
            store.close()
    return named


def evaluate_video(
    rec: Recognizer,
    video: Path,
    labels: list[LabelRange],
    *,
    every: int = 5,
    att: AttendanceSection | None = None,
    daemon_fps: float | None = 10.0,
    progress: Callable[[], Any] | None = None,
    liveness_mode: LivenessMode = "off",
    liveness: LivenessStage | None = None,
) -> VideoEval:
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    verdicts = per_frame(rec, video, labels, every, progress)
    events = (
        through_daemon(rec, video, att or AttendanceSection(), daemon_fps, liveness_mode, liveness)
        if daemon_fps
        else None
    )
    people = []
    for identity in sorted({r.identity for r in labels}):
        mine = [v for v in verdicts if v.identity == identity]
        checked = None
        if events is not None and identity != UNKNOWN:
            checked = any(k == "check_in" and e == identity for _, k, e in events)
        people.append(
            PersonResult(
                identity,
                len(mine),
                sum(v.outcome == "right" for v in mine),
                sum(v.outcome == "wrong" for v in mine),
                sum(v.outcome == "nobody" for v in mine),
                checked,
            )
        )
    # An event is wrong when it names someone who is not the person labelled at that frame (a
    # track decided just after a cut still counts: it names whoever it named).
    wrong_events = [
        {"frame": f, "kind": k, "employee_id": e, "labelled": label_at(labels, f)}
        for f, k, e in (events or [])
        if label_at(labels, f) not in (e, None) or e not in {r.identity for r in labels}
    ]
    return VideoEval(
        video=video.name,
        frames_evaluated=len(verdicts),
        right=sum(v.outcome == "right" for v in verdicts),
        wrong=sum(v.outcome == "wrong" for v in verdicts),
        nobody=sum(v.outcome == "nobody" for v in verdicts),
        people=people,
        wrong_events=wrong_events,
        daemon_fps=daemon_fps,
    )


def format_report(result: VideoEval) -> list[str]:
    def pct(n: int, d: int) -> str:
        return f"{100 * n / d:.1f} %" if d else "-"

    n = result.frames_evaluated
    lines = [
        f"{result.video}: {n} frame(s) evaluated: right {result.right} ({pct(result.right, n)}), "
        f"wrong {result.wrong} ({pct(result.wrong, n)}), nobody {result.nobody} ({pct(result.nobody, n)})"
    ]
    for p in result.people:
        check = "" if p.checked_in is None else ("  checked in" if p.checked_in else "  NOT checked in")
        lines.append(
            f"  {p.identity}: {p.frames} frame(s): right {p.right}, wrong {p.wrong}, nobody {p.nobody}{check}"
        )
    if result.daemon_fps:
        wrong = len(result.wrong_events)
        lines.append(f"  daemon at {result.daemon_fps:g} fps: {wrong} event(s) naming the wrong person")
        for e in result.wrong_events:
            lines.append(f"    frame {e['frame']}: {e['kind']} {e['employee_id']} (labelled {e['labelled']})")
    return lines
