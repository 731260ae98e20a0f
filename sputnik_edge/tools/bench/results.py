"""Typed bench results: one frozen record per section and one for the whole run.

``BenchResult.to_json()`` gives exactly the shape of ``docs/bench/bench.json`` (schema 1) and
``BenchResult.from_json()`` reads it back; the console report, the targets and the Markdown report
read these records, never raw dicts. Times are milliseconds unless a key says otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sputnik_edge.tools.bench.backlight_results import BacklightResult
from sputnik_edge.tools.bench.codec import FLAT, OMIT, from_json, json_key, to_json
from sputnik_edge.tools.bench.fleet_results import FleetResult
from sputnik_edge.tools.bench.imagesets_results import EmbedderCandidates, ImageSetsResult
from sputnik_edge.tools.bench.liveness import LivenessBenchResult
from sputnik_edge.tools.bench.stats import Stats

SCHEMA = 1
PIPELINES = ("ours", "opencv_zoo", "face_recognition")
DETECTORS = ("yunet", "blazeface")
STAGE_NAMES = ("decode", "detect", "align", "quality", "embed", "match", "policy", "outbox", "total")
STAGE_UNIT = {
    "decode": "frame",
    "detect": "frame",
    "align": "face",
    "quality": "face",
    "embed": "frame with faces",
    "match": "frame with faces",
    "policy": "policy call",
    "outbox": "event",
    "total": "frame",
}


# ---- stages ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StageTiming:
    per: str  # what one sample is: a frame, a face, a call, an event
    stats: Stats = field(metadata=FLAT)


@dataclass(frozen=True, slots=True, kw_only=True)
class StageResolution:
    images: int
    faces_per_frame: float
    events: int
    stages: dict[str, StageTiming]


@dataclass(frozen=True, slots=True, kw_only=True)
class StagesResult:
    resolutions: dict[str, StageResolution]
    frames_per_resolution: int
    repeats: int
    gallery_employees: int
    detect_max_side: int


# ---- reference -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineTime:
    ms_per_image: float
    ms_per_face: float
    faces: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineRatio:
    per_image_total: float | None
    median_of_ratios: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceSummary:
    ours: PipelineTime
    opencv_zoo: PipelineTime
    face_recognition: PipelineTime | None = field(default=None, metadata=OMIT)
    ratio_opencv_zoo: PipelineRatio
    ratio_face_recognition: PipelineRatio | None = field(default=None, metadata=OMIT)

    def pipelines(self) -> list[str]:
        return [p for p in PIPELINES if getattr(self, p) is not None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceImage:
    """One image: median time (all faces), detection time alone and faces found, per pipeline."""

    image: str
    width: int
    height: int
    ours_ms: float
    ours_detect_ms: float
    ours_faces: int
    opencv_zoo_ms: float
    opencv_zoo_detect_ms: float
    opencv_zoo_faces: int
    face_recognition_ms: float | None = field(default=None, metadata=OMIT)
    face_recognition_detect_ms: float | None = field(default=None, metadata=OMIT)
    face_recognition_faces: int | None = field(default=None, metadata=OMIT)
    ratio_opencv_zoo: float | None
    ratio_face_recognition: float | None = field(default=None, metadata=OMIT)

    def ms(self, pipeline: str) -> float:
        return float(getattr(self, f"{pipeline}_ms"))

    def detect_ms(self, pipeline: str) -> float:
        return float(getattr(self, f"{pipeline}_detect_ms"))

    def faces(self, pipeline: str) -> int:
        return int(getattr(self, f"{pipeline}_faces"))


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceRecognitionInfo:
    available: bool
    error: str | None
    model: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedderOverhead:
    embed: Stats
    bare_session_run: Stats
    ratio: float | None
    embed_ms_per_face: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineAccuracy:
    acc_best: float
    threshold_best: float
    no_detection: int
    score: str | None = field(default=None, metadata=OMIT)  # only where the score is not a cosine similarity
    acc_at_default: float | None = field(
        default=None, metadata=json_key("acc_at_default_0.6", omit_none=True)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceAccuracy:
    pairs: int
    images: int
    ours: PipelineAccuracy
    opencv_zoo: PipelineAccuracy
    face_recognition: PipelineAccuracy | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceResult:
    images: int
    rounds: int
    ratio_definition: str
    summary: ReferenceSummary
    per_image: list[ReferenceImage]
    face_recognition: FaceRecognitionInfo
    embedder_overhead: dict[str, EmbedderOverhead]
    accuracy: ReferenceAccuracy
    # "blocks" or "interleaved" (reference.time_pipelines); files written before it was recorded
    # were timed interleaved.
    order: str = "interleaved"


# ---- stream ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamAttendance:
    cooldown_s: float
    track_max_age_s: float
    min_frames: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSamples:
    frame_latency: list[float]
    processing: list[float]
    event_latency: list[float]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamRun:
    fps_limit: float
    seconds: float
    source_fps: float
    target_fps: float
    frames_read: int
    frames_processed: int
    frames_skipped_by_limit: int
    frames_dropped: int
    read_fps: float
    processed_fps: float
    realtime_factor: float
    read_realtime_factor: float
    frame_latency: Stats
    processing: Stats
    samples_ms: StreamSamples
    event_latency: Stats
    events: int
    events_by_kind: dict[str, int]
    cpu_cores: float
    peak_rss_mb: float
    gallery_employees: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamResult:
    clip: str
    seconds_per_run: float
    attendance: StreamAttendance
    latency_definition: str
    note: str
    runs: dict[str, StreamRun]

    def every_frame(self) -> StreamRun | None:
        return self.runs.get("fps_limit_0")

    def limited(self) -> StreamRun | None:
        return next((r for k, r in self.runs.items() if k != "fps_limit_0"), None)


# ---- match -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchBreakdown:
    matmul: float
    top2: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchBatch:
    stats: Stats = field(metadata=FLAT)
    ms_per_query: float
    breakdown_median_ms: MatchBreakdown


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchSize:
    templates: int
    employees: int
    build_ms: float
    matrix_mb: float
    batch1: MatchBatch
    batch4: MatchBatch


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchSizes:
    """What ``match_sizes`` measures (also what the single-BLAS-thread child prints)."""

    templates_per_employee: int
    sizes: dict[str, MatchSize]


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchResult:
    templates_per_employee: int
    sizes: dict[str, MatchSize]
    blas_threads: str
    single_thread_blas: dict[str, MatchSize] | None = field(default=None, metadata=OMIT)
    single_thread_blas_error: list[str] | None = field(default=None, metadata=OMIT)


# ---- memory, outbox, central -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonRun:
    gallery_templates: int
    cold_start_s: float
    app_startup_s: float | None
    peak_rss_mb: float
    end_rss_mb: float
    end_uss_mb: float
    end_pss_mb: float
    cpu_cores: float
    processed_fps: float
    seconds: float
    stop_s: float
    exit_code: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryResult:
    clip_1080p_frames: int
    clip_1080p_codec: str
    cold_start_definition: str
    runs: dict[str, DaemonRun]

    def big_gallery(self) -> DaemonRun | None:
        return next((r for k, r in self.runs.items() if k.startswith("gallery_")), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxResult:
    events: int
    stored: int
    events_per_s: float
    commit: Stats
    directory_fs: str
    durability: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CentralPush:
    events: int
    batch: int
    inserted: int
    stored: int
    seconds: float
    events_per_s: float
    ms_per_batch: float
    duplicate_batch_inserted: int
    duplicate_batch_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CentralPull:
    employees: int
    templates: int
    seed_seconds: float
    seconds: float
    best_seconds: float
    templates_per_s: float
    empty_pull_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CentralResult:
    push: CentralPush
    pull: CentralPull


# ---- detectors -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorTiming:
    wall: Stats
    cpu_ms_mean: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorSize:
    yunet: DetectorTiming
    blazeface: DetectorTiming
    wall_ratio_blazeface_over_yunet: float | None
    cpu_ratio_blazeface_over_yunet: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClipFaces:
    frames: int
    frames_with_face: int
    faces: int
    score_threshold: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorAccuracy:
    acc_best: float
    threshold_best: float
    no_detection: int
    tar_at_far_1e_2: float = field(metadata=json_key("tar_at_far_1e-2"))
    tar_at_match_threshold: float
    far_at_match_threshold: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorAccuracies:
    pairs: int
    yunet: DetectorAccuracy
    blazeface: DetectorAccuracy


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorsResult:
    sizes: dict[str, DetectorSize]
    clip_faces: dict[str, ClipFaces]
    accuracy: DetectorAccuracies
    # Set when the section was run on its own (another venv: the mediapipe extra) and merged in.
    command: str | None = field(default=None, metadata=OMIT)
    generated_at: str | None = field(default=None, metadata=OMIT)
    opencv: str | None = field(default=None, metadata=OMIT)


# ---- the whole run ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Sections:
    stages: StagesResult | None = field(default=None, metadata=OMIT)
    reference: ReferenceResult | None = field(default=None, metadata=OMIT)
    stream: StreamResult | None = field(default=None, metadata=OMIT)
    match: MatchResult | None = field(default=None, metadata=OMIT)
    memory: MemoryResult | None = field(default=None, metadata=OMIT)
    outbox: OutboxResult | None = field(default=None, metadata=OMIT)
    central: CentralResult | None = field(default=None, metadata=OMIT)
    detectors: DetectorsResult | None = field(default=None, metadata=OMIT)
    fleet: FleetResult | None = field(default=None, metadata=OMIT)
    backlight: BacklightResult | None = field(default=None, metadata=OMIT)
    liveness: LivenessBenchResult | None = field(default=None, metadata=OMIT)
    imagesets: ImageSetsResult | None = field(default=None, metadata=OMIT)
    embedders: EmbedderCandidates | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Machine:
    cpu_model: str
    arch: str
    logical_cores: int | None
    physical_cores: int | None
    ram_mb: int
    os: str
    python: str
    numpy: str
    onnxruntime: str
    opencv: str
    opencv_threads: int
    env: dict[str, str | None]
    loadavg_start: list[float]
    loadavg_end: list[float] | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchConfig:
    detect_max_side: int
    onnx_threads: int
    camera_fps_limit: float
    min_frames: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    name: str
    goal: str
    value: float | None
    unit: str
    passed: bool | None = field(metadata=json_key("pass"))  # None: not measured


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    schema: int
    generated_at: str
    command: str
    quick: bool
    machine: Machine
    config: BenchConfig
    sections: Sections
    section_seconds: dict[str, float]
    errors: dict[str, str]
    targets: list[Target]

    def to_json(self) -> dict[str, Any]:
        return dict(to_json(self))

    @classmethod
    def from_json(cls, data: Any) -> BenchResult:
        return from_json(cls, data)

    @classmethod
    def load(cls, path: Path) -> BenchResult:
        return cls.from_json(json.loads(path.read_text()))

    def failed_sections(self) -> list[str]:
        """Sections that broke (a skip is not a failure: missing data or service)."""
        return [k for k, v in self.errors.items() if not v.startswith("skipped")]
