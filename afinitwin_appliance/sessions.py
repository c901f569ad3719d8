"""Admin sessions: ids, timeouts and CSRF tokens, with the clock injected.

A session id is 256 random bits and lives only in the admin's cookie; the
database keeps its sha256, so a copy of the database (a backup, a support
bundle) holds nothing that signs anyone in. A fast hash is enough: there is no
guessing 256 random bits, so nothing needs slowing down.

The CSRF token is derived from the session id (an HMAC keyed with the id)
rather than stored. The server can recompute it from the cookie on every
request, a page reload can ask for it again, and knowing the token reveals
nothing about the id. Before sign-in the same construction runs over a random
id that is never stored (a "pre-session"), so the sign-in form is protected
too; signing in always draws a new id, so an id planted in a browser before
sign-in (session fixation) never becomes a signed-in session.

Sessions end after 30 idle minutes or 12 hours in all, whichever comes first
(OWASP's session management guidance for a privileged interface).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 60 * 60
ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
COOKIE = "afinitwin-admin"
SECURE_COOKIE = "__Host-afinitwin-admin"
_CSRF_LABEL = b"afinitwin admin csrf v1"


@dataclass(frozen=True)
class AdminSession:
    """A signed-in session as stored: the id's hash, never the id."""

    session_hash: str
    admin: str
    created_at: int
    last_seen_at: int

    def expired(self, now: float) -> bool:
        return (
            now - self.last_seen_at >= IDLE_SECONDS
            or now - self.created_at >= ABSOLUTE_SECONDS
        )

    def expires_at(self) -> int:
        """When the session ends if it stays idle from its last request on."""
        return min(self.last_seen_at + IDLE_SECONDS, self.created_at + ABSOLUTE_SECONDS)


def new_id() -> str:
    """A fresh session id: 32 bytes from the CSPRNG, URL-safe base64 (43 chars)."""
    return secrets.token_urlsafe(32)


def well_formed(session_id: str | None) -> bool:
    return session_id is not None and ID_RE.fullmatch(session_id) is not None


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode("ascii"), _CSRF_LABEL, hashlib.sha256).hexdigest()


def csrf_matches(session_id: str, presented: str | None) -> bool:
    if not presented:
        return False
    expected = csrf_token(session_id).encode("ascii")
    # Header values may hold any byte; compare_digest refuses non-ASCII str.
    return hmac.compare_digest(expected, presented.encode("utf-8", "replace"))


def cookie_name(secure: bool) -> str:
    return SECURE_COOKIE if secure else COOKIE


def set_cookie(session_id: str, secure: bool) -> str:
    """The Set-Cookie value for a session id.

    Over TLS the __Host- prefix makes the browser insist on Secure, Path=/ and
    no Domain, so no sibling host can plant or shadow the cookie (RFC 6265bis,
    section 4.1.3.2). Without TLS the prefix is not allowed, and Path=/admin
    keeps the cookie off the public API's requests.
    """
    return _cookie(cookie_name(secure), session_id, secure, "")


def clear_cookie(secure: bool) -> str:
    return _cookie(cookie_name(secure), "", secure, "; Max-Age=0")


def _cookie(name: str, value: str, secure: bool, extra: str) -> str:
    path = "/" if secure else "/admin"
    flags = "; Secure" if secure else ""
    return f"{name}={value}; Path={path}; HttpOnly; SameSite=Strict{flags}{extra}"
