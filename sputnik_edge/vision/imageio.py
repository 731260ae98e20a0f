"""Decoding untrusted image bytes into BGR arrays, with errors that say what is wrong.

Pillow reads the header first, so a file declaring a huge pixel count is refused before any
pixel is decoded (decompression bombs), and a truncated JPEG raises instead of decoding
into a half-grey picture as OpenCV would.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sputnik_edge.vision.types import ImageArray

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP"})
DEFAULT_MAX_PIXELS = 40_000_000  # a 1080p frame is 2 Mpx; a 48 Mpx phone photo is refused
# Pillow's own bomb guard would only warn below 2x its limit; ours is explicit.
Image.MAX_IMAGE_PIXELS = None


class ImageError(ValueError):
    """An input that cannot be used as an image. ``code`` is stable for API answers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class DecodedImage:
    image: ImageArray  # BGR, uint8, (H, W, 3)
    format: str
    width: int
    height: int


def sniff_format(data: bytes) -> str | None:
    """The image format judged by content (magic bytes), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data.startswith(b"BM"):
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def decode_image(
    data: bytes,
    *,
    min_side: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    formats: frozenset[str] = SUPPORTED_FORMATS,
    name: str = "image",
) -> DecodedImage:
    """Decode bytes into a BGR array or raise ImageError naming the problem."""
    if not data:
        raise ImageError("empty", f"{name}: empty file")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError("not_an_image", f"{name}: not an image (unrecognised content)")
    if fmt not in formats:
        raise ImageError(
            "unsupported_type", f"{name}: unsupported image type {fmt} (use {', '.join(sorted(formats))})"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(data))
            width, height = pil.size
            if width * height > max_pixels:
                raise ImageError(
                    "too_large",
                    f"{name}: {width}x{height} is {width * height} pixels, more than the limit {max_pixels}",
                )
            if min(width, height) < min_side:
                raise ImageError(
                    "too_small", f"{name}: {width}x{height} is too small (at least {min_side}x{min_side})"
                )
            pil.load()
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        code = "truncated" if "truncated" in detail.lower() else "corrupt"
        raise ImageError(code, f"{name}: cannot decode {fmt} ({detail})") from None
    # At most two full-size copies alive at a time (a 40 Mpx upload is 120 MB per copy; the former
    # chain transpose -> convert -> asarray -> flip -> ascontiguousarray held four or five at once).
    upright = ImageOps.exif_transpose(pil) or pil  # phone photos store rotation in EXIF
    del pil
    if upright.mode != "RGB":
        upright = upright.convert("RGB")
    rgb = np.asarray(upright)
    del upright
    bgr = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), dtype=np.uint8)
    del rgb
    return DecodedImage(image=bgr, format=fmt, width=bgr.shape[1], height=bgr.shape[0])


def load_image(path: str | Path, *, min_side: int = 32, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageArray:
    """Read an image file into BGR; ImageError names the file and the problem."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ImageError("missing", f"{p}: file not found") from None
    except IsADirectoryError:
        raise ImageError("missing", f"{p}: is a directory, not an image file") from None
    except PermissionError:
        raise ImageError("unreadable", f"{p}: permission denied") from None
    return decode_image(data, min_side=min_side, max_pixels=max_pixels, name=str(p)).image
