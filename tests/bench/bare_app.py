"""The benchmark's yardstick: Waitress serving a fixed 1 KB body and nothing else.

bench.py loads this and the appliance with the same client, so the ratio of
the two says how much the appliance's own work costs on top of Waitress. It
answers every path and method alike, and is started with the appliance's thread
count. By default it runs on Waitress exactly as Waitress comes; with
--send-bytes it also takes the send threshold the appliance sets (see
afinitwin_appliance/server.py), so bench.py can compare the appliance both
with Waitress out of the box and with Waitress tuned the same way.

Usage: python tests/bench/bare_app.py --port N [--threads 8] [--send-bytes N]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import warnings

from waitress.server import create_server

BODY = (b"x" * 1023) + b"\n"
HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(BODY))),
]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--send-bytes", type=int, help="Waitress's send threshold (default: its own)"
    )
    args = parser.parse_args(argv)
    tuning = {} if args.send_bytes is None else {"send_bytes": args.send_bytes}
    # Waitress warns "Task queue depth is N" for every request that waits for a
    # thread, which under load is nearly every one; the yardstick should cost
    # Waitress's serving only, not a log line per request.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # send_bytes
        server = create_server(
            app, host=args.host, port=args.port, threads=args.threads, **tuning
        )
    # SIGTERM from the benchmark should end the process quietly, not with a trace.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"bare app on http://{args.host}:{args.port}/", flush=True)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
