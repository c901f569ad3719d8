"""The public API (/v1/public/twin): its routes, handlers and WSGI entry.

Handlers are a few lines each: admission (admission.Gate) decides whether a
request may run, the domain modules compute the answer, and a handler only
reads the request and returns a Reply. Every refusal is an ApiError turned
into the contract's envelope in one place (`error_reply`), and the WSGI entry
gives every response its X-Request-Id and one log line.

The public routes are dispatched here from a table rather than by Bottle.
They are the path every integrator call takes, and Bottle's per-request
machinery (thread-local request and response objects, plugin wrappers,
re-encoding every header) cost more than admitting the request: /health took
76 microseconds through Bottle and 32 without it, one thread, same work. The
API needs only seven routes, a status line and a header list, so that is what
this module builds. The admin page, with its forms, cookies and files, stays
a Bottle application, and every path outside /v1/public/twin goes to it.
"""

from __future__ import annotations

import functools
import http
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple
from urllib.parse import parse_qsl, quote

import bottle

from . import errors, keys, presets, review
from .admission import Admitted, Gate, client_address
from .clock import Clock, SystemClock, rfc3339
from .config import Settings
from .keys import READ, WRITE
from .storage import SnapshotRecord, Storage, StorageError

log = logging.getLogger(__name__)

BASE = "/v1/public/twin"
PUBLIC_PREFIX = BASE + "/"
JSON_TYPE = "application/json; charset=utf-8"
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
HOST_RE = re.compile(
    r"([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:.]+\])(:[0-9]{1,5})?"
)
SNAPSHOT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
PRESET_PARAMS = ("format", "lang", "variant", "includeNarratives", "purchaseId")
BOOLEANS = {"true": True, "false": False}
ALLOWED: dict[str, tuple[str, ...]] = {
    "format": presets.FORMATS,
    "lang": presets.LANGS,
    "variant": presets.VARIANTS,
    "includeNarratives": tuple(BOOLEANS),
}


_REQUEST_PREFIX = secrets.token_hex(10)
_request_numbers = itertools.count()


def new_request_id() -> str:
    """32 hex digits: a random per-process prefix and a counter.

    Unique like a UUID for logs, without asking the OS for randomness on
    every request.
    """
    return f"{_REQUEST_PREFIX}{next(_request_numbers) & 0xFFFFFFFFFFFF:012x}"


def loggable(text: str, limit: int = 200) -> str:
    """Client-chosen text made safe for one log line.

    Control characters would forge log lines and anything shaped like a key
    would put a secret in the log, so both are neutralised; long text is cut.
    """
    text = keys.KEY_RE.sub("atk_live_REDACTED", text[: limit * 2])
    text = quote(text, safe="/:@!$&'()*+,;=-._~%?")
    return text if len(text) <= limit else text[:limit] + "…"


# One encoder for every response: json.dumps with options builds a new one
# per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(obj: Any) -> bytes:
    """JSON as the contract writes it: UTF-8 with real non-ASCII characters."""
    return _ENCODER.encode(obj).encode("utf-8")


def envelope(error: errors.ApiError, request_id: str) -> bytes:
    body: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "requestId": request_id,
    }
    if error.details is not None:
        body["details"] = error.details
    return dumps({"error": body})


def summary(record: SnapshotRecord) -> dict[str, Any]:
    return {
        "id": record.snapshot_id,
        "snapshotDate": record.snapshot_date,
        "version": record.version,
        "source": record.source,
        "status": record.status,
        "primaryLanguage": record.primary_language,
        "languages": list(record.languages),
        "hasNarratives": record.has_narratives,
        "importedAt": rfc3339(record.imported_at),
    }


