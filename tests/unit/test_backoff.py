"""The one backoff of cameras and central sync: exponential, capped, jittered, reset by success."""

from __future__ import annotations

import pytest

from sputnik_edge.backoff import Backoff


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    clock = FakeClock()
    b = Backoff(initial_s=1.0, max_s=8.0, clock=clock)
    assert b.ready()
    for n in range(1, 8):
        delay = b.failed()
        cap = min(8.0, 2 ** (n - 1))
        assert cap / 2 <= delay <= cap, (n, delay)
        assert not b.ready()
        clock.now += delay
        assert b.ready()
    assert b.failures == 7
    b.succeeded()
    assert b.failures == 0 and b.ready()
    assert b.cap() == 1.0


def test_backoff_jitter_spreads_devices() -> None:
    delays = {round(Backoff(initial_s=4.0, max_s=60, clock=FakeClock()).failed(), 6) for _ in range(20)}
    assert len(delays) > 10  # not one synchronised retry for a whole fleet


def test_camera_schedule_doubles_from_half_a_second_to_ten() -> None:
    """The cameras' documented schedule: 0.5 s doubling, capped at 10 s, within 10 % jitter."""
    b = Backoff(0.5, 10.0, jitter=(1.0, 1.1), clock=FakeClock())
    delays = [b.failed() for _ in range(8)]
    for delay, cap in zip(delays, [0.5, 1, 2, 4, 8, 10, 10, 10], strict=True):
        assert cap <= delay <= cap * 1.1
    b.succeeded()
    assert 0.5 <= b.failed() <= 0.55


@pytest.mark.parametrize(
    ("initial", "maximum", "jitter"), [(0, 1, (0.5, 1)), (2, 1, (0.5, 1)), (1, 2, (1, 0.5))]
)
def test_bad_parameters_are_refused(initial: float, maximum: float, jitter: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(initial, maximum, jitter=jitter)
