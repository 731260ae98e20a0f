"""YuNet face detector on onnxruntime, with OpenCV FaceDetectorYN's pre- and post-processing."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
import structlog

from sputnik_edge.vision.align import AnyImage, ensure_bgr
from sputnik_edge.vision.onnx import create_session
from sputnik_edge.vision.types import Detection

log = structlog.get_logger(__name__)

STRIDES = (8, 16, 32)
_DIVISOR = 32
# Below this YuNet cannot see a face at all (its smallest anchors are ~10 px).
_MIN_SIDE = 10
# Padded inputs up to this many pixels (a 150x150 photo pads to 160x160) run on a one-thread
# session: for so little work per convolution, waking a second pool thread costs more than it
# saves (idle, interleaved: 160x160 0.65-0.77 vs 0.75-0.93 ms, 224x224 1.25-1.33 vs 1.42-1.52;
# at 256x256 two threads won in one of two runs). Camera frames (640x384) keep the pool.
SMALL_INPUT_PIXELS = 224 * 224


class FaceDetector(Protocol):
    """What the recognizer needs of a detector (YuNet here, BlazeFace in vision.blazeface)."""

    score_threshold: float
    model_path: Path

    def detect(self, image_bgr: AnyImage, score_threshold: float | None = None) -> list[Detection]: ...


def check_thresholds(score_threshold: float, nms_threshold: float) -> None:
    """The score and NMS bounds every detector shares; ValueError naming the bad one."""
    if not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
    if not 0.0 < nms_threshold <= 1.0:
        raise ValueError(f"nms_threshold must be in (0, 1], got {nms_threshold}")


class YuNetDetector:
    """Faces with boxes, 5 landmarks and scores, in the input image's pixel coordinates."""

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
        max_side: int = 640,
        threads: int = 0,
        spin_within_run: bool = False,
    ) -> None:
        check_thresholds(score_threshold, nms_threshold)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if max_side < 0 or (0 < max_side < _DIVISOR):
            raise ValueError(f"max_side must be 0 (native size) or >= {_DIVISOR}, got {max_side}")
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.top_k = top_k
        self.max_side = max_side
        self.model_path = Path(model_path)
        self._session = create_session(self.model_path, threads, spin_within_run=spin_within_run)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        # A graph with fixed H/W (e.g. the unprepared file) gets every image letterboxed into it.
        h, w = inp.shape[2], inp.shape[3]
        self._fixed_hw = (h, w) if isinstance(h, int) and isinstance(w, int) else None
        # A fixed-size graph never sees a small input: no second session for it.
        self._small_session = (
            self._session
            if threads == 1 or self._fixed_hw is not None
            else create_session(self.model_path, 1, spin_within_run=spin_within_run)
        )
        names = [o.name for o in self._session.get_outputs()]
        expected = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES]
        missing = [n for n in expected if n not in names]
        if missing:
            raise ValueError(f"{self.model_path} is not a YuNet model: outputs {missing} missing")
        self._output_names = expected
        self._grids: dict[tuple[int, int], list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]] = {}
        # Warm up so the first real frame does not pay for allocator and kernel selection.
        side = max_side or 640
        self.detect(np.zeros((side * 3 // 4, side, 3), dtype=np.uint8))
        if self._fixed_hw is None:
            self.detect(np.zeros((160, 160, 3), dtype=np.uint8))
        log.info("detector_ready", model=self.model_path.name, max_side=max_side, fixed_input=self._fixed_hw)

    def _grid(self, pad_h: int, pad_w: int) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]:
        key = (pad_h, pad_w)
        grid = self._grids.get(key)
        if grid is None:
            grid = []
            for s in STRIDES:
                rows, cols = pad_h // s, pad_w // s
                cc, rr = np.meshgrid(np.arange(cols, dtype=np.float32), np.arange(rows, dtype=np.float32))
                grid.append((cc.ravel(), rr.ravel()))
            if len(self._grids) > 16:
                self._grids.clear()
            self._grids[key] = grid
        return grid

    def detect(self, image_bgr: AnyImage, score_threshold: float | None = None) -> list[Detection]:
        """Faces sorted by score, best first; [] when none. Accepts BGR, BGRA or grey uint8.
        ``score_threshold`` overrides the constructor's for this call (second-chance passes)."""
        threshold = self.score_threshold if score_threshold is None else score_threshold
        img: npt.NDArray[np.uint8] = ensure_bgr(image_bgr)
        h, w = img.shape[:2]
        if min(h, w) < _MIN_SIDE:
            return []

        # Preprocess
        if self._fixed_hw is not None:
            scale = min(self._fixed_hw[0] / h, self._fixed_hw[1] / w)
        elif self.max_side and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
        else:
            scale = 1.0
        if scale != 1.0:
            new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
            # INTER_AREA costs 15x more at 1080p -> 640 for no measurable detection gain.
            interp = cv2.INTER_LINEAR
            img = np.asarray(cv2.resize(img, (new_w, new_h), interpolation=interp), dtype=np.uint8)
        else:
            new_w, new_h = w, h
        if self._fixed_hw is not None:
            pad_h, pad_w = self._fixed_hw
        else:
            pad_h = ((new_h - 1) // _DIVISOR + 1) * _DIVISOR
            pad_w = ((new_w - 1) // _DIVISOR + 1) * _DIVISOR
        blob = np.zeros((1, 3, pad_h, pad_w), dtype=np.float32)
        blob[0, :, :new_h, :new_w] = img.transpose(2, 0, 1)

        # Forward
        small = self._fixed_hw is None and pad_h * pad_w <= SMALL_INPUT_PIXELS
        session = self._small_session if small else self._session
        outs = session.run(self._output_names, {self._input_name: blob})

        # Postprocess
        faces = self._decode(outs, pad_h, pad_w, threshold)
        if faces.shape[0] == 0:
            return []
        if faces.shape[0] > 1:
            # OpenCV runs NMS on integer-truncated (x, y, w, h) boxes; do the same to keep parity.
            boxes = np.trunc(faces[:, :4]).astype(np.float64).tolist()
            keep = cv2.dnn.NMSBoxes(
                boxes,
                faces[:, 14].tolist(),
                threshold,
                self.nms_threshold,
                eta=1.0,
                top_k=self.top_k,
            )
            faces = faces[np.asarray(keep, dtype=np.int64).reshape(-1)]
        faces = faces[np.argsort(-faces[:, 14], kind="stable")]
        sx, sy = w / new_w, h / new_h
        result: list[Detection] = []
        for row in faces:
            x1, y1, bw, bh = (float(v) for v in row[:4])
            lm = row[4:14].reshape(5, 2).astype(np.float32) * np.array([sx, sy], dtype=np.float32)
            result.append(
                Detection(
                    bbox=(x1 * sx, y1 * sy, (x1 + bw) * sx, (y1 + bh) * sy),
                    landmarks=lm,
                    score=float(row[14]),
                )
            )
        return result

    def _decode(
        self, outs: list[npt.NDArray[np.float32]], pad_h: int, pad_w: int, threshold: float
    ) -> npt.NDArray[np.float32]:
        """Rows of x, y, w, h, 10 landmark coords, score (FaceDetectorYN's layout) above threshold."""
        n = len(STRIDES)
        parts = []
        for i, (s, (cc, rr)) in enumerate(zip(STRIDES, self._grid(pad_h, pad_w), strict=True)):
            cls = np.clip(outs[i].reshape(-1), 0.0, 1.0)
            obj = np.clip(outs[i + n].reshape(-1), 0.0, 1.0)
            score = np.sqrt(cls * obj)
            idx = np.flatnonzero(score >= threshold)
            if idx.size == 0:
                continue
            bbox = outs[i + 2 * n].reshape(-1, 4)[idx]
            kps = outs[i + 3 * n].reshape(-1, 10)[idx]
            c, r = cc[idx], rr[idx]
            face = np.empty((idx.size, 15), dtype=np.float32)
            bw = np.exp(bbox[:, 2]) * s
            bh = np.exp(bbox[:, 3]) * s
            face[:, 0] = (c + bbox[:, 0]) * s - bw / 2
            face[:, 1] = (r + bbox[:, 1]) * s - bh / 2
            face[:, 2] = bw
            face[:, 3] = bh
            face[:, 4:14:2] = (kps[:, 0::2] + c[:, None]) * s
            face[:, 5:14:2] = (kps[:, 1::2] + r[:, None]) * s
            face[:, 14] = score[idx]
            parts.append(face)
        if not parts:
            return np.empty((0, 15), dtype=np.float32)
        return np.concatenate(parts)
