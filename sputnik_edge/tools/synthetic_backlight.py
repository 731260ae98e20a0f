"""A synthetic backlight set: dev photos composited in front of a bright window, as a door camera
whose auto-exposure meters the window renders them (dark, flat face; veiling glare; sensor noise;
JPEG). Test data only: the scenes hold real faces and are built in memory, never written to the repo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from sputnik_edge.vision.types import Detection

# strength -> (stops the person is under-exposed by, veiling glare as a share of full scale, in linear
# light). Measured on the 22 single-face dev photos (tests/unit/vision/test_backlight.py): at "mild"
# today's pipeline still finds every face; at "extreme" it finds none.
STRENGTHS: dict[str, tuple[float, float]] = {
    "mild": (4.0, 0.01),
    "strong": (5.0, 0.02),
    "extreme": (6.0, 0.02),
}
_GAMMA = 2.2
SCENE_HW = (480, 640)
FACE_WIDTH_PX = 110


@dataclass(frozen=True, slots=True)
class Scene:
    image: npt.NDArray[np.uint8]
    strength: str
    face_box: tuple[float, float, float, float]  # where the face was placed, scene pixels


def window(h: int, w: int) -> npt.NDArray[np.float32]:
    """A bright window: near white with a hot spot and three darker mullions."""
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    bg = 238 + 12 * np.exp(-((x - 0.5) ** 2 + (y - 0.3) ** 2) * 3)
    out = np.repeat(bg[..., None], 3, axis=2).astype(np.float32)
    for fx in (0.33, 0.66):
        out[:, int(fx * w) - 4 : int(fx * w) + 4] = 150
    out[int(0.55 * h) - 3 : int(0.55 * h) + 3, :] = 150
    return out


def _person_mask(h: int, w: int, cx: float, cy: float, face_w: float) -> npt.NDArray[np.float32]:
    """Head, neck and shoulders around the face centre, softly edged."""
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(
        mask, (int(cx), int(cy + face_w * 0.05)), (int(face_w * 0.62), int(face_w * 0.85)), 0, 0, 360, 1.0, -1
    )
    cv2.rectangle(
        mask,
        (int(cx - face_w * 0.25), int(cy + face_w * 0.5)),
        (int(cx + face_w * 0.25), int(cy + face_w * 1.2)),
        1.0,
        -1,
    )
    cv2.ellipse(
        mask, (int(cx), int(cy + face_w * 1.9)), (int(face_w * 1.4), int(face_w * 0.9)), 0, 0, 360, 1.0, -1
    )
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), 3), dtype=np.float32)


def backlit_scene(
    photo: npt.NDArray[np.uint8],
    face: Detection,
    strength: str,
    *,
    seed: int = 0,
    jpeg_quality: int = 85,
    offset: tuple[int, int] = (0, 0),
) -> Scene:
    """``photo``'s person (``face`` located in it) in front of a window at ``strength``.

    ``offset`` (x, y pixels) moves the person from the scene's centre while the window stays: a
    sequence of scenes with growing offsets is a person moving in front of a fixed window frame.
    """
    if strength not in STRENGTHS:
        raise ValueError(f"backlight strength must be one of {', '.join(STRENGTHS)}, got {strength!r}")
    stops, glare = STRENGTHS[strength]
    h, w = SCENE_HW
    x1, y1, x2, y2 = face.bbox
    s = FACE_WIDTH_PX / max(1.0, x2 - x1)
    small = cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    cx, cy = w / 2 + offset[0], h * 0.42 + offset[1]
    ox, oy = int(cx - (x1 + x2) / 2 * s), int(cy - (y1 + y2) / 2 * s)
    fg = np.zeros((h, w, 3), np.float32)
    valid = np.zeros((h, w), np.float32)
    sh, sw = small.shape[:2]
    xa, ya, xb, yb = max(0, ox), max(0, oy), min(w, ox + sw), min(h, oy + sh)
    fg[ya:yb, xa:xb] = small[ya - oy : yb - oy, xa - ox : xb - ox]
    valid[ya:yb, xa:xb] = 1.0
    mask = (_person_mask(h, w, cx, cy, FACE_WIDTH_PX) * valid)[..., None]
    # Exposure works in linear light: the camera exposes for the window, the person gets 2**-stops
    # of the light a correct exposure would give, and stray light from the window (veiling glare)
    # adds the same small amount everywhere, which flattens the shadows.
    person = (fg / 255.0) ** _GAMMA * (2.0**-stops)
    background = (window(h, w) / 255.0) ** _GAMMA
    linear = person * mask + background * (1 - mask) + glare
    out = np.clip(linear, 0.0, 1.0) ** (1 / _GAMMA) * 255.0
    out += np.random.default_rng(seed).normal(0.0, 2.0, out.shape)
    img = np.clip(out, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    scene = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)
    box = (x1 * s + ox, y1 * s + oy, x2 * s + ox, y2 * s + oy)
    return Scene(scene, strength, box)
