"""The admin page and its JSON API, served under /admin/.

The page is static (static/index.html, admin.css, admin.js, shipped as the
package afinitwin_appliance.static) and talks to JSON endpoints under
/admin/api/ that answer with the public API's error envelope. Handlers are a
few lines each; the rules live in manage, admins, sessions and audit.

Cross-site protection is header-based rather than form-token based: every
state-changing request must carry the session's CSRF token in X-CSRF-Token,
which a cross-site page cannot set without a CORS preflight we never grant,
and must not come from another site by Sec-Fetch-Site or Origin. The cookie is
also SameSite=Strict, so a browser that ignores one layer still meets another.
Together with a strict Content-Security-Policy (no inline script or style) a
stray piece of owner data cannot run as script on the page.

Failed sign-ins are throttled per account and per client address before any
argon2 work is spent, so guessing costs the guesser time, not the server
threads; the argon2 work itself runs one at a time (admins.Passwords).

Limitation: the failed sign-in counts live in the process's memory, so a
restart of the appliance forgives the failures of the last 15 minutes.
"""

from __future__ import annotations

import html
import logging
import shlex
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Iterable

import bottle

from . import (
    admins,
    audit,
    errors,
    keys,
    manage,
    owners,
    quota,
    sessions,
    webhooks,
)
from .admission import client_address
from .api import (
    JSON_TYPE,
    bottle_error,
    dumps,
    error_response,
    read_json_body,
    summary,
)
from .clock import Clock, parse_instant, rfc3339
from .config import Settings
from .keys import KEY_ID_RE, ApiKey
from .ratelimit import SlidingWindowLimiter
from .storage import Conflict, Storage

if TYPE_CHECKING:
    from .api import Api

log = logging.getLogger(__name__)

SIGN_IN_WINDOW = 15 * 60
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REVIEW_STATUSES = ("pending", "accepted", "dismissed")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; frame-ancestors 'none';"
    " form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
ASSET_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml",
}
SETUP_MARKER = '<section id="setup" class="setup" hidden>'
COMMAND_MARKER = "afinitwin-appliance admin add NAME"


def _error(status: int, code: str) -> type[errors.ApiError]:
    return type(
        code.title().replace("_", ""),
        (errors.ApiError,),
        {"status": status, "code": code},
    )


# The admin surface's own refusals, in the same family as the public API's.
NotSignedIn = _error(401, "NOT_SIGNED_IN")
WrongCredentials = _error(401, "INVALID_CREDENTIALS")
CrossSite = _error(403, "CROSS_SITE_REQUEST")
CsrfInvalid = _error(403, "CSRF_TOKEN_INVALID")
NoAdminAccount = _error(409, "NO_ADMIN_ACCOUNT")
Refused = _error(409, "REFUSED")
SnapshotConflict = _error(409, "SNAPSHOT_CONFLICT")
SnapshotRefused = _error(422, "SNAPSHOT_INVALID")


@dataclass
class Call:
    """What a handler knows about the request it answers."""

    request_id: str
    address: str
    secure: bool
    now: float
    cookie_id: str | None
    session: sessions.AdminSession | None = None

    @property
    def admin(self) -> str:
        assert self.session is not None
        return self.session.admin


def mount(app: bottle.Bottle, api: "Api") -> "Admin":
    """Serve the admin page under /admin/ of the API's Bottle app."""
    admin = Admin(api.storage, api.settings, api.clock)
    app.mount("/admin/", admin)
    app.route("/admin", ["GET", "HEAD"], admin.redirect)
    return admin


