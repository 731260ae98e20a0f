"""mediapipe's native banners on fd 2 become debug events; everything else on stderr survives.

The wrapper lives in sputnik_edge.vision.blazeface but needs no mediapipe: it is plain fd work."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from sputnik_edge.vision import blazeface

BANNERS = [
    "INFO: [environment.cc:36] Creating LiteRT environment with options",
    "WARNING: [model_load.cc:402] Sparsity tensors may not yet be fully supported.",
    "W0000 00:00:1795813524.735491    9287 inference_runner_litert.cc:1433] Input tensor memory",
]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def debug(self, event: str, **kw: Any) -> None:
        self.events.append((event, kw))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(blazeface, "log", rec)
    return rec


def test_banners_logged_others_passed_through_even_when_the_body_fails(
    capfd: pytest.CaptureFixture[str], recorder: Recorder
) -> None:
    ours = '{"event": "frame_done", "level": "info"}'
    with pytest.raises(RuntimeError, match="graph refused"), blazeface._native_stderr_to_log():
        os.write(
            2,
            (
                "\n".join([BANNERS[0], ours, BANNERS[1], "Traceback (most recent call last):", BANNERS[2]])
                + "\n"
            ).encode(),
        )
        raise RuntimeError("graph refused")
    err = capfd.readouterr().err
    assert ours in err and "Traceback (most recent call last):" in err
    assert not any(b in err for b in BANNERS)
    assert recorder.events == [("mediapipe_native", {"line": b}) for b in BANNERS]
    # fd 2 is the real stderr again.
    os.write(2, b"after the wrapper\n")
    assert "after the wrapper" in capfd.readouterr().err


def test_overlapping_wrappers_restore_stderr(capfd: pytest.CaptureFixture[str], recorder: Recorder) -> None:
    start = threading.Barrier(4)

    def work(i: int) -> None:
        start.wait()
        with blazeface._native_stderr_to_log():
            os.write(2, f"INFO: [x.cc:{i}] banner {i}\nline from thread {i}\n".encode())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(2, b"still here\n")
    err = capfd.readouterr().err
    assert "still here" in err
    assert all(f"line from thread {i}" in err for i in range(4))
    assert "banner" not in err
    assert sorted(kw["line"] for _, kw in recorder.events) == [
        f"INFO: [x.cc:{i}] banner {i}" for i in range(4)
    ]
