"""Management operations shared by the command line and the admin page.

Each operation validates its input, applies the domain's rules (keys only for
an active professional plan, immutable snapshots, quota bounds) and writes
through the storage layer, so both front ends refuse the same things with the
same words.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from . import delivery, keys, owners, quota, snapshots, webhooks
from .clock import Clock, rfc3339
from .errors import DomainError
from .keys import ApiKey
from .owners import Owner
from .storage import SnapshotRecord, Storage


class Refused(DomainError):
    """An operation the rules forbid; the message says which rule."""


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    plaintext: str


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: webhooks.Endpoint
    secret: str


@dataclass(frozen=True)
class Imported:
    record: SnapshotRecord
    created: bool


def _checked(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except ValueError as exc:
        raise Refused(str(exc)) from None


def _check_until(clock: Clock, active_until: int | None) -> None:
    if active_until is not None and active_until <= clock.now():
        raise Refused("the plan's end (--until) must be in the future")


def add_owner(
    storage: Storage,
    clock: Clock,
    name: str,
    plan: str = "professional",
    status: str = "active",
    source: str = "manual",
    active_until: int | None = None,
    owner_id: str | None = None,
) -> Owner:
    name = _checked(owners.check_name, name)
    _checked(owners.check_plan, plan, status, source)
    _check_until(clock, active_until)
    owner = Owner(
        owner_id=owner_id or owners.new_owner_id(),
        name=name,
        plan_name=plan,
        plan_status=status,
        plan_source=source,
        active_until=active_until,
        created_at=int(clock.now()),
    )
    storage.add_owner(owner)
    return owner


def require_owner(storage: Storage, owner_id: str) -> Owner:
    owner = storage.get_owner(owner_id)
    if owner is None:
        raise Refused(f"no owner has the id {owner_id!r}")
    return owner


def set_plan(
    storage: Storage,
    clock: Clock,
    owner_id: str,
    plan: str,
    status: str = "active",
    source: str | None = None,
    active_until: int | None = None,
) -> Owner:
    current = require_owner(storage, owner_id)
    source = source or current.plan_source
    _checked(owners.check_plan, plan, status, source)
    _check_until(clock, active_until)
    storage.set_plan(owner_id, plan, status, source, active_until)
    return require_owner(storage, owner_id)


def import_snapshot(
    storage: Storage,
    clock: Clock,
    owner_id: str,
    data: bytes,
    filename: str | None = None,
) -> Imported:
    """Validate and store a snapshot document; all or nothing.

    A document without an id gets one derived from its content, so importing
    the same file twice is a no-op rather than a duplicate.
    """
    require_owner(storage, owner_id)
    doc = snapshots.load(data, filename)
    canonical = snapshots.canonical_json(doc)
    snapshot_id = (
        doc.get("id") or "snp_" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
    )
    # Stored in the document's own order: maps such as lengthByContext are
    # rendered in the order their author wrote them.
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    fields = snapshots.summary_fields(doc)
    record = SnapshotRecord(
        snapshot_id=snapshot_id,
        owner_id=owner_id,
        snapshot_date=fields["snapshotDate"],
        version=fields["version"],
        source=fields["source"],
        status=fields["status"],
        primary_language=fields["primaryLanguage"],
        languages=tuple(fields["languages"]),
        has_narratives=fields["hasNarratives"],
        imported_at=int(clock.now()),
    )
    created = storage.import_snapshot(record, text)
    if not created:
        record = storage.get_snapshot(snapshot_id) or record
    elif record.status in ("ready", "failed"):
        event = (
            webhooks.SNAPSHOT_READY
            if record.status == "ready"
            else webhooks.SNAPSHOT_FAILED
        )
        delivery.notify(
            storage,
            clock,
            owner_id,
            event,
            {
                "userId": owner_id,
                "snapshotId": snapshot_id,
                "snapshotDate": record.snapshot_date,
                "status": record.status,
            },
        )
    return Imported(record=record, created=created)


def create_key(
    storage: Storage,
    clock: Clock,
    owner_id: str,
    name: str,
    scopes: list[str] | tuple[str, ...] = (),
    monthly_quota: int | None = None,
    default_monthly: int = quota.DEFAULT_MONTHLY,
    expires_at: int | None = None,
    networks: list[str] | tuple[str, ...] = (),
) -> CreatedKey:
    owner = require_owner(storage, owner_id)
    now = clock.now()
    if not owner.allows_keys(now):
        state = "active" if owner.plan_active(now) else "lapsed"
        raise Refused(
            "keys can be created only for an owner whose plan is professional and"
            f" active; {owner.owner_id} has the {owner.plan_name} plan, {state}"
        )
    name = _checked(keys.check_name, name)
    scope_set = _checked(keys.check_scopes, list(scopes))
    limit = _checked(
        quota.check_limit, default_monthly if monthly_quota is None else monthly_quota
    )
    nets = _checked(keys.check_networks, list(networks))
    if expires_at is not None and expires_at <= now:
        raise Refused("the expiry must be in the future")
    for _ in range(8):
        new = keys.generate()
        key = ApiKey(
            key_id=new.key_id,
            owner_id=owner_id,
            name=name,
            key_hash=new.key_hash,
            scopes=scope_set,
            monthly_quota=limit,
            created_at=int(now),
            expires_at=expires_at,
            allowed_networks=nets,
        )
        if storage.add_key(key):
            return CreatedKey(key=key, plaintext=new.plaintext)
    raise Refused("could not draw an unused key id; try again")


def _require_key_id(key_id: str) -> str:
    if not keys.KEY_ID_RE.fullmatch(key_id):
        raise Refused(f"{key_id!r} is not a key id (8 lowercase hex characters)")
    return key_id


def revoke_key(storage: Storage, clock: Clock, key_id: str) -> ApiKey:
    _require_key_id(key_id)
    key = storage.get_key(key_id)
    if key is None:
        raise Refused(f"no key has the id {key_id}")
    if key.revoked_at is not None:
        raise Refused(f"key {key_id} is already revoked")
    if not storage.revoke_key(key_id, int(clock.now())):
        raise Refused(f"key {key_id} is already revoked")
    revoked: ApiKey = storage.get_key(key_id)  # type: ignore[assignment]
    delivery.notify(
        storage,
        clock,
        key.owner_id,
        webhooks.KEY_REVOKED,
        {
            "userId": key.owner_id,
            "keyId": key_id,
            "revokedAt": rfc3339(revoked.revoked_at or clock.now()),
        },
    )
    return revoked


def set_key_quota(storage: Storage, key_id: str, monthly_quota: int) -> ApiKey:
    _require_key_id(key_id)
    limit = _checked(quota.check_limit, monthly_quota)
    if not storage.set_key_quota(key_id, limit):
        raise Refused(f"no key has the id {key_id}")
    return storage.get_key(key_id)  # type: ignore[return-value]


def key_state(key: ApiKey, now: float) -> str:
    """live, expired or revoked: what the API would make of the key now."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and now >= key.expires_at:
        return "expired"
    return "live"


