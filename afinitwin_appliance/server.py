"""Serving the API on Waitress, with a clean stop.

Waitress has no graceful shutdown of its own, so this module drives its event
loop one turn at a time. On SIGTERM or SIGINT it stops accepting connections,
then keeps the loop turning while closing each connection as soon as it is
idle: a request being uploaded, queued or answered finishes normally and its
bytes are sent; an idle keep-alive connection is closed at once. When no
connection is left (or after `drain_timeout`), the worker threads stop.
Applications cannot send `Connection: close` themselves (a hop-by-hop header,
PEP 3333), which is why the closing happens here, between requests.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

log = logging.getLogger(__name__)

LOOP_TURN_SECONDS = 0.2


class Server:
    def __init__(
        self, app: Any, host: str, port: int, threads: int, drain_timeout: float = 30.0
    ) -> None:
        self.app = app
        self.drain_timeout = drain_timeout
        self.stopping = threading.Event()
        # Threads that run beside the server (the webhook sender): told to
        # stop with it, waited for once the requests in flight are done.
        self.background: list[Any] = []
        self.waitress = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="afinitwin-appliance",
            clear_untrusted_proxy_headers=False,
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
        for task in self.background:
            task.stop()

    def serve_forever(self) -> None:
        while not self.stopping.is_set():
            wasyncore.loop(timeout=LOOP_TURN_SECONDS, map=self._map(), count=1)
        self._drain()

    def _drain(self) -> None:
        log.info("stopping: no new connections; finishing requests in flight")
        for listener in self._listeners():
            # dispatcher.close, not the server's close: that one also closes
            # the trigger the worker threads use to hand back responses.
            wasyncore.dispatcher.close(listener)
        deadline = time.monotonic() + self.drain_timeout
        while time.monotonic() < deadline and (self._close_idle() or self._in_flight()):
            wasyncore.loop(timeout=0.05, map=self._map(), count=1)
        self.waitress.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        for channel in list(self._map().values()):
            channel.close()
        for task in self.background:
            task.join()
        log.info("stopped")

    def _in_flight(self) -> int:
        """Requests queued for or held by a worker thread (Waitress's own count).

        Read from the task dispatcher rather than counted by a middleware:
        that would cost two lock round-trips on every request.
        """
        tasks = self.waitress.task_dispatcher
        return tasks.active_count + len(tasks.queue)

    def _close_idle(self) -> int:
        """Close connections with nothing in progress; return how many are busy."""
        busy = 0
        for channel in list(self._map().values()):
            if not isinstance(channel, HTTPChannel):
                continue
            pending = getattr(channel, "request", None) is not None
            if channel.requests or pending or channel.total_outbufs_len:
                busy += 1
            else:
                channel.handle_close()
        return busy
