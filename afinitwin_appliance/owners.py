"""Owners and their plans.

An owner is the person whose snapshots a key reads. Keys work only while the
owner's plan is `professional` and active: a lapsed plan (status `lapsed`, or an
`activeUntil` in the past) pauses every key without deleting it, and keys can be
created only for an owner whose plan allows them right now.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass


PLANS = ("free", "personal", "professional")
KEY_PLAN = "professional"
STATUSES = ("active", "lapsed")
SOURCES = ("stripe", "voucher", "manual")
MAX_NAME = 200


@dataclass(frozen=True)
class Owner:
    owner_id: str
    name: str
    plan_name: str
    plan_status: str
    plan_source: str
    active_until: int | None
    created_at: int

    def plan_active(self, now: float) -> bool:
        if self.plan_status != "active":
            return False
        return self.active_until is None or now < self.active_until

    def allows_keys(self, now: float) -> bool:
        return self.plan_name == KEY_PLAN and self.plan_active(now)


def new_owner_id() -> str:
    return "usr_" + secrets.token_hex(8)


def check_plan(plan: str, status: str, source: str) -> None:
    for value, allowed, what in (
        (plan, PLANS, "plan"),
        (status, STATUSES, "plan status"),
        (source, SOURCES, "plan source"),
    ):
        if value not in allowed:
            raise ValueError(
                f"{what} must be one of {', '.join(allowed)}, not {value!r}"
            )


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise ValueError(f"an owner name must be 1 to {MAX_NAME} printable characters")
    return name
