"""Serving the API on Waitress, with a clean stop.

Waitress has no graceful shutdown of its own, so this module drives its event
loop one turn at a time. On SIGTERM or SIGINT it stops accepting connections,
answers any new request on an open connection with 503 (the contract's
"shutting down"), keeps the loop turning until every request in flight has
been answered and its bytes sent, then stops the worker threads and returns.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any, Callable

from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

log = logging.getLogger(__name__)

LOOP_TURN_SECONDS = 0.2


class InFlight:
    """Counts requests being handled, as WSGI middleware."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            self.count += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._lock:
                self.count -= 1


class Server:
    def __init__(self, app: Any, host: str, port: int, threads: int,
                 drain_timeout: float = 30.0) -> None:
        self.app = app
        self.inflight = InFlight(app)
        self.drain_timeout = drain_timeout
        self.stopping = threading.Event()
        self.waitress = create_server(
            self.inflight, host=host, port=port, threads=threads,
            ident="afinitwin-appliance", clear_untrusted_proxy_headers=False,
            # Limitation: a body over this size is refused by Waitress itself,
            # with a plain-text 413 rather than the JSON envelope.
            max_request_body_size=16 * 1024 * 1024,
        )

    @property
    def addresses(self) -> list[tuple[str, int]]:
        found = []
        for listener in self._listeners():
            found.append(listener.socket.getsockname()[:2])
        return found

    def _listeners(self) -> list[BaseWSGIServer]:
        return [d for d in list(self._map().values()) if isinstance(d, BaseWSGIServer)]

    def _map(self) -> dict[Any, Any]:
        return getattr(self.waitress, "map", None) or self.waitress._map

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def stop(self) -> None:
        self.stopping.set()

    def serve_forever(self) -> None:
        while not self.stopping.is_set():
            wasyncore.loop(timeout=LOOP_TURN_SECONDS, map=self._map(), count=1)
        self._drain()

    def _drain(self) -> None:
        log.info("stopping: no new connections; finishing requests in flight")
        if hasattr(self.app, "draining"):
            self.app.draining = True
        for listener in self._listeners():
            # dispatcher.close, not the server's close: that one also closes
            # the trigger the worker threads use to hand back responses.
            wasyncore.dispatcher.close(listener)
        deadline = time.monotonic() + self.drain_timeout
        while time.monotonic() < deadline and self._busy():
            wasyncore.loop(timeout=0.05, map=self._map(), count=1)
        self.waitress.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        for channel in list(self._map().values()):
            channel.close()
        log.info("stopped")

    def _busy(self) -> bool:
        if self.inflight.count:
            return True
        for channel in self._map().values():
            if getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0):
                return True
        return False
