"""Passwords, API tokens, session cookies, CSRF and the login rate limiter."""

from __future__ import annotations

import hashlib
import threading
from typing import Literal

import pytest
from argon2 import PasswordHasher

from sputnik_edge.office.security import (
    API_TOKEN_PREFIX,
    LoginRateLimiter,
    Session,
    SessionSigner,
    csrf_token,
    generate_api_token,
    hash_api_token,
    hash_password,
    is_api_token,
    password_needs_rehash,
    verify_api_token,
    verify_csrf,
    verify_password,
)

# Cheap parameters keep the tests fast on a shared 2-core machine; one test uses the default.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
STRONGER = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
KEY = "k" * 32
OTHER_KEY = "o" * 32


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# Passwords


def test_password_hash_and_verify() -> None:
    stored = hash_password("correct horse батарея", hasher=FAST)
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse батарея", hasher=FAST)
    assert not verify_password(stored, "correct horse батарея ", hasher=FAST)
    assert not verify_password(stored, "", hasher=FAST)
    assert hash_password("same", hasher=FAST) != hash_password("same", hasher=FAST)  # salted


def test_default_hasher_round_trip() -> None:
    stored = hash_password("s3cret!")
    assert verify_password(stored, "s3cret!")
    assert not verify_password(stored, "s3cret?")
    assert not password_needs_rehash(stored)


def test_broken_or_missing_hash_never_verifies() -> None:
    assert not verify_password("", "x", hasher=FAST)
    assert not verify_password("$argon2id$garbage", "x", hasher=FAST)
    assert not verify_password("plain-text-password", "plain-text-password", hasher=FAST)


