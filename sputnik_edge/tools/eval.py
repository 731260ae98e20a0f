"""Face-verification evaluation on a pairs file: accuracy, TAR at fixed FAR, ROC plot.

The metric functions are pure and work on arrays of scores; ``evaluate_pairs`` runs the real
pipeline (the same detector, alignment and embedder as the daemon) over the images.
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from sputnik_edge.recognition.gallery import Thresholds
from sputnik_edge.recognition.recognizer import FaceCandidate, Recognizer, iou
from sputnik_edge.vision.align import align_face
from sputnik_edge.vision.imageio import ImageError, load_image
from sputnik_edge.vision.types import Detection, FloatArray, ImageArray

log = structlog.get_logger(__name__)


class PairsFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Pair:
    path_a: str
    path_b: str
    same: bool
    fold: int | None


_LFW_HEADER = re.compile(r"^\s*(\d+)(?:\s+(\d+))?\s*$")


def read_pairs(path: Path) -> list[Pair]:
    """Pairs from a CSV (``path_a,path_b,same[,fold]``) or from LFW's own ``pairs.txt``."""
    try:
        # utf-8-sig: a byte-order mark (spreadsheet exports) would hide the header.
        fh = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise PairsFileError(f"pairs file not found: {path}") from None
    except IsADirectoryError:
        raise PairsFileError(f"pairs file is a directory: {path}") from None
    try:
        with fh:
            first = fh.readline()
            fh.seek(0)
            if _LFW_HEADER.match(first):
                return _read_lfw_pairs(path, fh.read().splitlines())
            reader = csv.DictReader(fh)
            cols = set(reader.fieldnames or [])
            missing = {"path_a", "path_b", "same"} - cols
            if missing:
                raise PairsFileError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            pairs = []
            for line, row in enumerate(reader, start=2):
                same = row["same"].strip().lower()
                if same not in {"0", "1", "true", "false"}:
                    raise PairsFileError(f"{path}:{line}: column same must be 0 or 1, got {row['same']!r}")
                fold = row.get("fold")
                try:
                    fold_i = int(fold) if fold not in (None, "") else None
                except ValueError:
                    raise PairsFileError(
                        f"{path}:{line}: column fold must be an integer, got {fold!r}"
                    ) from None
                pairs.append(Pair(row["path_a"], row["path_b"], same in {"1", "true"}, fold_i))
    except UnicodeDecodeError as exc:
        raise PairsFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not pairs:
        raise PairsFileError(f"{path}: no pairs")
    return pairs


def _read_lfw_pairs(path: Path, lines: list[str]) -> list[Pair]:
    """LFW's ``pairs.txt`` (and ``pairsDevTrain/Test.txt``): a header ``SETS N`` (or just ``N``:
    one set), then per set N lines ``name i j`` (same person) and N lines ``name i other j``.
    Paths are ``name/name_000i.jpg`` under ``--root`` (the ``lfw/`` folder); the sets are the
    ten folds of the protocol."""
    header = _LFW_HEADER.match(lines[0])
    if header is None:
        raise PairsFileError(f"{path}:1: not an LFW pairs header: {lines[0]!r}")
    sets, per = (int(header[1]), int(header[2])) if header[2] else (1, int(header[1]))
    body = [(n, line) for n, line in enumerate(lines[1:], start=2) if line.strip()]
    if sets < 1 or per < 1 or len(body) != sets * 2 * per:
        raise PairsFileError(
            f"{path}: LFW header says {sets} set(s) of {per} + {per} pairs, "
            f"the file has {len(body)} pair lines"
        )

    def image(name: str, index: str, line: int) -> str:
        if not index.isdigit() or int(index) < 1:
            raise PairsFileError(f"{path}:{line}: image number must be a positive integer, got {index!r}")
        return f"{name}/{name}_{int(index):04d}.jpg"

    pairs = []
    for i, (line_no, line) in enumerate(body):
        fields = line.split()
        fold = i // (2 * per)
        if len(fields) == 3:
            name, a, b = fields
            pairs.append(Pair(image(name, a, line_no), image(name, b, line_no), True, fold))
        elif len(fields) == 4:
            name_a, a, name_b, b = fields
            pairs.append(Pair(image(name_a, a, line_no), image(name_b, b, line_no), False, fold))
        else:
            raise PairsFileError(
                f"{path}:{line_no}: expected 'name i j' or 'name i other j', got {len(fields)} field(s)"
            )
    return pairs