class Admin:
    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Clock,
        passwords: admins.Passwords | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.passwords = passwords or admins.Passwords(concurrency=1)
        self.failures = SlidingWindowLimiter(
            window=SIGN_IN_WINDOW, max_buckets=settings.max_tracked
        )
        self.app = self._routes()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        is_api = environ.get("PATH_INFO", "").startswith("/api/")

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            present = {name.lower() for name, _ in headers}
            headers = [
                *headers,
                *(h for h in SECURITY_HEADERS if h[0].lower() not in present),
            ]
            if is_api and "cache-control" not in present:
                headers.append(("Cache-Control", "no-store"))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    @staticmethod
    def redirect() -> None:
        bottle.response.status = 308
        bottle.response.set_header("Location", "/admin/")

    def _routes(self) -> bottle.Bottle:
        # No catch-all: a crash travels up to Api.__call__, which logs it once
        # with the request id and answers with the envelope.
        app = bottle.Bottle()
        app.config["catchall"] = False
        for status in (400, 404, 405, 413):
            app.error_handler[status] = bottle_error
        app.route("/", "GET", self.page)
        app.route("/<name:re:[a-z]+[.](?:css|js|svg)>", "GET", self.asset)
        routes: list[tuple[str, str, Callable[..., Any], bool]] = [
            ("/api/session", "GET", self.session_state, False),
            ("/api/session", "POST", self.sign_in, False),
            ("/api/session", "DELETE", self.sign_out, True),
            ("/api/owners", "GET", self.list_owners, True),
            ("/api/owners", "POST", self.add_owner, True),
            ("/api/owners/<owner_id>", "PATCH", self.set_plan, True),
            ("/api/owners/<owner_id>/snapshots", "GET", self.list_snapshots, True),
            ("/api/owners/<owner_id>/snapshots", "POST", self.import_snapshot, True),
            ("/api/owners/<owner_id>/keys", "GET", self.list_keys, True),
            ("/api/owners/<owner_id>/keys", "POST", self.create_key, True),
            ("/api/keys/<key_id>", "PATCH", self.set_key_quota, True),
            ("/api/keys/<key_id>/revoke", "POST", self.revoke_key, True),
            ("/api/review", "GET", self.list_review, True),
            ("/api/review/<item_id:int>", "PATCH", self.decide_review, True),
            ("/api/audit", "GET", self.list_audit, True),
            ("/api/owners/<owner_id>/webhooks", "GET", self.list_webhooks, True),
            ("/api/owners/<owner_id>/webhooks", "POST", self.add_webhook, True),
            ("/api/webhooks/<endpoint_id>", "PATCH", self.set_webhook, True),
            ("/api/webhooks/<endpoint_id>", "DELETE", self.remove_webhook, True),
            ("/api/webhooks/<endpoint_id>/test", "POST", self.test_webhook, True),
            ("/api/owners/<owner_id>/deliveries", "GET", self.list_deliveries, True),
        ]
        for path, method, handler, signed_in in routes:
            app.route(path, method, self._api(handler, signed_in))
        return app

    # -- the page and its assets ---------------------------------------------------

    def page(self) -> bytes:
        text = _static("index.html").decode("utf-8")
        if not self.storage.has_admins():
            # Said in the HTML itself, so even a client without script (curl,
            # a text browser) learns how to create the first admin.
            text = text.replace(SETUP_MARKER, SETUP_MARKER.replace(" hidden", ""))
            text = text.replace(COMMAND_MARKER, html.escape(self.setup_command()))
        bottle.response.content_type = "text/html; charset=utf-8"
        bottle.response.set_header("Cache-Control", "no-store")
        return text.encode("utf-8")

    def asset(self, name: str) -> bytes:
        try:
            body = _static(name)
        except FileNotFoundError:
            raise bottle.HTTPError(404) from None
        bottle.response.content_type = ASSET_TYPES[name.rsplit(".", 1)[1]]
        # Revalidate every time: the assets carry no version in their names.
        bottle.response.set_header("Cache-Control", "no-cache")
        return body

    def setup_command(self) -> str:
        config = (
            f" --config {shlex.quote(str(self.settings.source))}"
            if self.settings.source
            else ""
        )
        return f"afinitwin-appliance{config} admin add NAME"

    # -- the JSON endpoints' common path ------------------------------------------

    def _api(self, handler: Callable[..., Any], signed_in: bool) -> Callable[..., Any]:
        def run(**url_args: Any) -> bytes:
            environ = bottle.request.environ
            call = self._call(environ)
            try:
                if bottle.request.method in STATE_CHANGING:
                    self._refuse_cross_site(environ, call)
                call.session = self._session(call, required=signed_in)
                if bottle.request.method in STATE_CHANGING:
                    self._check_csrf(environ, call)
                result = handler(call, **url_args)
            except errors.ApiError as error:
                return error_response(error, call.request_id)
            except (manage.Refused, admins.Refused) as refusal:
                return error_response(Refused(_sentence(str(refusal))), call.request_id)
            bottle.response.content_type = JSON_TYPE
            bottle.response.set_header("Cache-Control", "no-store")
            return dumps(result)

        return run

    def _call(self, environ: dict[str, Any]) -> Call:
        peer = environ.get("REMOTE_ADDR", "")
        trusted = self.settings.trusted_networks
        from_proxy = keys.address_in(peer, trusted)
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
        secure = environ.get("wsgi.url_scheme") == "https" or (
            from_proxy and proto == "https"
        )
        cookie = bottle.request.get_cookie(sessions.cookie_name(secure))
        return Call(
            request_id=environ.get("afinitwin.request_id") or uuid.uuid4().hex,
            address=client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), trusted),
            secure=secure,
            now=self.clock.now(),
            cookie_id=cookie if sessions.well_formed(cookie) else None,
        )

    def _refuse_cross_site(self, environ: dict[str, Any], call: Call) -> None:
        # Limitation: Origin is compared with the Host header as received, so a
        # reverse proxy must pass Host through unchanged (nginx: proxy_set_header
        # Host $host) or every change made on the page is refused.
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if site is not None and site != "same-origin":
            raise CrossSite("Changes are accepted only from the admin page itself.")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and _origin(origin) != _origin(
            f"{'https' if call.secure else 'http'}://{environ.get('HTTP_HOST', '')}"
        ):
            raise CrossSite("Changes are accepted only from the admin page itself.")

    def _check_csrf(self, environ: dict[str, Any], call: Call) -> None:
        if call.cookie_id is None or not sessions.csrf_matches(
            call.cookie_id, environ.get("HTTP_X_CSRF_TOKEN")
        ):
            raise CsrfInvalid(
                "The request's CSRF token is missing or stale; reload the page."
            )

    def _session(self, call: Call, required: bool) -> sessions.AdminSession | None:
        found = None
        if call.cookie_id is not None:
            found = self.storage.get_session(sessions.hash_id(call.cookie_id))
        if found is not None and found.expired(call.now):
            self.storage.end_session(found.session_hash)
            found = None
        if found is None:
            if required:
                raise NotSignedIn("Sign in first; the session is missing or has ended.")
            return None
        self.storage.touch_session(found.session_hash, int(call.now))
        return sessions.AdminSession(
            found.session_hash, found.admin, found.created_at, int(call.now)
        )

    def _audit(self, call: Call, action: str, target: str, **details: Any) -> None:
        audit.record(
            self.storage, self.clock, call.admin, action, target, call.address, details
        )
        log.info("admin %s: %s %s", call.admin, action, target)

    # -- session ------------------------------------------------------------------

    def session_state(self, call: Call) -> dict[str, Any]:
        if call.session is not None:
            return self._signed_in(call.session, call.cookie_id or "")
        pre = call.cookie_id or sessions.new_id()
        bottle.response.add_header("Set-Cookie", sessions.set_cookie(pre, call.secure))
        has_admins = self.storage.has_admins()
        return {
            "signedIn": False,
            "csrfToken": sessions.csrf_token(pre),
            "setupRequired": not has_admins,
            "setupCommand": None if has_admins else self.setup_command(),
        }

    def _signed_in(
        self, session: sessions.AdminSession, session_id: str
    ) -> dict[str, Any]:
        return {
            "signedIn": True,
            "admin": session.admin,
            "csrfToken": sessions.csrf_token(session_id),
            "expiresAt": rfc3339(session.expires_at()),
        }

    def sign_in(self, call: Call) -> dict[str, Any]:
        body = _object(read_json_body(bottle.request.environ), "name", "password")
        name, password = _string(body, "name"), _string(body, "password")
        if not self.storage.has_admins():
            raise NoAdminAccount(
                f"No admin account exists yet; create one with: {self.setup_command()}"
            )
        buckets = [
            (("account", name[:64]), ACCOUNT_FAILURES),
            (("address", call.address), ADDRESS_FAILURES),
        ]

        def throttle() -> None:
            full = [
                d
                for d in (self.failures.peek(b, n, call.now) for b, n in buckets)
                if not d.allowed
            ]
            if full:
                raise errors.RateLimited(
                    "Too many failed sign-ins; retry after the time in Retry-After.",
                    headers={"Retry-After": str(max(d.retry_after for d in full))},
                )

        throttle()
        admin = admins.authenticate(
            self.storage, self.passwords, name, password, precheck=throttle
        )
        if admin is None:
            for bucket, limit in buckets:
                self.failures.hit(bucket, limit, call.now)
            known = self.storage.get_admin(name) is not None
            # An unknown "name" may be a password typed in the wrong field.
            log.warning(
                "admin sign-in failed from %s for %s",
                call.address,
                name if known else "an unknown name",
            )
            raise WrongCredentials("The name or the password is wrong.")

        if call.session is not None:
            self.storage.end_session(call.session.session_hash)
        now = int(call.now)
        self.storage.purge_sessions(
            now - sessions.IDLE_SECONDS, now - sessions.ABSOLUTE_SECONDS
        )
        session_id = sessions.new_id()
        session = sessions.AdminSession(
            sessions.hash_id(session_id), admin.name, now, now
        )
        self.storage.add_session(session)
        bottle.response.add_header(
            "Set-Cookie", sessions.set_cookie(session_id, call.secure)
        )
        call.session = session
        self._audit(call, "session.sign_in", admin.name)
        return self._signed_in(session, session_id)

    def sign_out(self, call: Call) -> dict[str, Any]:
        assert call.session is not None
        self.storage.end_session(call.session.session_hash)
        bottle.response.add_header("Set-Cookie", sessions.clear_cookie(call.secure))
        self._audit(call, "session.sign_out", call.admin)
        return {"signedIn": False}

    # -- owners ---------------------------------------------------------------------

    def list_owners(self, call: Call) -> dict[str, Any]:
        return {
            "owners": [
                self._owner_view(o, call.now) for o in self.storage.list_owners()
            ]
        }

    def add_owner(self, call: Call) -> dict[str, Any]:
        body = _object(
            read_json_body(bottle.request.environ),
            "name",
            "plan",
            "status",
            "source",
            "activeUntil",
        )
        owner = manage.add_owner(
            self.storage,
            self.clock,
            _string(body, "name"),
            plan=_string(body, "plan", "professional"),
            status=_string(body, "status", "active"),
            source=_string(body, "source", "manual"),
            active_until=_instant(body, "activeUntil"),
        )
        self._audit(
            call,
            "owner.add",
            owner.owner_id,
            name=owner.name,
            plan=owner.plan_name,
            status=owner.plan_status,
            source=owner.plan_source,
            activeUntil=_at(owner.active_until),
        )
        bottle.response.status = 201
        return {"owner": self._owner_view(owner, call.now)}

    def set_plan(self, call: Call, owner_id: str) -> dict[str, Any]:
        before = self._owner(owner_id)
        body = _object(
            read_json_body(bottle.request.environ),
            "plan",
            "status",
            "source",
            "activeUntil",
        )
        owner = manage.set_plan(
            self.storage,
            self.clock,
            owner_id,
            _string(body, "plan", before.plan_name),
            _string(body, "status", before.plan_status),
            _string(body, "source", before.plan_source),
            _instant(body, "activeUntil"),
        )
        self._audit(
            call, "owner.set_plan", owner_id, before=_plan(before), after=_plan(owner)
        )
        return {"owner": self._owner_view(owner, call.now)}

    def _owner(self, owner_id: str) -> owners.Owner:
        owner = self.storage.get_owner(owner_id)
        if owner is None:
            raise errors.NotFound(
                "No owner has this id.", details={"ownerId": owner_id}
            )
        return owner

    def _owner_view(self, owner: owners.Owner, now: float) -> dict[str, Any]:
        # Limitation: three queries per owner; with thousands of owners the
        # owners list grows slow, as it has no paging yet.
        oid = owner.owner_id
        return {
            "id": oid,
            "name": owner.name,
            "plan": owner.plan_name,
            "status": owner.plan_status,
            "source": owner.plan_source,
            "activeUntil": _at(owner.active_until),
            "createdAt": rfc3339(owner.created_at),
            "planActive": owner.plan_active(now),
            "keysAllowed": owner.allows_keys(now),
            "snapshots": len(self.storage.list_snapshots(oid)),
            "liveKeys": sum(
                1 for k in self.storage.list_keys(oid) if k.revoked_at is None
            ),
            "pendingReview": len(self.storage.review_items(oid, "pending")),
        }

    # -- snapshots --------------------------------------------------------------------

    def list_snapshots(self, call: Call, owner_id: str) -> dict[str, Any]:
        self._owner(owner_id)
        return {
            "snapshots": [summary(r) for r in self.storage.list_snapshots(owner_id)]
        }

    def import_snapshot(self, call: Call, owner_id: str) -> dict[str, Any]:
        self._owner(owner_id)
        data = _raw_body(bottle.request.environ, MAX_SNAPSHOT_BYTES)
        filename = bottle.request.get_header("X-File-Name", "")[-200:] or None
        try:
            imported = manage.import_snapshot(
                self.storage, self.clock, owner_id, data, filename
            )
        except errors.SnapshotInvalid as exc:
            count = len(exc.problems)
            raise SnapshotRefused(
                f"The snapshot was refused: {count} problem{'s' * (count != 1)} found;"
                " nothing was imported.",
                details={"problems": exc.problems},
            ) from None
        except Conflict as exc:
            raise SnapshotConflict(_sentence(str(exc))) from None
        record = imported.record
        self._audit(
            call,
            "snapshot.import",
            record.snapshot_id,
            owner=owner_id,
            created=imported.created,
            file=filename,
        )
        bottle.response.status = 201 if imported.created else 200
        return {"snapshot": summary(record), "created": imported.created}

    # -- keys -------------------------------------------------------------------------

    def list_keys(self, call: Call, owner_id: str) -> dict[str, Any]:
        self._owner(owner_id)
        return {
            "keys": [
                self._key_view(k, call.now) for k in self.storage.list_keys(owner_id)
            ]
        }

    def create_key(self, call: Call, owner_id: str) -> dict[str, Any]:
        self._owner(owner_id)
        body = _object(
            read_json_body(bottle.request.environ),
            "name",
            "scopes",
            "monthlyQuota",
            "expiresAt",
            "allowedNetworks",
        )
        created = manage.create_key(
            self.storage,
            self.clock,
            owner_id,
            _string(body, "name"),
            scopes=_strings(body, "scopes"),
            monthly_quota=_integer(body, "monthlyQuota"),
            default_monthly=self.settings.default_monthly,
            expires_at=_instant(body, "expiresAt"),
            networks=_strings(body, "allowedNetworks"),
        )
        key = created.key
        self._audit(
            call,
            "key.create",
            key.key_id,
            owner=owner_id,
            name=key.name,
            scopes=list(key.scopes),
            monthlyQuota=key.monthly_quota,
            expiresAt=_at(key.expires_at),
            allowedNetworks=list(key.allowed_networks),
        )
        bottle.response.status = 201
        # The only answer that ever holds the plaintext: it is not stored,
        # not logged and not audited.
        return {"key": self._key_view(key, call.now), "plaintext": created.plaintext}

    def set_key_quota(self, call: Call, key_id: str) -> dict[str, Any]:
        before = self._key(key_id)
        body = _object(read_json_body(bottle.request.environ), "monthlyQuota")
        limit = _integer(body, "monthlyQuota")
        if limit is None:
            raise errors.InvalidBody(
                "monthlyQuota is required.", details={"field": "monthlyQuota"}
            )
        key = manage.set_key_quota(self.storage, key_id, limit)
        self._audit(
            call,
            "key.set_quota",
            key_id,
            owner=key.owner_id,
            before=before.monthly_quota,
            after=key.monthly_quota,
        )
        return {"key": self._key_view(key, call.now)}

    def revoke_key(self, call: Call, key_id: str) -> dict[str, Any]:
        self._key(key_id)
        key = manage.revoke_key(self.storage, self.clock, key_id)
        self._audit(call, "key.revoke", key_id, owner=key.owner_id, name=key.name)
        return {"key": self._key_view(key, call.now)}

    def _key(self, key_id: str) -> ApiKey:
        key = self.storage.get_key(key_id) if KEY_ID_RE.fullmatch(key_id) else None
        if key is None:
            raise errors.NotFound("No key has this key id.", details={"keyId": key_id})
        return key

    def _key_view(self, key: ApiKey, now: float) -> dict[str, Any]:
        if key.revoked_at is not None:
            state = "revoked"
        elif key.expires_at is not None and now >= key.expires_at:
            state = "expired"
        else:
            state = "live"
        return {
            "keyId": key.key_id,
            "ownerId": key.owner_id,
            "name": key.name,
            "scopes": list(key.scopes),
            "state": state,
            "monthlyQuota": key.monthly_quota,
            "usedThisMonth": self.storage.used(key.key_id, quota.month_of(now)),
            "createdAt": rfc3339(key.created_at),
            "lastUsedAt": _at(key.last_used_at),
            "expiresAt": _at(key.expires_at),
            "revokedAt": _at(key.revoked_at),
            "allowedNetworks": list(key.allowed_networks),
        }

    # -- review queue -----------------------------------------------------------------

    def list_review(self, call: Call) -> dict[str, Any]:
        query = bottle.request.query
        owner_id = query.get("owner") or None
        status = query.get("status") or "pending"
        if status not in (*REVIEW_STATUSES, "all"):
            raise errors.InvalidParameter(
                "The parameter status must be one of pending, accepted, dismissed,"
                " all.",
                details={"parameter": "status", "allowed": [*REVIEW_STATUSES, "all"]},
            )
        if owner_id is not None:
            self._owner(owner_id)
        items = self.storage.review_items(owner_id, None if status == "all" else status)
        return {"items": [_review_view(item) for item in items]}

    def decide_review(self, call: Call, item_id: int) -> dict[str, Any]:
        item = self.storage.get_review_item(item_id)
        if item is None:
            raise errors.NotFound(
                "No review item has this id.", details={"itemId": item_id}
            )
        status = _string(
            _object(read_json_body(bottle.request.environ), "status"), "status"
        )
        if status not in ("accepted", "dismissed"):
            raise errors.InvalidBody(
                "status must be accepted or dismissed.",
                details={"field": "status", "allowed": ["accepted", "dismissed"]},
            )
        self.storage.set_review_status(item_id, status)
        self._audit(
            call,
            f"review.{status.removesuffix('ed')}",
            str(item_id),
            owner=item["owner_id"],
            kind=item["kind"],
            before=item["status"],
        )
        return {"item": _review_view({**item, "status": status})}

    # -- webhooks ---------------------------------------------------------------------

    def list_webhooks(self, call: Call, owner_id: str) -> dict[str, Any]:
        self._owner(owner_id)
        return {
            "endpoints": [
                webhooks.endpoint_view(e)
                for e in self.storage.list_webhook_endpoints(owner_id)
            ],
            "events": list(webhooks.EVENTS),
        }

    def add_webhook(self, call: Call, owner_id: str) -> dict[str, Any]:
        self._owner(owner_id)
        body = _object(read_json_body(bottle.request.environ), "url", "events")
        created = manage.add_webhook(
            self.storage,
            self.clock,
            owner_id,
            _string(body, "url"),
            _strings(body, "events"),
        )
        endpoint = created.endpoint
        self._audit(
            call,
            "webhook.add",
            endpoint.endpoint_id,
            owner=owner_id,
            url=endpoint.url,
            events=list(endpoint.events),
        )
        bottle.response.status = 201
        # The only answer that ever holds the secret; it is not logged or
        # audited.
        return {"endpoint": webhooks.endpoint_view(endpoint), "secret": created.secret}

    def set_webhook(self, call: Call, endpoint_id: str) -> dict[str, Any]:
        self._webhook(endpoint_id)
        enabled = _object(read_json_body(bottle.request.environ), "enabled").get(
            "enabled"
        )
        if not isinstance(enabled, bool):
            raise _bad("enabled", "true or false")
        endpoint = manage.set_webhook_enabled(self.storage, endpoint_id, enabled)
        action = "webhook.enable" if enabled else "webhook.disable"
        self._audit(call, action, endpoint_id, owner=endpoint.owner_id)
        return {"endpoint": webhooks.endpoint_view(endpoint)}

    def remove_webhook(self, call: Call, endpoint_id: str) -> dict[str, Any]:
        self._webhook(endpoint_id)
        endpoint = manage.remove_webhook(self.storage, endpoint_id)
        self._audit(
            call,
            "webhook.remove",
            endpoint_id,
            owner=endpoint.owner_id,
            url=endpoint.url,
        )
        return {"removed": endpoint_id}

    def test_webhook(self, call: Call, endpoint_id: str) -> dict[str, Any]:
        endpoint = self._webhook(endpoint_id)
        delivery_id = manage.send_test_webhook(self.storage, self.clock, endpoint_id)
        self._audit(
            call,
            "webhook.test",
            endpoint_id,
            owner=endpoint.owner_id,
            delivery=delivery_id,
        )
        bottle.response.status = 202
        return {"deliveryId": delivery_id}

    def list_deliveries(self, call: Call, owner_id: str) -> dict[str, Any]:
        self._owner(owner_id)
        endpoint_id = bottle.request.query.get("endpoint") or None
        if endpoint_id is not None and (
            self._webhook(endpoint_id).owner_id != owner_id
        ):
            raise errors.NotFound(
                "No webhook endpoint of this owner has this id.",
                details={"endpointId": endpoint_id},
            )
        found = self.storage.list_deliveries(endpoint_id=endpoint_id, owner_id=owner_id)
        attempts = self.storage.delivery_attempts([d.delivery_id for d in found])
        return {"deliveries": [webhooks.delivery_view(d, attempts) for d in found]}

    def _webhook(self, endpoint_id: str) -> webhooks.Endpoint:
        found = None
        if webhooks.ENDPOINT_ID_RE.fullmatch(endpoint_id):
            found = self.storage.get_webhook_endpoint(endpoint_id)
        if found is None:
            raise errors.NotFound(
                "No webhook endpoint has this id.", details={"endpointId": endpoint_id}
            )
        return found

    # -- audit log --------------------------------------------------------------------

    def list_audit(self, call: Call) -> dict[str, Any]:
        text = bottle.request.query.get("before") or ""
        if text and not text.isdigit():
            raise errors.InvalidParameter(
                "The parameter before must be an entry id.",
                details={"parameter": "before"},
            )
        entries = audit.newest(self.storage, int(text) if text else None)
        return {
            "entries": [
                {
                    "id": e.entry_id,
                    "at": rfc3339(e.at),
                    "admin": e.admin,
                    "action": e.action,
                    "target": e.target,
                    "address": e.address,
                    "details": e.details,
                }
                for e in entries
            ],
            "next": entries[-1].entry_id if len(entries) == audit.PAGE else None,
        }


