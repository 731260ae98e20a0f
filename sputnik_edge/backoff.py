"""Capped exponential backoff with jitter, on a monotonic clock: one piece for cameras and sync."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    """The n-th consecutive failure waits ``min(max_s, initial_s * 2**(n-1))`` scaled by a random
    factor in ``jitter``; a success resets it.

    Jitter keeps many devices (or cameras behind one failed switch) from retrying in lockstep: the
    central sync uses "equal jitter" (0.5-1.0 of the cap), cameras a small one (1.0-1.1) so their
    documented reconnect schedule stays recognisable.
    """

    def __init__(
        self,
        initial_s: float = 1.0,
        max_s: float = 60.0,
        *,
        jitter: tuple[float, float] = (0.5, 1.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError(f"backoff needs 0 < initial_s <= max_s, got {initial_s} and {max_s}")
        low, high = jitter
        if not 0 < low <= high:
            raise ValueError(f"backoff jitter must be 0 < low <= high, got {jitter}")
        self.initial_s = initial_s
        self.max_s = max_s
        self.jitter = (low, high)
        self.clock = clock
        self.failures = 0
        self.next_at = 0.0

    def cap(self) -> float:
        """The un-jittered delay the next failure would get."""
        return min(self.max_s, self.initial_s * 2**self.failures)

    def ready(self) -> bool:
        return self.clock() >= self.next_at

    def failed(self) -> float:
        """Count a failure; returns the delay until the next try (also kept in ``next_at``)."""
        cap = self.cap()
        self.failures += 1
        delay = cap * random.uniform(*self.jitter)
        self.next_at = self.clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_at = 0.0
