"""Credentials for the office server: passwords, API tokens, session cookies, CSRF, login limits.

Everything cryptographic comes from a maintained library or the standard library: argon2-cffi for
passwords, ``secrets`` + SHA-256 for API tokens, itsdangerous for signed cookies, ``hmac`` for CSRF.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

MIN_SECRET_KEY_BYTES = 32
API_TOKEN_PREFIX = "spo_"
_TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"spo_[A-Za-z0-9_-]{43}")
_HINT_CHARS = 6
_CSRF_LABEL = b"sputnik-office csrf\x00"

# Argon2id with RFC 9106's low-memory profile (argon2-cffi's default): ~64 MiB, a few tens of ms.
DEFAULT_HASHER = PasswordHasher()


def _key_bytes(secret_key: str | bytes) -> bytes:
    key = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
    if len(key) < MIN_SECRET_KEY_BYTES:
        raise ValueError(f"the secret key must be at least {MIN_SECRET_KEY_BYTES} bytes")
    return key


# Passwords


def hash_password(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(password)


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def verify_password(
    stored_hash: str | None, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER
) -> bool:
    """True only for the right password. Pass None for an unknown user: the same argon2 work is
    done, so response time does not tell which usernames exist."""
    try:
        return hasher.verify(stored_hash if stored_hash is not None else _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """After a successful login: the hash was made with weaker parameters than today's (or is not
    an argon2 hash at all), so store a fresh one."""
    try:
        return hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


# API tokens


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token. ``token`` is shown to the user once and never stored; ``token_hash`` is what the
    database keeps; ``hint`` tells tokens apart in a list without revealing them."""

    token: str = field(repr=False)
    token_hash: str
    hint: str


def hash_api_token(token: str) -> str:
    # A token carries 256 random bits, so a fast hash is enough (no dictionary to guess from) and
    # the hash can be looked up directly by an index.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_api_token() -> IssuedToken:
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    return IssuedToken(token, hash_api_token(token), token[: len(API_TOKEN_PREFIX) + _HINT_CHARS])


def is_api_token(value: str) -> bool:
    """Shape check before any lookup, so a session cookie or junk in the header is told apart."""
    return _TOKEN_RE.fullmatch(value) is not None


def verify_api_token(presented: str, stored_hash: str) -> bool:
    if not is_api_token(presented):
        return False
    return hmac.compare_digest(hash_api_token(presented).encode("ascii"), stored_hash.encode("utf-8"))


# Session cookies


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie carries. The session id lets the server revoke one login (logout, password
    change) by deleting its row, which a signature alone cannot do."""

    session_id: str
    user_id: str


class _ClockedSigner(TimestampSigner):
    """itsdangerous' timestamp signer with an injectable clock, so expiry is testable without
    sleeping."""

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


class SessionSigner:
    def __init__(
        self,
        secret_key: str | bytes,
        *,
        max_age_seconds: int = 8 * 3600,
        salt: str = "sputnik-office.session",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be > 0")
        self.max_age_seconds = max_age_seconds
        self._serializer = URLSafeTimedSerializer(
            _key_bytes(secret_key),
            salt=salt,
            signer=_ClockedSigner,
            signer_kwargs={"clock": clock, "digest_method": hashlib.sha256},
        )

    def new_session(self, user_id: str) -> Session:
        return Session(new_session_id(), user_id)

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps({"sid": session.session_id, "uid": session.user_id})

    def loads(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None if it is missing, tampered with, signed with
        another key, expired, or well signed but not the shape this code writes."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired and BadTimeSignature are subclasses
            return None
        if not isinstance(data, dict):
            return None
        sid, uid = data.get("sid"), data.get("uid")
        if not isinstance(sid, str) or not isinstance(uid, str) or not sid or not uid:
            return None
        return Session(sid, uid)


# CSRF


def csrf_token(secret_key: str | bytes, session_id: str) -> str:
    """Bound to the session: a token from another session (or none) does not verify. The label
    keeps this HMAC distinct from any other use of the same key."""
    return hmac.new(
        _key_bytes(secret_key), _CSRF_LABEL + session_id.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def verify_csrf(secret_key: str | bytes, session_id: str, presented: str | None) -> bool:
    if not presented:
        return False
    expected = csrf_token(secret_key, session_id)
    # Bytes, because compare_digest refuses non-ASCII str and a header can carry anything.
    return hmac.compare_digest(expected.encode("ascii"), presented.encode("utf-8", "replace"))


# Login rate limiting


def _limiter_key(value: str) -> bytes:
    # Fixed-size keys: a megabyte-long username costs the same memory as a short one.
    return hashlib.blake2b(value.encode("utf-8", "replace"), digest_size=16).digest()


class _SlidingWindow:
    """Failure times per key; only the newest ``limit`` are kept, which is all the decision needs."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._hits: OrderedDict[bytes, deque[float]] = OrderedDict()

    def blocked_for(self, key: bytes, now: float) -> float:
        hits = self._hits.get(key)
        if hits is None:
            return 0.0
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return 0.0
        if len(hits) < self.limit:
            return 0.0
        return hits[0] + self.window - now

    def record(self, key: bytes, now: float) -> None:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque(maxlen=self.limit)
        hits.append(now)
        self._hits.move_to_end(key)
        while len(self._hits) > self.max_keys:
            # The least recently failing key goes first: its failures are the oldest, the nearest
            # to expiring anyway.
            self._hits.popitem(last=False)

    def clear(self, key: bytes) -> None:
        self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)


class LoginRateLimiter:
    """Failed logins counted per client address and per username over a sliding window.

    Ask ``retry_after`` before checking a password (and do not check it when it is > 0), call
    ``record_failure`` after a wrong one and ``record_success`` after a right one. The per-address
    limit is the higher one, since an office may share one address behind NAT; the per-username
    limit stops a slow guess at one account from many addresses. Usernames are compared casefolded.
    Memory is bounded by ``max_keys`` per dimension.
    """

    def __init__(
        self,
        *,
        per_address: int = 20,
        per_username: int = 5,
        window_seconds: float = 300.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_address < 1 or per_username < 1:
            raise ValueError("limits must be >= 1")
        if window_seconds <= 0 or max_keys < 1:
            raise ValueError("window_seconds must be > 0 and max_keys >= 1")
        self._addresses = _SlidingWindow(per_address, window_seconds, max_keys)
        self._usernames = _SlidingWindow(per_username, window_seconds, max_keys)
        self._clock = clock
        self._lock = threading.Lock()

    @staticmethod
    def _user_key(username: str) -> bytes:
        return _limiter_key(username.strip().casefold())

    def retry_after(self, address: str, username: str) -> int:
        """0 when a login may be tried, else whole seconds to wait (for a Retry-After header)."""
        with self._lock:
            now = self._clock()
            wait = max(
                self._addresses.blocked_for(_limiter_key(address), now),
                self._usernames.blocked_for(self._user_key(username), now),
            )
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def record_failure(self, address: str, username: str) -> None:
        with self._lock:
            now = self._clock()
            self._addresses.record(_limiter_key(address), now)
            self._usernames.record(self._user_key(username), now)

    def record_success(self, username: str) -> None:
        """Clears the username's failures; the address keeps its own, since others behind it may
        still be guessing."""
        with self._lock:
            self._usernames.clear(self._user_key(username))

    def tracked_keys(self) -> tuple[int, int]:
        """(addresses, usernames) currently held: for metrics and the memory-bound test."""
        with self._lock:
            return len(self._addresses), len(self._usernames)