class RenderCache:
    """Renderings by query, bounded, least recently used first out.

    Snapshots never change, so a rendering stays right for ever; the cache only
    bounds memory. Documents are cached the same way, so a repeated preset
    costs neither a database read of the document nor a render.
    """

    def __init__(self, storage: Storage, size: int = 1024) -> None:
        self.storage = storage
        self.size = size
        self._renderings: OrderedDict[tuple[Any, ...], presets.Rendering] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        self.document = functools.lru_cache(maxsize=64)(storage.snapshot_document)

    def get(
        self, snapshot_id: str, preset: str, query: PresetQuery
    ) -> presets.Rendering:
        # The purchase id only chose the snapshot; the rest is the rendering.
        cache_key = (snapshot_id, preset, *query[:4])
        with self._lock:
            hit = self._renderings.get(cache_key)
            if hit is not None:
                self._renderings.move_to_end(cache_key)
                return hit
        rendering = presets.render(
            self.document(snapshot_id),
            snapshot_id=snapshot_id,
            preset=preset,
            fmt=query.fmt,
            lang=query.lang,
            variant=query.variant,
            include_narratives=query.include_narratives,
        )
        with self._lock:
            self._renderings[cache_key] = rendering
            while len(self._renderings) > self.size:
                self._renderings.popitem(last=False)
        return rendering


STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in http.HTTPStatus}


class Reply(NamedTuple):
    """A handler's answer; the entry adds the admission and request-id fields.

    A NamedTuple, made on every request, for the reason given at
    ratelimit.Decision.
    """

    body: bytes
    headers: dict[str, str]
    status: int = 200


@functools.lru_cache(maxsize=1024)
def health_body(
    key_id: str, owner_id: str, scopes: tuple[str, ...], second: int
) -> bytes:
    """/health's body, which changes once a second per key: encoded that often."""
    return dumps(
        {
            "ok": True,
            "apiKeyId": key_id,
            "userId": owner_id,
            "scopes": list(scopes),
            "serverTime": rfc3339(second),
        }
    )


def private_json_fields() -> dict[str, str]:
    """The fields of a JSON answer about one key (a new dict: replies add to it)."""
    return {"Content-Type": JSON_TYPE, "Cache-Control": "private, no-store"}


def json_reply(obj: Any, status: int = 200) -> Reply:
    return Reply(dumps(obj), private_json_fields(), status)


def error_reply(error: errors.ApiError, request_id: str) -> Reply:
    return Reply(
        envelope(error, request_id),
        {"Content-Type": JSON_TYPE, "Cache-Control": "no-store", **error.headers},
        error.status,
    )


@dataclass(frozen=True)
class Endpoint:
    """One public route: its name in [rate_limits], quota and scope, its handler."""

    name: str
    method: str
    counted: bool
    scope: str
    handler: Callable[..., Reply]


