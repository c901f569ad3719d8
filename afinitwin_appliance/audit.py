"""The audit log: who did what, when and from where, append-only.

Every admin action is one entry. The code has no path that changes or removes
an entry, and the table refuses UPDATE and DELETE with triggers, so a mistake
in a later change cannot quietly rewrite history either.

Entries hold ids and settings, never secrets: a key's plaintext, a webhook
secret, a password or a session id has no field to go into, and `record`
refuses details that look like one, so a careless caller fails loudly in tests
instead of leaking.

Limitation: anyone with write access to the database file can still drop the
triggers; the log guards against the appliance, not against its operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clock import Clock

if TYPE_CHECKING:
    from .storage import Storage

PAGE = 100
CLI_ADDRESS = "command line"
_SECRET_RE = re.compile(r"atk_live_[0-9a-f]{8}_[0-9a-f]{32}|\$argon2|whsec_")


@dataclass(frozen=True)
class AuditEntry:
    entry_id: int
    at: int
    admin: str
    action: str
    target: str
    address: str
    details: dict[str, Any]


def record(
    storage: "Storage",
    clock: Clock,
    admin: str,
    action: str,
    target: str,
    address: str,
    details: dict[str, Any] | None = None,
) -> None:
    details = dict(details or {})
    if _SECRET_RE.search(f"{target} {details}"):
        raise ValueError(f"refusing to write a secret into the audit log ({action})")
    storage.append_audit(int(clock.now()), admin, action, target, address, details)


def newest(
    storage: "Storage", before: int | None = None, limit: int = PAGE
) -> list[AuditEntry]:
    """A page of entries, newest first; `before` is the entry id to go on from."""
    return storage.audit_entries(before, limit)
