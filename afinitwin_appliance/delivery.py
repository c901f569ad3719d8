"""Webhook delivery: the outbox in the database and the thread that empties it.

An event is written to the outbox (webhook_deliveries) in one transaction and
nothing else happens on the request that caused it: no connection is opened,
no endpoint is waited for. A background thread, started by `serve`, sends due
deliveries one at a time and records every attempt, so a delivery survives a
restart and its history is visible on the admin page.

Sending uses http.client directly rather than urllib's opener, which follows
redirects on its own: a webhook that could be redirected could be steered at
another service with a signed body. A 3xx answer is a failed attempt; 2xx is
delivered; anything else, a timeout or a refused connection is retried with
the back-off of webhooks.BACKOFF, and the delivery is failed after the last.

The clock and the `send` function are injected, so tests move time by hand
and need no network.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

from . import webhooks
from .clock import Clock
from .storage import Storage
from .webhooks import Attempt, Delivery

log = logging.getLogger(__name__)

TIMEOUT = 10.0
POLL_SECONDS = 2.0
# Longer than any attempt can take (connect + answer), so a lease never runs
# out while its attempt is still going.
LEASE_SECONDS = 120
MAX_ERROR = 300


class Send(Protocol):
    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> int:
        """POST the body; return the status code or raise OSError."""


def http_send(
    url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT
) -> int:
    """POST once with http.client; never follows a redirect."""
    parts = urlsplit(url)
    kind = (
        http.client.HTTPSConnection
        if parts.scheme.lower() == "https"
        else http.client.HTTPConnection
    )
    conn = kind(parts.hostname or "", parts.port, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        # Read a little of the answer so the connection ends cleanly; what
        # the receiver says is not kept.
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


# -- enqueueing ------------------------------------------------------------------


def enqueue(
    storage: Storage,
    clock: Clock,
    owner_id: str,
    event: str,
    data: dict[str, Any],
    endpoint_id: str | None = None,
    once: tuple[str, str] | None = None,
) -> list[str]:
    """Put one event in the outbox for each of the owner's subscribed endpoints.

    With `endpoint_id`, only that endpoint (how twin.test is sent). With
    `once` = (key id, month), the event is recorded in quota_events and
    enqueued only the first time. Returns the delivery ids.
    """
    now = int(clock.now())
    if endpoint_id is not None:
        found = storage.get_webhook_endpoint(endpoint_id)
        targets = [found] if found is not None else []
    else:
        targets = storage.list_webhook_endpoints(owner_id)
    deliveries = []
    for endpoint in targets:
        if not endpoint.wants(event):
            continue
        delivery_id = webhooks.new_delivery_id()
        deliveries.append(
            Delivery(
                delivery_id=delivery_id,
                endpoint_id=endpoint.endpoint_id,
                event=event,
                body=webhooks.body(event, delivery_id, now, data),
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                status="pending",
                last_status_code=None,
                last_error=None,
            )
        )
    if once is None and not deliveries:
        return []
    marker = None if once is None else (*once, event, now)
    if not storage.enqueue_deliveries(deliveries, marker):
        return []
    return [d.delivery_id for d in deliveries]


def notify(
    storage: Storage, clock: Clock, owner_id: str, event: str, data: dict[str, Any]
) -> list[str]:
    """Enqueue an event after its change was committed; never raises.

    Limitation: the change and its event are two transactions, so if the
    outbox cannot be written (storage busy past its timeout) the change stands
    and the event is logged as lost rather than undoing the change.
    """
    try:
        return enqueue(storage, clock, owner_id, event, data)
    except Exception:
        log.exception(
            "webhook event %s for owner %s could not be enqueued", event, owner_id
        )
        return []


class QuotaWatch:
    """Fires the two quota events from the admission path, once a month each.

    Far from the thresholds this costs one integer comparison. At or past 80%
    the first request in this process writes quota_events (INSERT OR IGNORE,
    so concurrent requests and other processes agree on one winner); later
    requests find the event in a small in-memory set and write nothing.
    Past the threshold rather than exactly at it, so a key whose limit was
    lowered mid-month still gets its warning.
    """

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock
        self._month = ""
        self._done: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def counted(
        self, owner_id: str, key_id: str, month: str, used: int, limit: int
    ) -> None:
        """After a counted request: `used` as count_request returned it."""
        if used * 5 < limit * 4:
            return
        self._fire(owner_id, key_id, month, webhooks.QUOTA_WARNING, used, limit)

    def exceeded(self, owner_id: str, key_id: str, month: str, limit: int) -> None:
        """After a request refused with TIER_QUOTA_EXCEEDED."""
        self._fire(owner_id, key_id, month, webhooks.QUOTA_EXCEEDED, limit, limit)

    def _fire(
        self, owner_id: str, key_id: str, month: str, event: str, used: int, limit: int
    ) -> None:
        with self._lock:
            if month != self._month:  # a new month forgets the last one's events
                self._month, self._done = month, set()
            if (key_id, event) in self._done:
                return
        data = {
            "userId": owner_id,
            "keyId": key_id,
            "month": month,
            "limit": limit,
            "used": used,
        }
        try:
            enqueue(
                self.storage, self.clock, owner_id, event, data, once=(key_id, month)
            )
        except Exception:
            # The request was counted already; never fail it for a webhook.
            # Not marked done, so the next request tries again.
            log.exception(
                "webhook event %s for key %s could not be enqueued", event, key_id
            )
            return
        with self._lock:
            if month == self._month:
                self._done.add((key_id, event))


# -- sending -------------------------------------------------------------------------


class Sender:
    """Sends due deliveries; `run_due` once, or `start` a thread that loops."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        send: Callable[..., int] = http_send,
        timeout: float = TIMEOUT,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.send = send
        self.timeout = timeout
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self) -> int:
        """Attempt every delivery due now; returns how many were attempted."""
        done = 0
        while not self._stop.is_set():
            batch = self.storage.claim_due_deliveries(
                int(self.clock.now()), LEASE_SECONDS
            )
            if not batch:
                break
            for delivery in batch:
                if self._stop.is_set():
                    # Unsent ones come back when their lease ends, after a
                    # restart at the latest.
                    break
                self.attempt(delivery)
                done += 1
        return done

    def attempt(self, delivery: Delivery) -> Attempt:
        """Send one delivery once, record the attempt, schedule what follows."""
        endpoint = self.storage.get_webhook_endpoint(delivery.endpoint_id)
        secret = self.storage.webhook_secret(delivery.endpoint_id)
        started = int(self.clock.now())
        status_code, error, retry = None, None, True
        tick = time.perf_counter()
        if endpoint is None or secret is None or not endpoint.enabled:
            # Nobody is listening any more: no point in retrying.
            error, retry = "the endpoint was removed or disabled", False
        else:
            payload = delivery.body.encode("utf-8")
            heads = webhooks.headers(secret, delivery.delivery_id, started, payload)
            try:
                status_code = int(self.send(endpoint.url, payload, heads, self.timeout))
            except Exception as exc:  # any failure to talk is one failed attempt
                error = _describe(exc)
        duration_ms = int((time.perf_counter() - tick) * 1000)
        if status_code is not None and 300 <= status_code < 400:
            error = f"redirect ({status_code}) not followed"
        elif status_code is not None and not 200 <= status_code < 300:
            error = f"answered {status_code}"

        attempt = Attempt(
            delivery.delivery_id, started, status_code, error, duration_ms
        )
        delay = webhooks.retry_delay(delivery.attempts + 1) if retry else None
        if error is None:
            status, next_at = "delivered", None
        elif delay is None:
            status, next_at = "failed", None
        else:
            status, next_at = "pending", started + delay
        self.storage.record_attempt(attempt, status, next_at)
        log.info(
            "webhook %s %s to %s: %s",
            delivery.event,
            delivery.delivery_id,
            delivery.endpoint_id,
            error or "delivered",
        )
        return attempt

    # -- the thread ---------------------------------------------------------------

    def start(self) -> "Sender":
        self._thread = threading.Thread(
            target=self._loop, name="webhook-delivery", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to stop after its current attempt; safe in a signal
        handler (it only sets an event)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(self.timeout + 5 if timeout is None else timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:
                log.exception("webhook delivery pass failed; retrying shortly")
            self._stop.wait(self.poll)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError) or "timed out" in text:
        text = "timed out"
    return f"{type(exc).__name__}: {text}"[:MAX_ERROR]