# -- helpers ------------------------------------------------------------------------


def _static(name: str) -> bytes:
    """An asset of the page, from the package, wherever it is installed."""
    entry = resources.files("afinitwin_appliance.static").joinpath(name)
    if not entry.is_file():
        raise FileNotFoundError(name)
    return entry.read_bytes()


def _origin(text: str) -> str:
    """scheme://host[:port] in lower case, without the scheme's default port."""
    value = text.strip().lower().rstrip("/")
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if value.startswith(scheme) and value.endswith(port):
            return value[: -len(port)]
    return value


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _at(ts: int | None) -> str | None:
    return None if ts is None else rfc3339(ts)


def _plan(owner: owners.Owner) -> dict[str, Any]:
    return {
        "plan": owner.plan_name,
        "status": owner.plan_status,
        "source": owner.plan_source,
        "activeUntil": _at(owner.active_until),
    }


def _review_view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["item_id"],
        "ownerId": item["owner_id"],
        "keyId": item["key_id"],
        "kind": item["kind"],
        "externalRef": item["external_ref"],
        "payload": item["payload"],
        "status": item["status"],
        "createdAt": rfc3339(item["created_at"]),
    }


def _raw_body(environ: dict[str, Any], limit: int) -> bytes:
    length_text = environ.get("CONTENT_LENGTH") or ""
    too_large = errors.PayloadTooLarge(
        f"The file is over {limit // (1024 * 1024)} MiB.", details={"limitBytes": limit}
    )
    if length_text.isdigit() and int(length_text) > limit:
        raise too_large
    data = environ["wsgi.input"].read(
        int(length_text) if length_text.isdigit() else limit + 1
    )
    if len(data) > limit:
        raise too_large
    if not data:
        raise errors.InvalidBody("The request carried no file.")
    return data


