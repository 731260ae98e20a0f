"""Markdown tables and console lines of the ``imagesets`` and ``embedders`` sections."""

from __future__ import annotations

from typing import Any

from sputnik_edge.tools.bench.formatting import MISSING, num, pct, timed, times_x
from sputnik_edge.tools.bench.imagesets_results import EmbedderCandidates, ImageSet, ImageSetsResult

LABEL = {
    "ours": "ours (onnxruntime, int8 SFace)",
    "opencv_zoo": "OpenCV Zoo reference",
    "face_recognition": "face_recognition (dlib)",
}


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def _pipelines(s: ImageSet) -> list[str]:
    return [p for p in ("ours", "opencv_zoo", "face_recognition") if getattr(s, p) is not None]


# What "in blocks" means, and what the interleaved rows beside it are (formatting.timed names it).
_BLOCKS_NOTE = (
    " (each pipeline through the whole set in turn, the first one rotating per round: each in its "
    "own steady state, as on a device); the interleaved rows run ours and the reference image by "
    "image, each with the other's weights in the cache"
)


def md_imagesets(d: ImageSetsResult) -> str:
    rows: list[list[Any]] = []
    for s in d.sets:
        for p in _pipelines(s):
            t = getattr(s, p)
            r = getattr(s, f"ratio_{p}", None)
            rows.append(
                [
                    f"{s.name}: {s.images} images, {s.sizes}" if p == "ours" else "",
                    LABEL[p],
                    num(t.ms_per_image, 2),
                    num(t.ms_per_face, 2),
                    t.faces,
                    times_x(r.per_image) if r is not None else "1x",
                    times_x(r.per_face) if r is not None else "1x",
                ]
            )
        if s.interleaved is not None:
            i = s.interleaved
            for p, t in (("ours", i.ours), ("opencv_zoo", i.opencv_zoo)):
                r = i.ratio_opencv_zoo if p == "opencv_zoo" else None
                rows.append(
                    [
                        "",
                        f"{LABEL[p]}, interleaved image by image",
                        num(t.ms_per_image, 2),
                        num(t.ms_per_face, 2),
                        t.faces,
                        times_x(r.per_image) if r is not None else "1x",
                        times_x(r.per_face) if r is not None else "1x",
                    ]
                )
    header = [
        "set",
        "pipeline",
        "ms per image",
        "ms per face",
        "faces",
        "per image vs ours",
        "per face vs ours",
    ]
    notes = [f"- {s.name}: {s.description}, {s.rounds} rounds" for s in d.sets]
    notes.append(f"- main rows timed {timed(d.order)}" + (_BLOCKS_NOTE if d.order == "blocks" else ""))
    if not d.face_recognition_available:
        notes.append("- face_recognition was not importable in this run")
    return _table(header, rows) + "\n\n" + "\n".join(notes)


def md_embedders(d: EmbedderCandidates) -> str:
    rows = [
        [
            f"**{c.name}**" if c.kept else c.name,
            f"`{c.model}`",
            c.options,
            num(c.ms_per_face_batch1, 2),
            num(c.ms_per_face_batch4, 2),
            times_x(c.speedup_batch1),
            pct(c.acc_best) if c.acc_best is not None else MISSING,
            c.note,
        ]
        for c in d.candidates
    ]
    header = [
        "candidate",
        "model",
        "session options",
        "ms/face batch 1",
        "ms/face batch 4",
        "speed-up vs float32 (batch 1)",
        "calib pairs best acc",
        "note",
    ]
    return (
        _table(header, rows)
        + f"\n\n{d.crops} aligned dev faces, {d.rounds} interleaved rounds, "
        + f"`recognition.threads` {d.threads} (0: onnxruntime's default)."
    )


def console_imagesets(d: ImageSetsResult) -> list[str]:
    lines = [f"\nimagesets (same images, {d.order}): ms per image / per face, ratio reference/ours"]
    for s in d.sets:
        lines.append(f"  {s.name} ({s.images} images, {s.sizes})")
        for p in _pipelines(s):
            t = getattr(s, p)
            r = getattr(s, f"ratio_{p}", None)
            tail = f"  {r.per_image}x per image, {r.per_face}x per face" if r is not None else ""
            lines.append(f"    {p:<17} {t.ms_per_image:>8.2f} {t.ms_per_face:>8.2f} ({t.faces} faces){tail}")
        if s.interleaved is not None:
            r = s.interleaved.ratio_opencv_zoo
            lines.append(f"    interleaved image by image: {r.per_image}x per image, {r.per_face}x per face")
    return lines


def console_embedders(d: EmbedderCandidates) -> list[str]:
    lines = ["\nembedders: ms per face batch 1 / batch 4, speed-up vs float32"]
    for c in d.candidates:
        acc = f", acc {c.acc_best:.4f}" if c.acc_best is not None else ""
        times = f"{c.ms_per_face_batch1:>7.2f} {c.ms_per_face_batch4:>7.2f}"
        lines.append(f"  {c.name:<24} {times} {c.speedup_batch1}x{acc}")
    return lines
