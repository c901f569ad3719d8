"""Webhooks, the pure part: event names, bodies, signatures, back-off, URLs.

A delivery is signed twice over the same bytes, so receivers of either kind
can check it:

- `X-AfiniTwin-Signature: sha256=<hex>`, the HMAC-SHA256 (RFC 2104) of the
  exact body keyed with the UTF-8 of the endpoint's whole secret, `whsec_`
  included. This is what the official SDK's `verify_webhook_signature` checks.
- The Standard Webhooks headers (standardwebhooks.com, spec v1):
  `webhook-id` (the delivery id, the same on every retry), `webhook-timestamp`
  (Unix seconds of this attempt) and `webhook-signature: v1,<base64>`, the
  HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the bytes that the part
  of the secret after `whsec_` decodes to as base64.

So that one secret serves both schemes, a secret is `whsec_` followed by the
standard base64 of 32 random bytes (44 characters): the spec's own format,
and more than the contract's "32+ random characters".

Nothing here does I/O: delivery.py sends, storage.py keeps the outbox.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlsplit

from .clock import rfc3339

SNAPSHOT_READY = "twin.snapshot.ready"
SNAPSHOT_FAILED = "twin.snapshot.failed"
KEY_REVOKED = "twin.api_key.revoked"
QUOTA_WARNING = "twin.quota.warning_80"
QUOTA_EXCEEDED = "twin.quota.exceeded"
TEST = "twin.test"
EVENTS = (
    SNAPSHOT_READY,
    SNAPSHOT_FAILED,
    KEY_REVOKED,
    QUOTA_WARNING,
    QUOTA_EXCEEDED,
    TEST,
)

SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "X-AfiniTwin-Signature"
ENDPOINT_ID_RE = re.compile(r"whe_[0-9a-f]{16}")
MAX_URL = 2000

# Seconds to wait after the 1st, 2nd, ... failed attempt. Nine attempts in
# all over about 23 hours; after the last failure the delivery is failed.
BACKOFF = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1


@dataclass(frozen=True)
class Endpoint:
    """A webhook endpoint as everyone but the sender sees it: no secret."""

    endpoint_id: str
    owner_id: str
    url: str
    events: tuple[str, ...]
    enabled: bool
    created_at: int

    def wants(self, event: str) -> bool:
        # twin.test goes to any endpoint on demand, subscribed or not.
        return self.enabled and (event == TEST or event in self.events)


@dataclass(frozen=True)
class Delivery:
    """One event for one endpoint, as kept in the outbox."""

    delivery_id: str
    endpoint_id: str
    event: str
    body: str
    created_at: int
    next_attempt_at: int | None
    attempts: int
    status: str
    last_status_code: int | None
    last_error: str | None


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    at: int
    status_code: int | None
    error: str | None
    duration_ms: int


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_endpoint_id() -> str:
    return "whe_" + secrets.token_hex(8)


def new_delivery_id() -> str:
    return "whd_" + secrets.token_hex(12)


def body(event: str, delivery_id: str, at: float, data: dict[str, Any]) -> str:
    """The delivery's JSON text: compact, real non-ASCII characters, in order."""
    document = {
        "event": event,
        "deliveryId": delivery_id,
        "timestamp": rfc3339(at),
        "data": data,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def signature(secret: str, payload: bytes) -> str:
    """The X-AfiniTwin-Signature value for a body."""
    digest = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks HMAC key: the base64 after the prefix, decoded."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        # Not base64 (a secret made by hand): sign with its bytes, as the
        # reference libraries do for a key without the whsec_ form.
        return encoded.encode("utf-8")


def standard_signature(
    secret: str, delivery_id: str, timestamp: int, payload: bytes
) -> str:
    """The webhook-signature value: `v1,` and the base64 of the HMAC."""
    signed = f"{delivery_id}.{timestamp}.".encode("utf-8") + payload
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(
    secret: str, delivery_id: str, timestamp: int, payload: bytes
) -> dict[str, str]:
    """Every header of one attempt; the Standard Webhooks timestamp is the
    attempt's, so each retry is signed afresh."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "afinitwin-appliance-webhooks",
        SIGNATURE_HEADER: signature(secret, payload),
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(
            secret, delivery_id, timestamp, payload
        ),
    }


def retry_delay(attempts: int) -> int | None:
    """Seconds until the next attempt after `attempts` failed ones; None: give up."""
    if attempts < 1 or attempts > len(BACKOFF):
        return None
    return BACKOFF[attempts - 1]


def check_url(url: str) -> str:
    """Validate an endpoint URL; raises ValueError saying what is wrong.

    Any host is allowed, private addresses included: the appliance runs on
    premises next to the CRM that receives its webhooks.
    Limitation: so an admin can point a webhook at any service the appliance
    can reach; only admins can add endpoints.
    """
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise ValueError(f"a webhook URL must be 1 to {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("a webhook URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("a webhook URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a webhook URL must not carry a user name or password")
    if not parts.hostname:
        raise ValueError("a webhook URL must name a host")
    if port == 0:
        raise ValueError("a webhook URL must not use port 0")
    if parts.fragment:
        raise ValueError("a webhook URL must not have a #fragment")
    return url


def check_events(events: Iterable[str]) -> tuple[str, ...]:
    """Validate a subscription; empty means every event."""
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise ValueError(
            f"unknown webhook event {unknown[0]!r}; known: {', '.join(EVENTS)}"
        )
    return tuple(e for e in EVENTS if e in chosen) if chosen else EVENTS


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as the CLI and the admin page show it (never its secret)."""
    return {
        "endpointId": endpoint.endpoint_id,
        "ownerId": endpoint.owner_id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "createdAt": rfc3339(endpoint.created_at),
    }


def delivery_view(found: Delivery, attempts: list[Attempt]) -> dict[str, Any]:
    """A delivery with its attempts, as the CLI and the admin page show it."""
    return {
        "deliveryId": found.delivery_id,
        "endpointId": found.endpoint_id,
        "event": found.event,
        "status": found.status,
        "attempts": found.attempts,
        "createdAt": rfc3339(found.created_at),
        "nextAttemptAt": (
            None if found.next_attempt_at is None else rfc3339(found.next_attempt_at)
        ),
        "lastStatusCode": found.last_status_code,
        "lastError": found.last_error,
        "history": [
            {
                "at": rfc3339(a.at),
                "statusCode": a.status_code,
                "error": a.error,
                "durationMs": a.duration_ms,
            }
            for a in attempts
            if a.delivery_id == found.delivery_id
        ],
    }
