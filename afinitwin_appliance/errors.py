"""The contract's errors as one exception family.

Each member carries the HTTP status and the error code of section 4 of the
contract, so the domain can refuse a request without knowing about HTTP, and
one place (the web layer) turns any of them into the error envelope.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refusal the client should see, with its contract status and code."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = dict(headers or {})
        # The key id, once the key is identified: for the request's log line.
        self.key_id: str | None = None


def _error(status: int, code: str) -> type[ApiError]:
    return type(
        code.title().replace("_", ""), (ApiError,), {"status": status, "code": code}
    )


InvalidParameter = _error(400, "INVALID_PARAMETER")
InvalidBody = _error(400, "INVALID_BODY")
MissingApiKey = _error(401, "MISSING_API_KEY")
InvalidApiKey = _error(401, "INVALID_API_KEY")
ApiKeyRevoked = _error(401, "API_KEY_REVOKED")
ApiKeyExpired = _error(401, "API_KEY_EXPIRED")
SubscriptionInactive = _error(403, "SUBSCRIPTION_INACTIVE")
NoTwinPurchased = _error(403, "NO_TWIN_PURCHASED")
InsufficientScope = _error(403, "INSUFFICIENT_SCOPE")
IpNotAllowed = _error(403, "IP_NOT_ALLOWED")
NotFound = _error(404, "NOT_FOUND")
SnapshotNotFound = _error(404, "SNAPSHOT_NOT_FOUND")
PresetNotFound = _error(404, "PRESET_NOT_FOUND")
MethodNotAllowed = _error(405, "METHOD_NOT_ALLOWED")
SnapshotNotReady = _error(409, "SNAPSHOT_NOT_READY")
PayloadTooLarge = _error(413, "PAYLOAD_TOO_LARGE")
UnsupportedMediaType = _error(415, "UNSUPPORTED_MEDIA_TYPE")
RateLimited = _error(429, "RATE_LIMITED")
TierQuotaExceeded = _error(429, "TIER_QUOTA_EXCEEDED")
InternalError = _error(500, "INTERNAL_ERROR")
ServiceUnavailable = _error(503, "SERVICE_UNAVAILABLE")


class DomainError(Exception):
    """A refusal outside the HTTP API (CLI, import): a message for a person."""


class SnapshotInvalid(DomainError):
    """A snapshot document that breaks section 8; carries every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)
