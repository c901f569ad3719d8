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
import warnings
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

log = logging.getLogger(__name__)

LOOP_TURN_SECONDS = 0.2

# Waitress sends whatever a worker thread writes at once: the status line and
# header fields in one send, the body in another, so every response crossed
# the network as two TCP segments (TCP_NODELAY is on). With a send threshold
# above the size of the header fields, the fields wait in the connection's
# buffer for the body and both leave in one send, either from the worker (a
# large body crosses the threshold) or from the event loop right after the
# request is done. On loopback that cut the server's CPU per /health request
# by about 30% (tests/bench), for the bare 1 KB app and the appliance alike.
# 9000 is the multiple Waitress's own documentation suggests for full packets.
#
# Limitation: Waitress marks `send_bytes` deprecated (since 1.3, not removed in
# 3.0). A Waitress without it still works, only with two sends per response.
SEND_BYTES = 9000


def _waitress_tuning() -> dict[str, Any]:
    return {"send_bytes": SEND_BYTES} if hasattr(Adjustments, "send_bytes") else {}


class Channel(HTTPChannel):
    """Waitress's connection, made right for output held below send_bytes.

    Waitress's event loop sends held output only once no request of the
    connection is queued or running. Three things went wrong with that, all
    found by pipelining requests: a quick answer waited, whole, for the slow
    request behind it; all that while writable() said there was output, so
    the loop spun on a core; and an answer could be sent twice (handle_write).
    Used only where Waitress has send_bytes.
    """

    def service(self) -> None:
        # A pipelined request: the answers before it are complete, so they
        # go now, before this one runs. Under the output lock, as Waitress's
        # own worker-side sends are; the event loop never sends without it
        # while a request is queued.
        if self.total_outbufs_len:
            with self.outbuf_lock:
                _, failed = self._flush_exception(self._flush_some, do_close=False)
            if failed:
                self.server.pull_trigger()
        super().service()

    def handle_write(self) -> None:
        # Once no request is queued, Waitress's loop sends without the
        # output lock, yet a worker may be sending under it right then (the
        # 100 Continue of a request read while others ran): both sent the
        # same bytes, and with output held that was whole answers, twice and
        # out of order. The loop now sends only holding the lock; if a worker
        # has it, the loop asks again on its next turn. (The lock is
        # reentrant, as Waitress's own locked paths below expect.)
        if not self.outbuf_lock.acquire(blocking=False):
            return
        try:
            super().handle_write()
        finally:
            self.outbuf_lock.release()

    def writable(self) -> bool:
        # While a request runs, held output is the worker's to send (at
        # send_bytes, or when its request is done and wakes the loop).
        if (
            self.requests
            and self.total_outbufs_len < self.adj.send_bytes
            and not (self.will_close or self.close_when_flushed)
        ):
            return False
        return bool(HTTPChannel.writable(self))


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
        tuning = _waitress_tuning()
        with warnings.catch_warnings():
            # The deprecation warning for send_bytes; the choice is explained
            # at SEND_BYTES.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.waitress = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                ident="afinitwin-appliance",
                clear_untrusted_proxy_headers=False,
                # Limitation: a body over this size is refused by Waitress
                # itself, with a plain-text 413 rather than the JSON envelope.
                max_request_body_size=16 * 1024 * 1024,
                **tuning,
            )
        if "send_bytes" in tuning:
            for listener in self._listeners():
                listener.channel_class = Channel

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
