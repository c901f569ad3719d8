"""Measure: does /health keep answering while sign-ins are hammered?

Starts the appliance on 127.0.0.1, makes an admin and an API key, then fires
50 parallel wrong sign-ins (unknown names, the costlier case) while polling
/health every 50 ms, and prints the slowest /health answer. A measurement,
not a test: run it by hand (python tests/bench/signin_burst.py).
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "data" / "snapshots" / "lucia-ortega.yaml"


def cli(cfg: Path, *args: str, stdin: str | None = None) -> str:
    argv = [sys.executable, "-m", "afinitwin_appliance", "--config", str(cfg), *args]
    return subprocess.run(
        argv, input=stdin, capture_output=True, text=True, check=True
    ).stdout.strip()


def get(
    port: int, path: str, headers: dict, body: bytes | None = None, method: str = "GET"
) -> tuple[int, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status, time.perf_counter() - started


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="afinitwin-burst-"))
    cfg = folder / "appliance.toml"
    cfg.write_text('[storage]\ndatabase = "a.db"\n[log]\nlevel = "error"\n')
    cli(cfg, "init")
    owner = cli(cfg, "owner", "add", "--name", "B", "--quiet")
    cli(cfg, "snapshot", "import", "--owner", owner, str(SNAPSHOT), "--quiet")
    key = cli(cfg, "key", "create", "--owner", owner, "--name", "b", "--quiet")
    cli(cfg, "admin", "add", "root", "--password-stdin", stdin="a long passphrase\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "afinitwin_appliance",
            "--config",
            str(cfg),
            "serve",
            "--port",
            str(port),
        ]
    )
    try:
        for _ in range(200):
            try:
                get(port, "/v1/public/twin/health", {"X-Twin-Key": key})
                break
            except OSError:
                time.sleep(0.05)
        done = threading.Event()
        health: list[float] = []

        def poll() -> None:
            while not done.is_set():
                health.append(
                    get(port, "/v1/public/twin/health", {"X-Twin-Key": key})[1]
                )
                time.sleep(0.05)

        statuses: list[int] = []

        def sign_in(n: int) -> None:
            # A pre-sign-in cookie and its CSRF token, as the page gets them.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/admin/api/session")
            first = conn.getresponse()
            cookie = first.getheader("Set-Cookie", "").split(";", 1)[0]
            token = json.loads(first.read())["csrfToken"]
            conn.close()
            body = json.dumps({"name": f"user{n}", "password": "wrong password!"})
            headers = {
                "Content-Type": "application/json",
                "Cookie": cookie,
                "X-CSRF-Token": token,
                "Origin": f"http://127.0.0.1:{port}",
            }
            statuses.append(
                get(port, "/admin/api/session", headers, body.encode(), "POST")[0]
            )

        poller = threading.Thread(target=poll)
        poller.start()
        burst = [threading.Thread(target=sign_in, args=(n,)) for n in range(50)]
        for t in burst:
            t.start()
        for t in burst:
            t.join()
        time.sleep(0.5)
        done.set()
        poller.join()
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        print(f"sign-in answers: {counts}")
        print(
            f"/health during the burst: {len(health)} answers, slowest"
            f" {max(health) * 1000:.0f} ms, median"
            f" {sorted(health)[len(health) // 2] * 1000:.1f} ms"
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