def pick_subject(detections: Sequence[Detection], shape: tuple[int, ...]) -> Detection | None:
    """The face a verification photo is about: the largest one covering the image centre, else the
    one nearest the centre (benchmark photos often show bystanders)."""
    if not detections:
        return None
    h, w = shape[:2]
    cx, cy = w / 2, h / 2
    covering = [d for d in detections if d.bbox[0] <= cx <= d.bbox[2] and d.bbox[1] <= cy <= d.bbox[3]]
    if covering:
        return max(covering, key=lambda d: d.width * d.height)

    def dist(d: Detection) -> float:
        return math.hypot((d.bbox[0] + d.bbox[2]) / 2 - cx, (d.bbox[1] + d.bbox[3]) / 2 - cy)

    return min(detections, key=dist)


def _fallback_crop(image: ImageArray) -> ImageArray:
    """Centre crop for photos where no face is found (pre-cropped benchmark faces)."""
    import cv2

    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = image[y0 : y0 + side, x0 : x0 + side]
    return np.ascontiguousarray(cv2.resize(crop, (112, 112), interpolation=cv2.INTER_AREA))


# ---- pure metrics -------------------------------------------------------------------------------


def accuracy_at(scores: FloatArray, labels: np.ndarray, threshold: float) -> float:
    return float(np.mean((scores >= threshold) == labels))


def best_threshold(scores: FloatArray, labels: np.ndarray) -> tuple[float, float]:
    """Threshold maximising accuracy (midpoints between sorted scores), and that accuracy."""
    s = np.sort(np.unique(scores))
    candidates = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2, [s[-1] + 1e-6]])
    # Vectorised over candidates: (C, N) comparisons are fine for a few thousand pairs.
    accs = ((scores[None, :] >= candidates[:, None]) == labels[None, :]).mean(axis=1)
    i = int(np.argmax(accs))
    return float(candidates[i]), float(accs[i])


def kfold_accuracy(scores: FloatArray, labels: np.ndarray, folds: np.ndarray) -> tuple[float, float]:
    """Standard LFW protocol: threshold chosen on the other folds, accuracy on the held-out one."""
    accs = []
    for f in np.unique(folds):
        test = folds == f
        thr, _ = best_threshold(scores[~test], labels[~test])
        accs.append(accuracy_at(scores[test], labels[test], thr))
    return float(np.mean(accs)), float(np.std(accs))


def tar_at_far(scores: FloatArray, labels: np.ndarray, far: float) -> tuple[float, float]:
    """Highest TAR with FAR <= ``far`` and the threshold that gives it."""
    impostor = np.sort(scores[~labels])[::-1]
    genuine = scores[labels]
    allowed = math.floor(far * len(impostor))
    # Accept scores strictly above the (allowed+1)-th highest impostor score.
    threshold = (
        float(np.nextafter(impostor[allowed], np.float32(np.inf))) if allowed < len(impostor) else -1.0
    )
    return float(np.mean(genuine >= threshold)), threshold