def key_usage(storage: Storage, clock: Clock, key: ApiKey) -> int:
    return storage.used(key.key_id, quota.month_of(clock.now()))


# -- webhook endpoints ---------------------------------------------------------------


def add_webhook(
    storage: Storage,
    clock: Clock,
    owner_id: str,
    url: str,
    events: list[str] | tuple[str, ...] = (),
) -> CreatedEndpoint:
    """Add an endpoint; the secret is returned here and never again."""
    require_owner(storage, owner_id)
    endpoint = webhooks.Endpoint(
        endpoint_id=webhooks.new_endpoint_id(),
        owner_id=owner_id,
        url=_checked(webhooks.check_url, url),
        events=_checked(webhooks.check_events, list(events)),
        enabled=True,
        created_at=int(clock.now()),
    )
    secret = webhooks.new_secret()
    storage.add_webhook_endpoint(endpoint, secret)
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def require_webhook(storage: Storage, endpoint_id: str) -> webhooks.Endpoint:
    found = None
    if webhooks.ENDPOINT_ID_RE.fullmatch(endpoint_id):
        found = storage.get_webhook_endpoint(endpoint_id)
    if found is None:
        raise Refused(f"no webhook endpoint has the id {endpoint_id!r}")
    return found


def remove_webhook(storage: Storage, endpoint_id: str) -> webhooks.Endpoint:
    """Delete an endpoint, its pending deliveries and their history."""
    endpoint = require_webhook(storage, endpoint_id)
    storage.remove_webhook_endpoint(endpoint_id)
    return endpoint


def set_webhook_enabled(
    storage: Storage, endpoint_id: str, enabled: bool
) -> webhooks.Endpoint:
    require_webhook(storage, endpoint_id)
    storage.set_webhook_enabled(endpoint_id, enabled)
    return require_webhook(storage, endpoint_id)


def send_test_webhook(storage: Storage, clock: Clock, endpoint_id: str) -> str:
    """Enqueue a twin.test delivery to one endpoint; returns its delivery id."""
    endpoint = require_webhook(storage, endpoint_id)
    if not endpoint.enabled:
        raise Refused(f"webhook endpoint {endpoint_id} is disabled; enable it first")
    sent = delivery.enqueue(
        storage,
        clock,
        endpoint.owner_id,
        webhooks.TEST,
        {"userId": endpoint.owner_id, "endpointId": endpoint_id},
        endpoint_id=endpoint_id,
    )
    return sent[0]
