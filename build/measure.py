"""Measure the frozen binary: size, cold start, and /preset throughput.

    python3 build/measure.py size BINARY...
    python3 build/measure.py startup BINARY... [--runs 5]
    python3 build/measure.py throughput BINARY [--duration 10] [--repeat 5]

Cold start is the time from starting the process to the first 200 from
/health with a key made by the binary's own CLI (median of --runs starts; warm
page cache, the machine otherwise idle). Throughput is wrk against
/preset/estandar?format=md: the server pinned to CPU 0 and wrk to CPU 1 with
taskset, for the binary, for the same code run from source (this interpreter
with the checkout on PYTHONPATH) and for the binary unpinned, the figure the
systemd unit's CPUAffinity= comment cites. Every run gets a fresh database,
and a run with any non-2xx answer stops the measurement: a 429 would measure
the rate limiter instead of the server.

Sends traffic only to 127.0.0.1, to servers this script starts and stops.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "snapshots" / "lucia-ortega.yaml"
BASE = "/v1/public/twin"
START_DEADLINE = 30.0

# Rate limits and quota out of the way: the point is the server's speed.
CONFIG = """\
[storage]
database = "data/afinitwin.db"

[rate_limits]
health = 10000000
preset = 10000000

[rate_limits.per_address]
health = 10000000
preset = 10000000
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Appliance:
    """A fresh configuration and database, prepared with the given command."""

    def __init__(self, command: list[str], folder: Path, env: dict[str, str]) -> None:
        self.command = command
        self.folder = folder
        self.env = env
        self.config = folder / "appliance.toml"
        self.config.write_text(CONFIG, encoding="utf-8")
        owner = self.cli("owner", "add", "--name", "Measure", "--quiet")
        self.cli("snapshot", "import", "--owner", owner, str(SAMPLE), "--quiet")
        self.key = self.cli(
            "key",
            "create",
            "--owner",
            owner,
            "--name",
            "measure",
            "--quota",
            "1000000",
            "--quiet",
        )

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [*self.command, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        if result.returncode != 0:
            raise SystemExit(f"{args} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def start(self, port: int, cpus: str | None) -> subprocess.Popen[bytes]:
        argv = [
            *self.command,
            "--config",
            str(self.config),
            "serve",
            "--port",
            str(port),
        ]
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]
        # The server keeps its own copy of the log's descriptor.
        with open(self.folder / "server.log", "ab") as log:
            return subprocess.Popen(argv, stdout=log, stderr=log, env=self.env)


def health_ok(port: int, key: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", f"{BASE}/health", headers={"X-Twin-Key": key})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def wait_healthy(proc: subprocess.Popen[bytes], port: int, key: str) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while not health_ok(port, key):
        if proc.poll() is not None:
            raise SystemExit(
                f"the server exited with {proc.returncode} during start-up"
            )
        if time.monotonic() > deadline:
            raise SystemExit("the server did not answer /health in time")
        time.sleep(0.002)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    if code != 0:
        raise SystemExit(f"the server exited with {code} on SIGTERM")


def environment(tmp: Path) -> dict[str, str]:
    # The extraction folders go to a private TMPDIR so that a leftover would
    # be noticed and never mixes with other programs' files.
    extract = tmp / "extract"
    extract.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(extract)}


def cold_start(binary: Path, runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env = environment(tmp)
        appliance = Appliance([str(binary)], tmp, env)
        # One start that is not counted, so every counted start finds the
        # binary in the page cache alike.
        samples = []
        for index in range(runs + 1):
            port = free_port()
            began = time.perf_counter()
            proc = appliance.start(port, None)
            wait_healthy(proc, port, appliance.key)
            elapsed = time.perf_counter() - began
            stop(proc)
            if index:
                samples.append(elapsed)
        leftovers = list((tmp / "extract").iterdir())
        if leftovers:
            raise SystemExit(f"extraction folders left behind: {leftovers}")
        return samples


WRK_RATE = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.MULTILINE)
WRK_LATENCY = re.compile(r"^\s+Latency\s+(\S+)", re.MULTILINE)


def wrk(port: int, key: str, duration: int, connections: int) -> tuple[float, str]:
    url = f"http://127.0.0.1:{port}{BASE}/preset/estandar?format=md"
    # A generous timeout: a slow answer is a data point, not a failure.
    argv = [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-H",
        f"X-Twin-Key: {key}",
        url,
    ]
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw failed requests:\n{out}")
    return float(WRK_RATE.search(out).group(1)), WRK_LATENCY.search(out).group(1)


def throughput(
    command: list[str],
    env_extra: dict[str, str],
    cpus: str | None,
    duration: int,
    connections: int,
) -> float:
    """One fresh server, warmed up for 2 s, then one wrk run of `duration`."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env = {**environment(tmp), **env_extra}
        appliance = Appliance(command, tmp, env)
        port = free_port()
        proc = appliance.start(port, cpus)
        try:
            wait_healthy(proc, port, appliance.key)
            wrk(port, appliance.key, 2, connections)
            return wrk(port, appliance.key, duration, connections)[0]
        finally:
            stop(proc)


def cmd_size(args: argparse.Namespace) -> None:
    for binary in args.binaries:
        size = binary.stat().st_size
        print(f"{binary}: {size} bytes ({size / 1e6:.1f} MB)")


def cmd_startup(args: argparse.Namespace) -> None:
    for binary in args.binaries:
        samples = cold_start(binary, args.runs)
        shown = ", ".join(f"{s:.3f}" for s in samples)
        print(f"{binary}: median {statistics.median(samples):.3f} s ({shown})")


def cmd_throughput(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two CPUs: the server on CPU 0 and wrk on CPU 1")
    source = {"PYTHONPATH": str(ROOT)}
    runs = [
        ("binary, server on CPU 0", [str(args.binary)], {}, "0"),
        (
            "source, server on CPU 0",
            [sys.executable, "-m", "afinitwin_appliance"],
            source,
            "0",
        ),
        ("binary, server unpinned", [str(args.binary)], {}, None),
    ]
    # Rounds interleave the three set-ups, so that a change in the machine's
    # load during the measurement falls on all of them alike.
    samples: dict[str, list[float]] = {label: [] for label, *_ in runs}
    for round_number in range(1, args.repeat + 1):
        for label, command, extra, cpus in runs:
            rate = throughput(command, extra, cpus, args.duration, args.connections)
            samples[label].append(rate)
            print(f"round {round_number}: {label}: {rate:.0f} req/s", flush=True)
    medians = {label: statistics.median(values) for label, values in samples.items()}
    for label, median in medians.items():
        shown = ", ".join(f"{s:.0f}" for s in samples[label])
        print(f"{label}: median {median:.0f} req/s ({shown})")
    binary, source_rate, unpinned = medians.values()
    print(f"binary / source: {binary / source_rate:.3f}")
    print(f"pinned / unpinned: {binary / unpinned:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    size = commands.add_parser("size")
    size.add_argument("binaries", nargs="+", type=Path)
    size.set_defaults(run=cmd_size)
    startup = commands.add_parser("startup")
    startup.add_argument("binaries", nargs="+", type=Path)
    startup.add_argument("--runs", type=int, default=5)
    startup.set_defaults(run=cmd_startup)
    rate = commands.add_parser("throughput")
    rate.add_argument("binary", type=Path)
    rate.add_argument("--duration", type=int, default=10)
    rate.add_argument("--repeat", type=int, default=5)
    rate.add_argument("--connections", type=int, default=8)
    rate.set_defaults(run=cmd_throughput)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
