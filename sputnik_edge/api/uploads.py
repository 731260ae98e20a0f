"""Image uploads of the snapshot gateways (device and office): one validation, one set of answers.

JPEG, PNG or WEBP judged by content, at most ``max_upload`` bytes (413), at least 100x100 px (422),
undecodable or truncated (422), other types (415); decompression bombs refused from the header.
"""

from __future__ import annotations

from typing import Any

from fastapi import UploadFile

from sputnik_edge.api.errors import ApiError
from sputnik_edge.api.schemas import ErrorOut
from sputnik_edge.vision.imageio import DecodedImage, ImageError, decode_image

GATEWAY_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MIN_SIDE = 100
IMAGE_ERROR_STATUS = {
    "empty": 422,
    "not_an_image": 415,
    "unsupported_type": 415,
    "too_large": 413,
    "too_small": 422,
    "truncated": 422,
    "corrupt": 422,
}
UPLOAD_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed multipart body"},
    413: {"model": ErrorOut, "description": "Body or image too large"},
    415: {"model": ErrorOut, "description": "Not a JPEG, PNG or WEBP"},
    422: {"model": ErrorOut, "description": "Invalid request, undecodable, truncated or too small image"},
    429: {"model": ErrorOut, "description": "Per-client rate limit"},
}


def read_image_upload(file: UploadFile, *, max_upload: int, max_pixels: int) -> DecodedImage:
    """The decoded image, or an ApiError whose ``code`` says what was wrong (for metrics too)."""
    data = file.file.read(max_upload + 1)
    if len(data) > max_upload:
        raise ApiError(413, "too_large", f"file exceeds {max_upload} bytes")
    try:
        return decode_image(
            data, min_side=MIN_SIDE, max_pixels=max_pixels, formats=GATEWAY_FORMATS, name="file"
        )
    except ImageError as exc:
        raise ApiError(IMAGE_ERROR_STATUS.get(exc.code, 422), exc.code, str(exc)) from None
