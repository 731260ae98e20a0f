"""What event outputs may send, written out from the README ("Event outputs") rather than imported
from the code: the tests check the code against the documentation."""

from __future__ import annotations

DOCUMENTED = frozenset(
    {
        "event_id",
        "seq",
        "device_id",
        "camera_id",
        "kind",
        "employee_id",
        "name",
        "similarity",
        "captured_at",
        "track_id",
        "liveness",
    }
)
# Dev photos of people nobody enrols in these tests: pushed to the gateway they give `unknown`.
UNKNOWN_PHOTOS = [
    "images/barack_obama/obama.jpg",
    "images/joe_biden/biden.jpg",
    "images/kit_harington/john1.jpeg",
]
