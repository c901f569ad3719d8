"""Admin accounts: names, password rules and argon2id hashes.

Passwords are hashed with argon2id (RFC 9106) through argon2-cffi. Each hash
records its own parameters, so they can be raised later: a sign-in that
succeeds against a hash made with weaker parameters stores a new one.

Hashing is deliberately expensive (tens of milliseconds and 64 MiB per
attempt), so it runs under a small semaphore: a burst of sign-ins can occupy
at most `concurrency` threads with argon2 work while the other threads keep
answering the API. The admin page throttles failed sign-ins before it ever
gets here, so the queue in front of the semaphore stays short.

There is no default admin and no default password: the first account is made
on the server's command line, which is the proof of being the operator.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import errors
from .clock import Clock

if TYPE_CHECKING:
    from .storage import Storage

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
MIN_PASSWORD = 12
# Long enough for any passphrase, short enough that nobody can make us hash
# a megabyte per attempt.
MAX_PASSWORD = 1024
DEFAULT_CONCURRENCY = 1
WAIT_SECONDS = 5.0
QUEUE = 1


class Refused(errors.DomainError):
    """An account operation the rules forbid; the message says which rule."""


@dataclass(frozen=True)
class Admin:
    name: str
    password_hash: str
    created_at: int
    password_changed_at: int


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise Refused(
            "an admin name must be 1 to 32 characters of a-z, 0-9, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Refused(f"a password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise Refused(f"a password must be at most {MAX_PASSWORD} characters long")
    if password.strip() != password or any(ord(c) < 32 for c in password):
        raise Refused(
            "a password must not start or end with a space nor hold control characters"
        )
    return password


@dataclass(frozen=True)
class Verified:
    ok: bool
    new_hash: str | None = None  # set when the stored hash should be replaced


class Busy(errors.ServiceUnavailable):
    """Every argon2 slot stayed taken for too long."""


class Passwords:
    """argon2id hashing and checking, at most `concurrency` at a time."""

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self.hasher = hasher or PasswordHasher()
        self.wait_seconds = wait_seconds
        self._slots = threading.BoundedSemaphore(concurrency)
        # Threads allowed in front of the argon2 slots at all (working or
        # waiting). The rest are turned away at once: a worker thread parked
        # on the semaphore is a thread the API cannot use.
        self._queue = threading.BoundedSemaphore(concurrency + QUEUE)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        with self._slot():
            return self.hasher.hash(password)

    def verify(
        self,
        stored_hash: str | None,
        password: str,
        precheck: Callable[[], None] | None = None,
    ) -> Verified:
        """Check a password; with no stored hash, spend the same work and fail.

        Checking an unknown account against a throwaway hash keeps the answer
        time the same, so timing does not tell which admin names exist.
        `precheck` runs once a slot is held and may raise to give up: an
        attempt that queued behind others sees the failures they recorded.
        """
        if stored_hash is None:
            stored_hash, known = self._dummy_hash(), False
        else:
            known = True
        with self._slot():
            if precheck is not None:
                precheck()
            try:
                self.hasher.verify(stored_hash, password)
            except (VerificationError, InvalidHashError):
                return Verified(ok=False)
            if not known:
                return Verified(ok=False)
            if self.hasher.check_needs_rehash(stored_hash):
                return Verified(ok=True, new_hash=self.hasher.hash(password))
        return Verified(ok=True)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hash("not a password anyone has: unknown account")
        return self._dummy

    def _slot(self) -> "_Slot":
        return _Slot(self._queue, self._slots, self.wait_seconds)


class _Slot:
    def __init__(
        self,
        queue: threading.BoundedSemaphore,
        semaphore: threading.BoundedSemaphore,
        wait: float,
    ) -> None:
        self.queue = queue
        self.semaphore = semaphore
        self.wait = wait

    def __enter__(self) -> None:
        busy = Busy("Sign-in is busy; retry shortly.", headers={"Retry-After": "2"})
        if not self.queue.acquire(blocking=False):
            raise busy
        if not self.semaphore.acquire(timeout=self.wait):
            self.queue.release()
            raise busy

    def __exit__(self, *exc: object) -> None:
        self.semaphore.release()
        self.queue.release()


def add(
    storage: "Storage", clock: Clock, passwords: Passwords, name: str, password: str
) -> Admin:
    check_name(name)
    check_password(password)
    now = int(clock.now())
    admin = Admin(
        name=name,
        password_hash=passwords.hash(password),
        created_at=now,
        password_changed_at=now,
    )
    if not storage.add_admin(admin):
        raise Refused(f"an admin named {name!r} already exists")
    return admin


def change_password(
    storage: "Storage", clock: Clock, passwords: Passwords, name: str, password: str
) -> Admin:
    """Set a new password and end every session of that admin."""
    check_password(password)
    if storage.get_admin(name) is None:
        raise Refused(f"no admin is named {name!r}")
    storage.set_admin_password(name, passwords.hash(password), int(clock.now()))
    return storage.get_admin(name)  # type: ignore[return-value]


def authenticate(
    storage: "Storage",
    passwords: Passwords,
    name: str,
    password: str,
    precheck: Callable[[], None] | None = None,
) -> Admin | None:
    """The admin if name and password match; None otherwise, whatever was wrong."""
    admin = storage.get_admin(name) if NAME_RE.fullmatch(name) else None
    if len(password) > MAX_PASSWORD:
        return None
    verified = passwords.verify(
        admin.password_hash if admin else None, password, precheck
    )
    if not verified.ok or admin is None:
        return None
    if verified.new_hash is not None:
        # Same password, stronger parameters: not a password change, so the
        # admin's other sessions stay.
        storage.set_admin_password(
            admin.name, verified.new_hash, admin.password_changed_at, end_sessions=False
        )
        log.info("rehashed admin %s's password with current parameters", admin.name)
    return admin
