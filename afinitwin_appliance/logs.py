"""Logging set-up: one line per event, text or JSON, never a secret.

Modules log through their own logger; this sets the root handler once from the
settings. Nothing here ever sees a key's plaintext: the API logs key ids only.
"""

from __future__ import annotations

import json
import logging
import sys

from .clock import rfc3339


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Waitress warns "Task queue depth is N" whenever requests wait for a
    # thread, which under steady load is every few requests: noise, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