def _object(body: Any, *fields: str) -> dict[str, Any]:
    """The body as an object holding only `fields`: a misspelt field (quota for
    monthlyQuota) must be refused, not silently replaced by a default."""
    if not isinstance(body, dict):
        raise errors.InvalidBody("The body must be a JSON object.")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise errors.InvalidBody(
            f"Unknown field {unknown[0]!r}; the fields are {', '.join(fields)}.",
            details={"field": unknown[0], "allowed": list(fields)},
        )
    return body


def _bad(field: str, what: str) -> errors.ApiError:
    return errors.InvalidBody(f"{field} must be {what}.", details={"field": field})


def _string(body: dict[str, Any], field: str, default: str | None = None) -> str:
    value = body.get(field, default)
    if value is None:
        raise errors.InvalidBody(f"{field} is required.", details={"field": field})
    if not isinstance(value, str):
        raise _bad(field, "a string")
    return value


def _strings(body: dict[str, Any], field: str) -> list[str]:
    value = body.get(field) or []
    if isinstance(value, str):  # one per line or comma-separated, as typed
        value = [v for v in value.replace(",", "\n").split() if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(field, "a list of strings")
    return value


def _integer(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(field, "a whole number")
    return value


def _instant(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(field, "a date (YYYY-MM-DD) or an RFC 3339 instant")
    try:
        return int(parse_instant(value))
    except ValueError:
        raise _bad(field, "a date (YYYY-MM-DD) or an RFC 3339 instant") from None
