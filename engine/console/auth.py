"""Who may use the console: a login with the admin token, sessions that expire, CSRF tokens, read-only links.

- **Login**: the token of ``PASSERELLE_ADMIN_TOKEN`` (the one ``POST /jobs`` wants), or the password of
  ``PASSERELLE_CONSOLE_PASSWORD`` when set; compared in constant time. Neither set: nobody can log in.
- **Sessions**: a signed cookie (Starlette's ``SessionMiddleware``, itsdangerous), ``SameSite=Strict``,
  ``HttpOnly``; it lapses after ``PASSERELLE_CONSOLE_IDLE`` seconds without a request (default 1800) and,
  whatever the activity, ``PASSERELLE_CONSOLE_MAX_AGE`` seconds after the login (default 43200). The signing
  key is ``PASSERELLE_CONSOLE_SECRET`` (random per process when unset: a restart logs everyone out).
- **CSRF**: one random token per session, in a hidden field of every form (the login form too), checked on
  every POST in constant time.
- **Read-only links**: signed, expiring (``PASSERELLE_CONSOLE_LINK_DAYS``, default 7) links to one profile's
  page; who opens one sees that page and nothing else, and can change nothing.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

__all__ = ["Auth", "Viewer", "console_secret"]

ADMIN_TOKEN_VARIABLE = "PASSERELLE_ADMIN_TOKEN"
PASSWORD_VARIABLE = "PASSERELLE_CONSOLE_PASSWORD"
SECRET_VARIABLE = "PASSERELLE_CONSOLE_SECRET"


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError:
        return default


def console_secret(env: Mapping[str, str]) -> str:
    return env.get(SECRET_VARIABLE) or secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the admin, or a read-only visitor of one profile."""

    admin: bool
    profile: str | None = None  # the one profile a read-only link shows

    def may_see(self, key: str) -> bool:
        return self.admin or self.profile == key


class Auth:
    def __init__(self, secret: str, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.idle = _number(self.env, "PASSERELLE_CONSOLE_IDLE", 1800)
        self.max_age = _number(self.env, "PASSERELLE_CONSOLE_MAX_AGE", 43200)
        self.link_seconds = _number(self.env, "PASSERELLE_CONSOLE_LINK_DAYS", 7) * 86400
        self._links = URLSafeTimedSerializer(secret, salt="passerelle-console-readonly")

    # -- login ----------------------------------------------------------------------------------
    def _secrets(self) -> list[str]:
        # read at each login, so rotating the variable of a running service needs a restart only for env files
        found = [os.environ.get(ADMIN_TOKEN_VARIABLE) or self.env.get(ADMIN_TOKEN_VARIABLE),
                 os.environ.get(PASSWORD_VARIABLE) or self.env.get(PASSWORD_VARIABLE)]
        return [s for s in found if s]

    @property
    def configured(self) -> bool:
        return bool(self._secrets())

    def check_password(self, given: str) -> bool:
        ok = False
        for secret in self._secrets():  # no early exit: the same work whichever secret matches
            ok |= hmac.compare_digest(given.encode(), secret.encode())
        return ok

    def log_in(self, request: Request) -> None:
        session = request.session
        session.clear()
        now = time.time()
        session.update({"admin": True, "login_at": now, "seen_at": now, "csrf": secrets.token_urlsafe(32)})

    @staticmethod
    def log_out(request: Request) -> None:
        request.session.clear()

    # -- every request ----------------------------------------------------------------------------
    def viewer(self, request: Request) -> Viewer | None:
        """The signed-in viewer, or None (never signed in, or the session lapsed: it is then cleared)."""
        session = request.session
        login_at, seen_at = session.get("login_at"), session.get("seen_at")
        if not isinstance(login_at, int | float) or not isinstance(seen_at, int | float):
            return None
        now = time.time()
        if now - seen_at > self.idle or now - login_at > self.max_age:
            session.clear()
            return None
        session["seen_at"] = now
        if session.get("admin") is True:
            return Viewer(True)
        profile = session.get("readonly")
        return Viewer(False, str(profile)) if isinstance(profile, str) else None

    # -- CSRF -------------------------------------------------------------------------------------
    @staticmethod
    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return token

    @staticmethod
    def csrf_ok(request: Request, form: Mapping[str, Any]) -> bool:
        expected = request.session.get("csrf")
        given = form.get("csrf")
        return isinstance(expected, str) and isinstance(given, str) and hmac.compare_digest(given, expected)

    # -- read-only links ----------------------------------------------------------------------------
    def share_token(self, profile: str) -> str:
        return self._links.dumps({"profile": profile})

    def open_link(self, request: Request, token: str) -> str | None:
        """Start a read-only session for the link's profile; None when the link is bad or expired."""
        try:
            data = self._links.loads(token, max_age=int(self.link_seconds))
        except BadSignature:
            return None
        profile = data.get("profile") if isinstance(data, dict) else None
        if not isinstance(profile, str):
            return None
        now = time.time()
        request.session.clear()
        request.session.update({"readonly": profile, "login_at": now, "seen_at": now,
                                "csrf": secrets.token_urlsafe(32)})
        return profile
