"""The benchmark's yardstick: Waitress serving a fixed 1 KB body and nothing else.

bench.py loads this and the appliance with the same client, so the ratio of
the two says how much the appliance's own work costs on top of Waitress. It
answers every path and method alike, and is started with the appliance's thread
count so the two differ only in what the application does.

Usage: python tests/bench/bare_app.py --port N [--threads 8]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

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
    args = parser.parse_args(argv)
    # Waitress warns "Task queue depth is N" for every request that waits for a
    # thread, which under load is nearly every one; the yardstick should cost
    # Waitress's serving only, not a log line per request.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(app, host=args.host, port=args.port, threads=args.threads)
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