class Routes:
    """The public routes: fixed paths, and paths ending in one argument.

    A pattern ending in "/*" takes the rest of the path, slashes included, as
    its argument (never an empty one), as Bottle's `<name:path>` did.
    """

    def __init__(self, table: Iterable[tuple[str, Endpoint]]) -> None:
        self.fixed: dict[str, dict[str, Endpoint]] = {}
        self.prefixed: dict[str, dict[str, Endpoint]] = {}
        for pattern, endpoint in table:
            if pattern.endswith("/*"):
                methods = self.prefixed.setdefault(pattern[:-1], {})
            else:
                methods = self.fixed.setdefault(pattern, {})
            methods[endpoint.method] = endpoint

    def match(self, path: str) -> tuple[dict[str, Endpoint], tuple[str, ...]]:
        """The endpoints at a path by method, and the path's argument if any."""
        found = self.fixed.get(path)
        if found is not None:
            return found, ()
        for prefix, methods in self.prefixed.items():
            if path.startswith(prefix) and len(path) > len(prefix):
                return methods, (path[len(prefix) :],)
        raise errors.NotFound("No such route.")

    @staticmethod
    def pick(methods: dict[str, Endpoint], method: str) -> Endpoint:
        """The endpoint for a method; HEAD is GET without the body (contract §1)."""
        endpoint = methods.get("GET" if method == "HEAD" else method)
        if endpoint is None:
            allowed = sorted({*methods, *(["HEAD"] if "GET" in methods else [])})
            raise errors.MethodNotAllowed(
                f"{method} is not allowed here; use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        return endpoint


class Api:
    def __init__(
        self, storage: Storage, settings: Settings, clock: Clock | None = None
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock or SystemClock()
        self.gate = Gate(storage, settings, self.clock)
        self.renderings = RenderCache(storage)
        self.trusted = settings.trusted_networks
        self.routes = Routes(self._table())
        self.app = self._bottle()

    # -- WSGI entry: request id, one log line --------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID")
        # Contract section 1: a well-formed id is echoed, even one shaped like
        # a key (the client sent it; only the log line redacts it).
        if incoming and REQUEST_ID_RE.fullmatch(incoming):
            request_id = incoming
        else:
            request_id = new_request_id()
        environ["afinitwin.request_id"] = request_id
        path = environ.get("PATH_INFO", "")
        status = "-"

        def start(
            status_line: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            nonlocal status
            status = status_line.split(" ", 1)[0]
            headers.append(("X-Request-Id", request_id))
            return start_response(status_line, headers, exc_info)

        try:
            if path.startswith(PUBLIC_PREFIX):
                code, headers, body = self._public(environ, path, request_id)
                headers.append(("X-Request-Id", request_id))
                status = str(code)
                start_response(STATUS_LINES[code], headers)
                return [body]
            return self.app(environ, start)
        except StorageError as exc:
            # The database or its change mirror cannot be written right now
            # (the log says why); the client may retry, so not a 500.
            log.warning("request %s: %s", loggable(request_id), exc)
            return self._raw_error(
                errors.ServiceUnavailable(
                    "Storage cannot be written right now; retry shortly.",
                    headers={"Retry-After": "1"},
                ),
                request_id,
                start,
            )
        except Exception:
            # Bottle's catch-all is off so the traceback goes to our log, once,
            # tagged with the request id, and the client gets the envelope.
            log.exception("unhandled error in request %s", loggable(request_id))
            return self._raw_error(
                errors.InternalError(
                    "Something went wrong inside the appliance; the log has this"
                    " request id."
                ),
                request_id,
                start,
            )
        finally:
            if log.isEnabledFor(logging.INFO):
                self._log(environ, request_id, status, started)

    def _log(
        self, environ: dict[str, Any], request_id: str, status: str, started: float
    ) -> None:
        log.info(
            "request id=%s key=%s %s %s status=%s ms=%.1f",
            loggable(request_id),
            environ.get("afinitwin.key_id", "-"),
            loggable(environ.get("REQUEST_METHOD", "-")),
            loggable(environ.get("PATH_INFO", "-")),
            status,
            (time.perf_counter() - started) * 1000,
        )

    def _raw_error(
        self, error: errors.ApiError, request_id: str, start: Callable[..., Any]
    ) -> list[bytes]:
        reply = error_reply(error, request_id)
        start(
            STATUS_LINES[reply.status],
            [*reply.headers.items(), ("Content-Length", str(len(reply.body)))],
        )
        return [reply.body]

    # -- the public routes ----------------------------------------------------------

    def _table(self) -> list[tuple[str, Endpoint]]:
        def submit(kind: review.Kind) -> Callable[..., Reply]:
            return functools.partial(self.submit, kind)

        return [
            (f"{BASE}/health", Endpoint("health", "GET", False, READ, self.health)),
            (f"{BASE}/me", Endpoint("me", "GET", True, READ, self.me)),
            (
                f"{BASE}/historic",
                Endpoint("historic", "GET", True, READ, self.historic),
            ),
            (
                f"{BASE}/snapshots/*",
                Endpoint("snapshots", "GET", True, READ, self.snapshot),
            ),
            (f"{BASE}/preset/*", Endpoint("preset", "GET", True, READ, self.preset)),
            (
                f"{BASE}/life-facts",
                Endpoint("life_facts", "POST", True, WRITE, submit(review.LIFE_FACT)),
            ),
            (
                f"{BASE}/annotations",
                Endpoint("annotations", "POST", True, WRITE, submit(review.ANNOTATION)),
            ),
        ]

    def _public(
        self, environ: dict[str, Any], path: str, request_id: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer a request to the public API: status, header fields, body."""
        method = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            methods, args = self.routes.match(path)
            reply = self._admitted(Routes.pick(methods, method), environ, args)
        except errors.ApiError as error:
            if error.key_id:
                environ["afinitwin.key_id"] = error.key_id
            reply = error_reply(error, request_id)

        headers = list(reply.headers.items())
        body = reply.body
        if reply.status == 304:
            body = b""
        else:
            headers.append(("Content-Length", str(len(body))))
        if method == "HEAD":
            body = b""
        return reply.status, headers, body

    def _admitted(
        self, endpoint: Endpoint, environ: dict[str, Any], args: tuple[str, ...]
    ) -> Reply:
        admitted = self.gate.admit(
            endpoint.name,
            counted=endpoint.counted,
            scope=endpoint.scope,
            client_ip=client_address(
                environ.get("REMOTE_ADDR", ""),
                environ.get("HTTP_X_FORWARDED_FOR"),
                self.trusted,
            ),
            x_twin_key=environ.get("HTTP_X_TWIN_KEY"),
            authorization=environ.get("HTTP_AUTHORIZATION"),
        )
        environ["afinitwin.key_id"] = admitted.key.key_id
        try:
            reply = endpoint.handler(admitted, environ, *args)
        except errors.ApiError as error:
            # A refusal after admission still says where the key stands.
            error.headers = {**admitted.headers, **error.headers}
            raise
        reply.headers.update(admitted.headers)
        return reply

    # -- the admin page and everything outside the API: Bottle -----------------------

    def _bottle(self) -> bottle.Bottle:
        app = bottle.Bottle()
        app.config["catchall"] = False
        app.config["json.enable"] = False
        app.config["afinitwin.api"] = self
        for status in (400, 404, 405, 413):
            app.error_handler[status] = bottle_error
        from .admin import mount  # here: the admin layer builds on this module

        self.admin = mount(app, self)
        return app

    # -- handlers -----------------------------------------------------------------

    def health(self, ok: Admitted, environ: dict[str, Any]) -> Reply:
        body = health_body(ok.key.key_id, ok.owner.owner_id, ok.key.scopes, int(ok.now))
        return Reply(body, private_json_fields())

    def me(self, ok: Admitted, environ: dict[str, Any]) -> Reply:
        owner, snapshots = ok.owner, self.storage.list_snapshots(ok.owner.owner_id)
        return json_reply(
            {
                "apiKeyId": ok.key.key_id,
                "keyName": ok.key.name,
                "userId": owner.owner_id,
                "scopes": list(ok.key.scopes),
                "plan": {
                    "name": owner.plan_name,
                    "status": "active" if owner.plan_active(ok.now) else "lapsed",
                    "source": owner.plan_source,
                    "activeUntil": (
                        None
                        if owner.active_until is None
                        else rfc3339(owner.active_until)
                    ),
                },
                "quota": {
                    "monthlyLimit": ok.quota.limit,
                    "used": ok.quota.used,
                    "remaining": ok.quota.remaining,
                    "resetsAt": rfc3339(ok.quota.resets_at),
                },
                "twins": {
                    "ready": sum(1 for s in snapshots if s.status == "ready"),
                    "total": len(snapshots),
                    "latest": summary(snapshots[0]) if snapshots else None,
                },
            }
        )

    def historic(self, ok: Admitted, environ: dict[str, Any]) -> Reply:
        records = self.storage.list_snapshots(ok.owner.owner_id)
        return json_reply({"snapshots": [summary(r) for r in records]})

    def _owned_snapshot(self, ok: Admitted, snapshot_id: str) -> SnapshotRecord:
        record = None
        if SNAPSHOT_ID_RE.fullmatch(snapshot_id):
            record = self.storage.get_snapshot(snapshot_id)
        # Another owner's snapshot gets the very same answer as a missing one,
        # so ids cannot be probed across owners.
        if record is None or record.owner_id != ok.owner.owner_id:
            raise errors.SnapshotNotFound(
                "No snapshot with this id exists for this key's owner."
            )
        return record

    def snapshot(
        self, ok: Admitted, environ: dict[str, Any], snapshot_id: str
    ) -> Reply:
        record = self._owned_snapshot(ok, snapshot_id)
        document = self.renderings.document(record.snapshot_id)
        return json_reply(
            {
                **summary(record),
                "presets": list(presets.PRESETS) if record.status == "ready" else [],
                "sections": presets.sections_present(document),
            }
        )

    def preset(self, ok: Admitted, environ: dict[str, Any], slug: str) -> Reply:
        query = preset_query(environ.get("QUERY_STRING", ""))
        if slug not in presets.PRESETS:
            raise errors.PresetNotFound(
                "No preset has this name.", details={"presets": list(presets.PRESETS)}
            )
        record = self._chosen_snapshot(ok, query.purchase_id)
        rendering = self.renderings.get(record.snapshot_id, slug, query)

        headers = {
            "ETag": rendering.etag,
            "Cache-Control": "private, no-cache",
            "Vary": "X-Twin-Key, Authorization",
            "X-Twin-Snapshot-Id": record.snapshot_id,
        }
        if etag_matches(environ.get("HTTP_IF_NONE_MATCH"), rendering.etag):
            # RFC 9110, section 15.4.5: a 304 repeats the validator and the
            # caching fields, not the fields that describe the content.
            # Limitation: Waitress closes the connection after any 304 (it
            # keeps a connection open only with a Content-Length, which a 304
            # may not carry), so the client's next request opens a new one.
            return Reply(b"", headers, 304)
        headers["Content-Type"] = rendering.content_type
        headers["Content-Language"] = ", ".join(rendering.content_languages)
        return Reply(rendering.body, headers)

    def submit(self, kind: review.Kind, ok: Admitted, environ: dict[str, Any]) -> Reply:
        items = review.validate_batch(kind, read_json_body(environ))
        accepted, duplicates = self.storage.queue_for_review(
            ok.owner.owner_id, ok.key.key_id, kind.name, items, int(ok.now)
        )
        return json_reply(
            {
                "accepted": accepted,
                "duplicates": duplicates,
                "inboxUrl": self.inbox_url(environ),
            },
            status=202,
        )

    def inbox_url(self, environ: dict[str, Any]) -> str:
        base = self.settings.public_url.rstrip("/")
        if not base:
            # The Host header is the client's word: use it only if it is a
            # plain host[:port], never to build a link to somewhere else.
            host = environ.get("HTTP_HOST", "")
            if not HOST_RE.fullmatch(host):
                # Waitress's SERVER_NAME may be a made-up name; the address
                # the appliance listens on is at least reachable from here.
                name = self.settings.host
                if name in ("0.0.0.0", "::", ""):
                    name = "127.0.0.1"
                elif ":" in name:
                    name = f"[{name}]"
                host = f"{name}:{environ.get('SERVER_PORT', self.settings.port)}"
            base = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
        return f"{base}/admin/#review"

    def _chosen_snapshot(self, ok: Admitted, purchase_id: str | None) -> SnapshotRecord:
        if purchase_id is not None:
            record = self._owned_snapshot(ok, purchase_id)
        else:
            record = self.gate.directory.newest_ready(ok.owner.owner_id, ok.generation)
            if record is None:
                if not self.storage.has_snapshots(ok.owner.owner_id):
                    raise errors.NoTwinPurchased("The key's owner has no snapshot yet.")
                raise errors.SnapshotNotReady(
                    "None of the owner's snapshots is ready yet."
                )
        if record.status != "ready":
            raise errors.SnapshotNotReady(
                f"Snapshot {record.snapshot_id} has the status {record.status};"
                " only ready snapshots can be served.",
                details={"snapshotId": record.snapshot_id, "status": record.status},
            )
        return record


def error_response(error: errors.ApiError, request_id: str) -> bytes:
    """error_reply as the answer to the current Bottle request (admin, other paths)."""
    reply = error_reply(error, request_id)
    bottle.response.status = reply.status
    for name, value in reply.headers.items():
        bottle.response.set_header(name, value)
    return reply.body


def bottle_error(err: bottle.HTTPError) -> bytes:
    """Bottle's own refusals (no route, wrong method, bad input) as envelopes."""
    request_id = bottle.request.environ.get("afinitwin.request_id", "")
    status = err.status_code
    if status == 405:
        allowed = set(err.headers.get("Allow", "GET").split(","))
        if "GET" in allowed:
            allowed.add("HEAD")
        bottle.response.set_header("Allow", ", ".join(sorted(allowed)))
        error: errors.ApiError = errors.MethodNotAllowed(
            f"{bottle.request.method} is not allowed here;"
            f" use {', '.join(sorted(allowed))}."
        )
    elif status == 404:
        error = errors.NotFound("No such route.")
    elif status == 413:
        error = errors.PayloadTooLarge("The request body is too large.")
    else:
        error = errors.InvalidParameter("The request could not be read.")
    return error_response(error, request_id)


class PresetQuery(NamedTuple):
    # The first four fields are the rendering's parameters (RenderCache).
    fmt: str
    lang: str | None  # None: the snapshot's primary language
    variant: str
    include_narratives: bool
    purchase_id: str | None  # None: the newest ready snapshot


# Query strings longer than this are parsed every time, not remembered: the
# cache holds client-chosen text and must stay small.
MAX_CACHED_QUERY = 200


def preset_query(query_string: str) -> PresetQuery:
    """Read /preset's query: unknown parameters ignored, known ones checked once.

    An integrator sends the same few queries again and again, and parsing one
    cost more than the rest of the handler, so the last few hundred answers
    are kept (a refusal is an exception, never kept).
    """
    if len(query_string) <= MAX_CACHED_QUERY:
        return _remembered_query(query_string)
    return _parse_preset_query(query_string)


def _parse_preset_query(query_string: str) -> PresetQuery:
    seen: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name in PRESET_PARAMS:
            seen.setdefault(name, []).append(value)
    for name, values in seen.items():
        if len(values) > 1:
            details: dict[str, Any] = {"parameter": name}
            if name in ALLOWED:
                details["allowed"] = list(ALLOWED[name])
            raise errors.InvalidParameter(
                f"The parameter {name} was given more than once.", details=details
            )
    one = {name: values[0] for name, values in seen.items()}

    def pick(name: str, default: str | None, fold: bool = False) -> Any:
        if name not in one:
            return default
        value = one[name].lower() if fold else one[name]
        allowed = ALLOWED[name]
        if value not in allowed:
            raise errors.InvalidParameter(
                f"The parameter {name} must be one of {', '.join(allowed)}.",
                details={"parameter": name, "allowed": list(allowed)},
            )
        return value

    narratives = pick("includeNarratives", "false", fold=True)
    purchase_id = one.get("purchaseId")
    if purchase_id is not None and not purchase_id:
        raise errors.InvalidParameter(
            "The parameter purchaseId must be a snapshot id.",
            details={"parameter": "purchaseId"},
        )
    return PresetQuery(
        fmt=pick("format", "json"),
        lang=pick("lang", None),
        variant=pick("variant", "generic"),
        include_narratives=BOOLEANS[narratives],
        purchase_id=purchase_id,
    )


_remembered_query = functools.lru_cache(maxsize=256)(_parse_preset_query)


def read_json_body(environ: dict[str, Any]) -> Any:
    """The POST body as JSON, after the media type and size checks."""
    media_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise errors.UnsupportedMediaType("The body must be sent as application/json.")
    length_text = environ.get("CONTENT_LENGTH") or ""
    limit = review.MAX_BODY_BYTES
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise errors.InvalidBody(
                "The Content-Length header is not a number."
            ) from None
        if length > limit:
            raise errors.PayloadTooLarge(
                f"The body is over {limit // 1024} KiB.", details={"limitBytes": limit}
            )
        raw = environ["wsgi.input"].read(length)
    else:
        raw = environ["wsgi.input"].read(limit + 1)
        if len(raw) > limit:
            raise errors.PayloadTooLarge(
                f"The body is over {limit // 1024} KiB.", details={"limitBytes": limit}
            )
    try:
        body = json.loads(raw.decode("utf-8"))
        # JSON's \ud800 escapes can spell lone surrogates, which are not text
        # and could not be stored or echoed back; refuse them here.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise errors.InvalidBody("The body is not valid UTF-8 JSON.") from None
    return body


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110, section 13.1.2)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(
        tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(",")
    )