def test_unknown_user_costs_a_real_verification() -> None:
    calls: list[str] = []

    class Spy(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            calls.append(str(hash))
            return super().verify(hash, password)

    spy = Spy(time_cost=1, memory_cost=8, parallelism=1)
    assert not verify_password(None, "anything", hasher=spy)
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


def test_needs_rehash_when_parameters_grow() -> None:
    weak = hash_password("pw", hasher=FAST)
    assert not password_needs_rehash(weak, hasher=FAST)
    assert password_needs_rehash(weak, hasher=STRONGER)
    assert password_needs_rehash("not-a-hash", hasher=FAST)


# API tokens


def test_api_token_is_shown_once_and_stored_as_sha256() -> None:
    issued = generate_api_token()
    assert issued.token.startswith(API_TOKEN_PREFIX) and issued.token.startswith("spo_")
    assert issued.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert hash_api_token(issued.token) == issued.token_hash
    assert issued.token not in repr(issued)
    assert issued.token.startswith(issued.hint) and len(issued.hint) < len(issued.token) // 2
    assert is_api_token(issued.token)
    assert verify_api_token(issued.token, issued.token_hash)
    assert generate_api_token().token != issued.token


def test_api_token_refuses_near_misses() -> None:
    issued = generate_api_token()
    body = issued.token[len(API_TOKEN_PREFIX) :]
    flipped = API_TOKEN_PREFIX + ("A" if body[0] != "A" else "B") + body[1:]
    assert not verify_api_token(flipped, issued.token_hash)
    assert not verify_api_token(issued.token + "x", issued.token_hash)
    assert not verify_api_token("xyz_" + body, issued.token_hash)
    assert not verify_api_token(issued.token, hashlib.sha256(b"other").hexdigest())
    assert not verify_api_token("spo_" + "ж" * 43, issued.token_hash)
    assert not is_api_token("spo_short")
    assert not is_api_token("Bearer " + issued.token)


# Session cookies


def test_session_cookie_round_trip() -> None:
    signer = SessionSigner(KEY, max_age_seconds=3600, clock=Clock())
    session = signer.new_session("user-42")
    assert isinstance(session, Session) and len(session.session_id) >= 32
    value = signer.dumps(session)
    assert signer.loads(value) == session
    assert signer.new_session("user-42").session_id != session.session_id


@pytest.mark.parametrize("position", [0, 5, -1, -5])
def test_tampered_cookie_is_refused(position: int) -> None:
    signer = SessionSigner(KEY, clock=Clock())
    value = signer.dumps(Session("sid-1", "user-1"))
    i = position % len(value)
    replacement = "A" if value[i] != "A" else "B"
    assert signer.loads(value[:i] + replacement + value[i + 1 :]) is None


def test_cookie_signed_elsewhere_is_refused() -> None:
    clock = Clock()
    value = SessionSigner(OTHER_KEY, clock=clock).dumps(Session("sid", "uid"))
    assert SessionSigner(KEY, clock=clock).loads(value) is None
    other_salt = SessionSigner(KEY, salt="another-purpose", clock=clock).dumps(Session("sid", "uid"))
    assert SessionSigner(KEY, clock=clock).loads(other_salt) is None
    assert SessionSigner(KEY, clock=clock).loads(None) is None
    assert SessionSigner(KEY, clock=clock).loads("") is None
    assert SessionSigner(KEY, clock=clock).loads("not.a.cookie") is None


def test_expired_cookie_is_refused() -> None:
    clock = Clock()
    signer = SessionSigner(KEY, max_age_seconds=600, clock=clock)
    value = signer.dumps(Session("sid", "uid"))
    clock.t += 600
    assert signer.loads(value) == Session("sid", "uid")  # exactly max age: still valid
    clock.t += 1
    assert signer.loads(value) is None


def test_cookie_from_the_future_is_refused() -> None:
    clock = Clock()
    signer = SessionSigner(KEY, clock=clock)
    value = signer.dumps(Session("sid", "uid"))
    clock.t -= 120  # the clock went back: the signature claims a time that has not come
    assert signer.loads(value) is None


def test_well_signed_but_wrong_shape_is_refused() -> None:
    signer = SessionSigner(KEY, clock=Clock())
    serializer = signer._serializer
    assert signer.loads(serializer.dumps(["sid", "uid"])) is None
    assert signer.loads(serializer.dumps({"sid": "s", "uid": 7})) is None
    assert signer.loads(serializer.dumps({"sid": "", "uid": "u"})) is None


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionSigner("short")
    with pytest.raises(ValueError, match="32 bytes"):
        csrf_token("short", "sid")


# CSRF


def test_csrf_token_is_bound_to_the_session_and_key() -> None:
    token = csrf_token(KEY, "session-a")
    assert len(token) == 64 and int(token, 16) >= 0
    assert csrf_token(KEY, "session-a") == token
    assert verify_csrf(KEY, "session-a", token)
    assert not verify_csrf(KEY, "session-b", token)
    assert not verify_csrf(OTHER_KEY, "session-a", token)
    assert not verify_csrf(KEY, "session-a", token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not verify_csrf(KEY, "session-a", None)
    assert not verify_csrf(KEY, "session-a", "")
    assert not verify_csrf(KEY, "session-a", "ё" * 64)  # non-ASCII: refused, not a TypeError


# Login rate limiter


def test_limit_per_username_across_addresses() -> None:
    clock = Clock(100.0)
    limiter = LoginRateLimiter(per_address=10, per_username=3, window_seconds=60, clock=clock)
    for i in range(3):
        assert limiter.retry_after(f"10.0.0.{i}", "alice") == 0
        limiter.record_failure(f"10.0.0.{i}", "alice")
        clock.t += 10
    # Failures at 100, 110, 120; now 130: the first expires at 160.
    assert limiter.retry_after("10.9.9.9", "alice") == 30
    assert limiter.retry_after("10.9.9.9", "  ALICE ") == 30  # same account
    assert limiter.retry_after("10.0.0.0", "bob") == 0  # that address has only 1 failure


def test_limit_per_address_across_usernames() -> None:
    clock = Clock(0.0)
    limiter = LoginRateLimiter(per_address=5, per_username=3, window_seconds=60, clock=clock)
    for i in range(5):
        limiter.record_failure("203.0.113.7", f"user{i}")
    assert limiter.retry_after("203.0.113.7", "somebody-new") == 60
    assert limiter.retry_after("198.51.100.1", "somebody-new") == 0


def test_window_slides() -> None:
    clock = Clock(0.0)
    limiter = LoginRateLimiter(per_address=100, per_username=3, window_seconds=60, clock=clock)
    for t in (0.0, 30.0, 59.0):
        clock.t = t
        limiter.record_failure("a", "u")
    assert limiter.retry_after("a", "u") == 1  # 0 + 60 - 59
    clock.t = 60.0
    assert limiter.retry_after("a", "u") == 0  # the failure at 0 has left the window
    limiter.record_failure("a", "u")
    assert limiter.retry_after("a", "u") == 30  # failures at 30, 59, 60: free at 90
    clock.t = 89.5
    assert limiter.retry_after("a", "u") == 1  # rounded up, never 0 while blocked
    clock.t = 90.0
    assert limiter.retry_after("a", "u") == 0


def test_success_clears_the_username_but_not_the_address() -> None:
    clock = Clock(0.0)
    limiter = LoginRateLimiter(per_address=3, per_username=3, window_seconds=60, clock=clock)
    for _ in range(3):
        limiter.record_failure("a", "u")
    limiter.record_success("u")
    assert limiter.retry_after("b", "u") == 0
    assert limiter.retry_after("a", "other") == 60


def test_memory_is_bounded() -> None:
    clock = Clock(0.0)
    limiter = LoginRateLimiter(per_address=5, per_username=5, window_seconds=60, max_keys=50, clock=clock)
    for i in range(1000):
        limiter.record_failure(f"addr-{i}", "x" * 10_000 + str(i))
    assert limiter.tracked_keys() == (50, 50)
    # The newest keys are the ones kept.
    for _ in range(4):
        limiter.record_failure("addr-999", "y")
    assert limiter.retry_after("addr-999", "z") == 60


def test_expired_keys_are_forgotten() -> None:
    clock = Clock(0.0)
    limiter = LoginRateLimiter(per_address=5, per_username=5, window_seconds=60, clock=clock)
    limiter.record_failure("a", "u")
    clock.t = 61.0
    assert limiter.retry_after("a", "u") == 0
    assert limiter.tracked_keys() == (0, 0)


def test_concurrent_use() -> None:
    limiter = LoginRateLimiter(per_address=1_000_000, per_username=4_000, window_seconds=3600, max_keys=64)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(500):
                limiter.record_failure(f"t{n}-{i}", "shared")
                limiter.retry_after(f"t{n}-{i}", f"user-{i}")
        except BaseException as exc:  # pragma: no cover - only on failure
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert limiter.tracked_keys()[0] == 64
    # 8 x 500 = 4000 failures for "shared": exactly the limit, so it is now blocked.
    wait = limiter.retry_after("fresh", "shared")
    assert 0 < wait <= 3600


def test_limiter_arguments_are_validated() -> None:
    with pytest.raises(ValueError):
        LoginRateLimiter(per_username=0)
    with pytest.raises(ValueError):
        LoginRateLimiter(window_seconds=0)
