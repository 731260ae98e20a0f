"""Who is asking: password logins with server-side sessions, API tokens, and the principal.

A session cookie carries only a signed session id; the row in ``office_sessions`` is what makes
it valid, so logout and disabling the account end it at once. Every request looks the session or
token up together with the account, so a disabled account is refused on its very next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import structlog
from sqlalchemy import Connection, delete, func, or_, select, update

from sputnik_edge.central.schema import office_api_tokens, office_sessions, office_users
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office import audit
from sputnik_edge.office.security import (
    LoginRateLimiter,
    Session,
    SessionSigner,
    csrf_token,
    hash_api_token,
    hash_password,
    is_api_token,
    password_needs_rehash,
    verify_password,
)
from sputnik_edge.office.users import Role, normalise_username

log = structlog.get_logger(__name__)

# Writing last_used_at on every request would turn each read into a write; a minute is precise
# enough to tell a token in use from an abandoned one.
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated account behind a request; ``via`` says how it proved itself."""

    user_id: int
    username: str
    role: Role
    via: Literal["session", "token"]


@dataclass(frozen=True, slots=True)
class LoginResult:
    principal: Principal
    cookie_value: str = ""  # the signed session id, for the Set-Cookie header (never logged)
    csrf_token: str = ""


@dataclass(frozen=True, slots=True)
class LoginRefused:
    """``retry_after`` > 0: rate limited (429); otherwise wrong username or password (401)."""

    retry_after: int = 0


class Authenticator:
    def __init__(
        self,
        central: CentralStore,
        secret_key: str,
        limiter: LoginRateLimiter,
        *,
        session_max_age_s: int,
    ) -> None:
        self._central = central
        self._secret_key = secret_key
        self._limiter = limiter
        self._signer = SessionSigner(secret_key, max_age_seconds=session_max_age_s)
        self._max_age = timedelta(seconds=session_max_age_s)

    @property
    def session_max_age_s(self) -> int:
        return int(self._max_age.total_seconds())

    # -- logins -----------------------------------------------------------------------------------

    def login(
        self, username: str, password: str, address: str, *, trace_id: str | None = None
    ) -> LoginResult | LoginRefused:
        name = normalise_username(username)
        wait = self._limiter.retry_after(address, name)
        if wait > 0:
            return LoginRefused(retry_after=wait)
        row = self._central._transaction(
            "reading office user",
            lambda conn: conn.execute(
                select(
                    office_users.c.user_id,
                    office_users.c.password_hash,
                    office_users.c.role,
                    office_users.c.is_active,
                ).where(office_users.c.username == name)
            ).first(),
        )
        # verify_password(None, ...) costs the same argon2 work: timing does not tell who exists.
        ok = verify_password(None if row is None else row.password_hash, password) and row is not None
        if row is None or not ok or not row.is_active:
            self._limiter.record_failure(address, name)
            reason = "unknown_user" if row is None else ("wrong_password" if not ok else "disabled")
            self._central._transaction(
                "writing audit log",
                lambda conn: audit.record(
                    conn,
                    # An unknown name may be a password typed into the wrong field: not recorded.
                    actor=name if row is not None else "anonymous",
                    action="login_failed",
                    target_type="user",
                    target_id=name if row is not None else None,
                    details={"reason": reason, "address": address},
                    trace_id=trace_id,
                ),
            )
            log.info("office_login_failed", reason=reason, address=address)
            return LoginRefused()
        self._limiter.record_success(name)
        session = self._signer.new_session(str(row.user_id))
        rehash = hash_password(password) if password_needs_rehash(row.password_hash) else None

        def run(conn: Connection) -> None:
            # The user's own long-expired sessions go here, by the user_id index: the table stays
            # the size of the sessions that can still matter, without a cleanup job.
            conn.execute(
                delete(office_sessions).where(
                    office_sessions.c.user_id == row.user_id,
                    office_sessions.c.expires_at < func.now() - timedelta(days=1),
                )
            )
            conn.execute(
                office_sessions.insert().values(
                    session_id=session.session_id,
                    user_id=row.user_id,
                    expires_at=func.now() + self._max_age,
                )
            )
            values: dict[str, object] = {"last_login_at": func.now()}
            if rehash is not None:
                values["password_hash"] = rehash
            conn.execute(update(office_users).where(office_users.c.user_id == row.user_id).values(**values))
            audit.record(
                conn,
                actor=name,
                action="login",
                target_type="user",
                target_id=name,
                details={"address": address},
                trace_id=trace_id,
            )

        self._central._transaction("starting session", run)
        log.info("office_login", username=name, address=address)
        return LoginResult(
            Principal(int(row.user_id), name, row.role, "session"),
            self._signer.dumps(session),
            csrf_token(self._secret_key, session.session_id),
        )

    def logout(self, session_id: str, principal: Principal, *, trace_id: str | None = None) -> None:
        def run(conn: Connection) -> None:
            conn.execute(
                update(office_sessions)
                .where(office_sessions.c.session_id == session_id, office_sessions.c.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )
            audit.record(
                conn,
                actor=principal.username,
                action="logout",
                target_type="user",
                target_id=principal.username,
                trace_id=trace_id,
            )

        self._central._transaction("ending session", run)
        log.info("office_logout", username=principal.username)

    # -- per request ------------------------------------------------------------------------------

    def session_of(self, cookie_value: str | None) -> Session | None:
        """The signed session in a cookie (signature and age checked, not yet the database)."""
        return self._signer.loads(cookie_value)

    def csrf_for(self, session_id: str) -> str:
        return csrf_token(self._secret_key, session_id)

    @property
    def secret_key(self) -> str:
        return self._secret_key

    def principal_of_session(self, session: Session) -> Principal | None:
        try:
            user_id = int(session.user_id)
        except ValueError:
            return None
        stmt = (
            select(office_users.c.user_id, office_users.c.username, office_users.c.role)
            .select_from(
                office_sessions.join(office_users, office_users.c.user_id == office_sessions.c.user_id)
            )
            .where(
                office_sessions.c.session_id == session.session_id,
                office_sessions.c.user_id == user_id,
                office_sessions.c.revoked_at.is_(None),
                office_sessions.c.expires_at > func.now(),
                office_users.c.is_active.is_(True),
            )
        )
        row = self._central._transaction("checking session", lambda conn: conn.execute(stmt).first())
        return Principal(int(row.user_id), row.username, row.role, "session") if row else None

    def principal_of_token(self, token: str) -> Principal | None:
        if not is_api_token(token):
            return None
        token_hash = hash_api_token(token)  # looked up by its hash: the index does the comparing
        stmt = (
            select(
                office_api_tokens.c.token_id,
                office_users.c.user_id,
                office_users.c.username,
                office_users.c.role,
            )
            .select_from(
                office_api_tokens.join(office_users, office_users.c.user_id == office_api_tokens.c.user_id)
            )
            .where(
                office_api_tokens.c.token_hash == token_hash,
                office_api_tokens.c.revoked_at.is_(None),
                office_users.c.is_active.is_(True),
            )
        )

        def run(conn: Connection) -> Principal | None:
            row = conn.execute(stmt).first()
            if row is None:
                return None
            conn.execute(
                update(office_api_tokens)
                .where(
                    office_api_tokens.c.token_id == row.token_id,
                    or_(
                        office_api_tokens.c.last_used_at.is_(None),
                        office_api_tokens.c.last_used_at < func.now() - TOKEN_TOUCH_INTERVAL,
                    ),
                )
                .values(last_used_at=func.now())
            )
            return Principal(int(row.user_id), row.username, row.role, "token")

        return self._central._transaction("checking API token", run)