def rates_at(scores: FloatArray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    return float(np.mean(scores[labels] >= threshold)), float(np.mean(scores[~labels] >= threshold))


def roc_curve(scores: FloatArray, labels: np.ndarray) -> tuple[FloatArray, FloatArray, FloatArray]:
    order = np.argsort(-scores, kind="stable")
    s, lab = scores[order], labels[order]
    tps = np.cumsum(lab)
    fps = np.cumsum(~lab)
    return (fps / max(1, (~lab).sum())).astype(np.float32), (tps / max(1, lab.sum())).astype(np.float32), s


def summarize(
    scores: FloatArray, labels: np.ndarray, folds: np.ndarray | None, thresholds: Thresholds
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    source = "column"
    if folds is None and len(scores) >= 20:
        # No fold column: ten contiguous splits in file order, the LFW protocol (pairs.txt is
        # ordered by fold) and what scikit-learn's KFold(shuffle=False) gives.
        folds = np.arange(len(scores)) * 10 // len(scores)
        source = "contiguous"
    if folds is not None:
        mean, std = kfold_accuracy(scores, labels, folds)
        out["acc_10fold"] = round(mean, 5)
        out["acc_10fold_std"] = round(std, 5)
        out["folds"] = len(np.unique(folds))
        out["folds_from"] = source
    thr, acc = best_threshold(scores, labels)
    out["acc_best"] = round(acc, 5)
    out["threshold_best"] = round(thr, 4)
    for name, far in (("1e-3", 1e-3), ("1e-2", 1e-2)):
        tar, t = tar_at_far(scores, labels, far)
        out[f"tar_at_far_{name}"] = round(tar, 5)
        out[f"threshold_at_far_{name}"] = round(t, 4)
    for name, t in (("match", thresholds.match), ("low_confidence", thresholds.low_confidence)):
        tar, far_ = rates_at(scores, labels, t)
        out[f"{name}_threshold"] = t
        out[f"tar_at_{name}_threshold"] = round(tar, 5)
        out[f"far_at_{name}_threshold"] = round(far_, 5)
    out["impostor_pairs"] = int((~labels).sum())
    out["genuine_pairs"] = int(labels.sum())
    return out


def plot_roc(
    scores: FloatArray, labels: np.ndarray, thresholds: Thresholds, out: Path, title: str = ""
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    far, tar, _ = roc_curve(scores, labels)
    fig, (ax, hx) = plt.subplots(1, 2, figsize=(11, 4.5))
    floor = 1.0 / max(10, int((~labels).sum()))
    ax.plot(np.maximum(far, floor), tar, lw=2, label="ROC")
    for name, t, color in (
        ("match", thresholds.match, "tab:green"),
        ("low_confidence", thresholds.low_confidence, "tab:orange"),
    ):
        t_tar, t_far = rates_at(scores, labels, t)
        ax.plot(
            [max(t_far, floor)],
            [t_tar],
            "o",
            color=color,
            ms=9,
            label=f"{name} {t:.2f}: TAR {t_tar:.3f}, FAR {t_far:.4f}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("false accept rate (log)")
    ax.set_ylabel("true accept rate")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or "ROC")
    bins = np.linspace(-0.3, 1.0, 66)
    hx.hist(scores[labels], bins=bins, alpha=0.6, label="same person", color="tab:blue")
    hx.hist(scores[~labels], bins=bins, alpha=0.6, label="different people", color="tab:red")
    hx.axvline(thresholds.match, color="tab:green", ls="--", label="match threshold")
    hx.axvline(thresholds.low_confidence, color="tab:orange", ls="--", label="low-confidence threshold")
    hx.set_xlabel("cosine similarity")
    hx.set_ylabel("pairs")
    hx.legend(fontsize=8)
    hx.set_title("score distributions")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


# ---- running the pipeline -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvalResult:
    summary: dict[str, Any]
    scores: FloatArray
    labels: np.ndarray


def find_subject(recognizer: Recognizer, image: ImageArray) -> Detection | None:
    """The photo's main face, with second chances for hard photos: a lower detector threshold,
    then the image upscaled (small or tightly cropped faces), then padded (a face that fills the
    frame, which BlazeFace's full-range model misses without context around it)."""
    detector = recognizer.detector
    det = pick_subject(detector.detect(image), image.shape)
    if det is None:
        det = pick_subject(detector.detect(image, score_threshold=0.3), image.shape)
    if det is None and max(image.shape[:2]) <= 640:
        import cv2

        big = cv2.resize(image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LINEAR)
        up = pick_subject(detector.detect(big, score_threshold=0.3), big.shape)
        if up is not None:
            x1, y1, x2, y2 = up.bbox
            det = Detection(
                (x1 / 2, y1 / 2, x2 / 2, y2 / 2), np.asarray(up.landmarks / 2, np.float32), up.score
            )
    if det is None:
        import cv2

        pad = max(image.shape[:2]) // 2
        framed = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        found = pick_subject(detector.detect(framed, score_threshold=0.3), framed.shape)
        if found is not None:
            x1, y1, x2, y2 = found.bbox
            det = Detection(
                (x1 - pad, y1 - pad, x2 - pad, y2 - pad),
                np.asarray(found.landmarks - pad, np.float32),
                found.score,
            )
    return det


def embed_for_verification(recognizer: Recognizer, image: ImageArray) -> tuple[FloatArray, bool]:
    """Embedding of the photo's subject; second value False when no face was detected."""
    det = find_subject(recognizer, image)
    if det is None:
        return recognizer.embedder.embed(_fallback_crop(image)[None])[0], False
    aligned = align_face(image, det.landmarks)
    if recognizer.backlight is not None:
        # The daemon's backlight rule, so a backlit photo is judged the way a door frame would be.
        first = FaceCandidate(det, aligned, recognizer.judge(det, aligned, image.shape))
        merged = recognizer.backlight_pass(image, [first])
        aligned = max(merged, key=lambda c: iou(c.detection.bbox, det.bbox)).aligned
    return recognizer.embedder.embed(aligned[None])[0], True


def evaluate_pairs(
    recognizer: Recognizer,
    pairs: Sequence[Pair],
    root: Path,
    *,
    progress: Callable[[int], Any] | None = None,
) -> EvalResult:
    if all(p.same for p in pairs) or not any(p.same for p in pairs):
        raise PairsFileError("pairs need both same-person (1) and different-person (0) rows")
    paths = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    index = {p: i for i, p in enumerate(paths)}
    emb = np.zeros((len(paths), 128), np.float32)
    ok = np.ones(len(paths), bool)
    no_detection = 0
    unreadable: list[str] = []
    elapsed = 0.0
    for p in paths:
        try:
            image = load_image(root / p)
        except ImageError as exc:
            unreadable.append(str(exc))
            ok[index[p]] = False
            if progress:
                progress(1)
            continue
        t0 = time.perf_counter()
        vec, found = embed_for_verification(recognizer, image)
        elapsed += time.perf_counter() - t0
        emb[index[p]] = vec
        no_detection += int(not found)
        if progress:
            progress(1)
    a = np.array([index[p.path_a] for p in pairs])
    b = np.array([index[p.path_b] for p in pairs])
    scores = np.einsum("ij,ij->i", emb[a], emb[b]).astype(np.float32)
    # A pair with an unreadable image counts as a non-match (an error for same-person pairs).
    scores[~(ok[a] & ok[b])] = -1.0
    labels = np.array([p.same for p in pairs], bool)
    folds = None
    if all(p.fold is not None for p in pairs):
        folds = np.array([p.fold for p in pairs])
    summary: dict[str, Any] = {
        "pairs": len(pairs),
        "images": len(paths),
        "no_detection": no_detection,
        "unreadable": len(unreadable),
    }
    summary.update(summarize(scores, labels, folds, recognizer.thresholds))
    readable = int(ok.sum())
    summary["ms_per_image"] = round(1000 * elapsed / max(1, readable), 2)
    summary["model_id"] = recognizer.model_id
    if unreadable:
        summary["unreadable_files"] = unreadable[:20]
    return EvalResult(summary, scores, labels)
