"""Speed benchmark: the real appliance against a bare Waitress app, over loopback.

A measurement, not a test: it prints figures and a PASS/MISS line per target and
exits 0 whenever it managed to measure (2 when it could not set up). pytest
never collects it (no test_ prefix, and tests/conftest.py ignores the bench
folder), because a 2-core machine shared with a test run would only give noise.

What it does, in one run:
  * makes a throw-away appliance folder: configuration with rate limits high
    enough never to refuse, one owner, Lucía's snapshot, one key whose monthly
    quota (the maximum, 1,000,000) is counted in SQLite on every /preset request
    exactly as in production;
  * starts the appliance (`python -m afinitwin_appliance ... serve`) and
    bare_app.py twice with the same thread count, all pinned to one core: the
    "bare app" on Waitress as it comes (the yardstick the targets are set
    against), and the "bare tuned" with the Waitress setting the appliance
    ships (server.SEND_BYTES: header fields and body leave in one send). The
    second ratio says how much the application's own work costs with the
    server's share made equal; the first says what an integrator gets
    against plain Waitress;
  * loads each with wrk pinned to the other core, same connections and
    duration, one server at a time, after a short warm-up;
  * tops the appliance up to at least 100,000 requests and reads its resident
    memory from /proc.

Pinning matters: unpinned, wrk and the server fight over the two cores and the
figures at 64 connections collapse into scheduler noise. For the same reason
any other busy process spoils a run: each run reports the CPU that processes
other than the server and wrk used meanwhile ("other CPU"), and flags it.

Usage:
  python tests/bench/bench.py [--duration 10] [--connections 16,64] [--rounds 3]
                              [--profile DIR]   # also py-spy the appliance

Needs wrk (apt-get install -y wrk) and taskset (util-linux); --profile needs
py-spy (pip install py-spy).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The bare tuned app takes the appliance's own setting, from the work tree
# even when the package is not installed.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from afinitwin_appliance.server import SEND_BYTES  # noqa: E402

DEFAULT_SNAPSHOT = ROOT / "tests" / "data" / "snapshots" / "lucia-ortega.yaml"
BASE = "/v1/public/twin"
ENDPOINTS = (
    ("/health", f"{BASE}/health"),
    ("/preset", f"{BASE}/preset/estandar?format=md"),
)
SERVER_CPU, CLIENT_CPU = "0", "1"
BARE, TUNED = "bare app", "bare tuned"
TICKS = os.sysconf("SC_CLK_TCK")
OTHER_CPU_WARN = 0.05
QUIET_PATIENCE = 30.0
MEMORY_AFTER = 100_000
TOP_UP_SECONDS = 10
MAX_TOP_UPS = 30

# Targets: (endpoint) -> minimum throughput ratio against the bare app.
RATIO_TARGETS = {"/health": 0.70, "/preset": 0.45}
PRESET_P99_MS = 25.0
SCALING_TARGET = 0.90
RSS_LIMIT_MB = 80.0

# wrk's own text report rounds and mixes units; this hands back exact figures.
WRK_REPORT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d" ..
    " status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
"""
REPORT_RE = re.compile(r"^BENCH (.*)$", re.M)


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad_status: int
    socket_errors: int
    # CPU used by processes other than the server under test and wrk, as a
    # share of one core: above a few percent the run shared the machine.
    other_cpu: float = 0.0
    # CPU the server used, as a share of its one core: near 100% it is bound
    # by its own work, well below it waits (on locks, the GIL or the client).
    server_cpu: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class Setup(Exception):
    """The benchmark could not be set up; the message says why."""


# -- processes -------------------------------------------------------------------


def env() -> dict[str, str]:
    # The package may be used from the work tree without being installed.
    path = os.environ.get("PYTHONPATH", "")
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT),
    }


def cli(config: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "afinitwin_appliance", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env(),
        timeout=120,
    )
    if result.returncode != 0:
        raise Setup(f"`{' '.join(args)}` failed:\n{result.stderr.strip()}")
    return result.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One server process pinned to the server core."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path) -> None:
        self.name, self.port = name, port
        self.log = log
        self._out = log.open("wb")
        # taskset execs the command, so the pid is the server's own.
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *argv],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env(),
        )
        self.requests = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Setup(
                    f"{name} exited at start:\n{log.read_text(errors='replace')}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise Setup(f"{name} did not listen on port {port} within 30 s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def memory_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) in MB, from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
        return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def bare_app(name: str, folder: Path, threads: int, *options: str) -> Served:
    port = free_port()
    argv = [sys.executable, str(HERE / "bare_app.py"), "--port", str(port)]
    argv += ["--threads", str(threads), *options]
    return Served(name, argv, port, folder / f"{name.replace(' ', '-')}.log")


def check_tools(profile: bool) -> None:
    missing = [t for t in ("wrk", "taskset") if shutil.which(t) is None]
    if profile and shutil.which("py-spy") is None:
        missing.append("py-spy")
    if missing:
        raise Setup(
            f"missing tools: {', '.join(missing)} "
            "(apt-get install -y wrk; pip install py-spy)"
        )
    if len(os.sched_getaffinity(0)) < 2:
        raise Setup("needs two usable cores: one for the servers, one for wrk")


# -- load ---------------------------------------------------------------------------


def machine_busy() -> float:
    """Seconds of CPU the whole machine spent in user and system mode so far."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system = (int(v) for v in fields[:3])
    return (user + nice + system) / TICKS


def process_cpu(pid: int) -> float:
    """Seconds of CPU a process (all its threads) has used so far."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(
    server: "Served", path: str, key: str, connections: int, seconds: int, script: Path
) -> Run:
    argv = [
        "taskset",
        "-c",
        CLIENT_CPU,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        "-H",
        f"X-Twin-Key: {key}",
        server.url(path),
    ]
    before = (machine_busy(), process_cpu(server.pid), children_cpu(), time.monotonic())
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    after = (machine_busy(), process_cpu(server.pid), children_cpu(), time.monotonic())
    busy, served, client, wall = (a - b for a, b in zip(after, before))
    found = REPORT_RE.search(result.stdout)
    if result.returncode != 0 or found is None:
        raise Setup(
            f"wrk failed on {server.url(path)}:\n{result.stdout}\n{result.stderr}"
        )
    f = {k: int(v) for k, v in (p.split("=") for p in found.group(1).split())}
    server.requests += f["requests"]
    return Run(
        requests=f["requests"],
        seconds=f["duration_us"] / 1e6,
        p50_ms=f["p50_us"] / 1000,
        p99_ms=f["p99_us"] / 1000,
        bad_status=f["status"],
        socket_errors=f["connect"] + f["read"] + f["write"] + f["timeout"],
        other_cpu=max(busy - served - client, 0.0) / wall if wall else 0.0,
        server_cpu=served / wall if wall else 0.0,
    )


def wait_until_quiet(limit: float = 0.10, patience: float = 60.0) -> float:
    """Wait (up to `patience` s) until other processes use under `limit` of a core.

    Our servers are idle between runs, so whatever the machine does now is
    someone else's; returns the last share seen.
    """
    deadline = time.monotonic() + patience
    while True:
        start, t0 = machine_busy(), time.monotonic()
        time.sleep(0.5)
        share = (machine_busy() - start) / (time.monotonic() - t0)
        if share < limit or time.monotonic() >= deadline:
            return share


def get(url: str, key: str) -> tuple[int, bytes, float]:
    request = urllib.request.Request(url, headers={"X-Twin-Key": key})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return status, body, (time.perf_counter() - started) * 1000


def first_and_repeat(server: Served, key: str) -> tuple[float, float]:
    """The first /preset request (which renders) against the median of repeats.

    A repeat that costs as much as the first means every request renders.
    """
    url = server.url(ENDPOINTS[1][1])
    status, body, first = get(url, key)
    if status != 200:
        raise Setup(f"{url} answered {status}: {body[:300]!r}")
    repeats = []
    for _ in range(50):
        status, _, ms = get(url, key)
        repeats.append(ms)
    server.requests += 51
    return first, statistics.median(repeats)


# -- profile ------------------------------------------------------------------------


def profile(server: Served, key: str, folder: Path, seconds: int, script: Path) -> None:
    """Sample the appliance with py-spy under load; collapsed stacks and a summary."""
    folder.mkdir(parents=True, exist_ok=True)
    for label, path in ENDPOINTS:
        name = label.strip("/")
        out = folder / f"{name}.collapsed"
        # py-spy shares the client core; it reads the server's memory without
        # stopping it (--nonblocking), so the server core does only serving.
        spy = subprocess.Popen(
            [
                "taskset",
                "-c",
                CLIENT_CPU,
                "py-spy",
                "record",
                "--pid",
                str(server.pid),
                "--rate",
                "250",
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        run = wrk(server, path, key, 16, seconds, script)
        _, err = spy.communicate(timeout=seconds + 60)
        if spy.returncode != 0 or not out.exists():
            print(f"py-spy failed on {label}: {err.strip()}")
            continue
        print(
            f"\nprofile of {label} under 16 connections ({run.rps:,.0f} req/s while sampled);"
            f" stacks in {out}"
        )
        print_profile(out)


def print_profile(collapsed: Path, top: int = 18) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = waiting = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        frames = [f for f in frames if f]
        # A worker thread parked until Waitress hands it a request is waiting,
        # not working; leaving it in would drown everything else.
        if (
            frames
            and frames[-1].startswith("Condition.wait")
            and any(
                f.startswith("ThreadedTaskDispatcher.handler_thread")
                for f in frames[-3:]
            )
        ):
            waiting += count
            continue
        total += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        print("  (no samples)")
        return
    print(f"  {total} samples of threads at work ({waiting} of idle workers left out)")
    render = sum(
        c for f, c in inclusive.items() if f.startswith("render (") and "presets" in f
    )
    print(
        f"  presets.render on the stack in {100 * render / total:.1f}% of them"
        " (a repeated preset should not render)"
    )
    print("  share of samples in which a function is on the stack:")
    for frame, count in inclusive.most_common(top):
        print(f"    {100 * count / total:5.1f}%  {frame}")
    print("  share of samples in which a function is the innermost frame:")
    for frame, count in own.most_common(top):
        print(f"    {100 * count / total:5.1f}%  {frame}")


def _short(frame: str) -> str:
    # py-spy writes "function (path/to/file.py:line)"; keep the function and the
    # file name, dropping the line so one function's samples add up.
    found = re.match(r"(.*) \((.*?):\d+\)$", frame.strip())
    if not found:
        return frame.strip()
    function, path = found.groups()
    parts = Path(path).parts
    where = "/".join(parts[-2:]) if "afinitwin_appliance" in parts else parts[-1]
    return f"{function} ({where})"


# -- report ---------------------------------------------------------------------------


def median_run(runs: list[Run]) -> Run:
    """Each figure's median over the rounds; errors add up, noise is the worst."""
    seconds = statistics.median(r.seconds for r in runs)
    return Run(
        requests=round(statistics.median(r.rps for r in runs) * seconds),
        seconds=seconds,
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        bad_status=sum(r.bad_status for r in runs),
        socket_errors=sum(r.socket_errors for r in runs),
        other_cpu=max(r.other_cpu for r in runs),
        server_cpu=statistics.median(r.server_cpu for r in runs),
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Appliance vs bare Waitress, over loopback."
    )
    # wrk takes whole seconds only.
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds per measured run (default 10)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="seconds of warm-up before each measured run (default 2)",
    )
    parser.add_argument(
        "--connections",
        default="16,64",
        help="comma-separated connection counts (default 16,64)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure each cell this many times and keep the median (default 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="Waitress threads for both servers (default 8, the appliance's)",
    )
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="afterwards, py-spy the appliance under load into DIR",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    connections = sorted({int(c) for c in args.connections.split(",") if c.strip()})

    try:
        check_tools(args.profile is not None)
        if not args.snapshot.exists():
            raise Setup(f"snapshot {args.snapshot} not found")
    except Setup as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2

    folder = Path(tempfile.mkdtemp(prefix="afinitwin-bench-"))
    servers: list[Served] = []
    try:
        return measure(args, connections, folder, servers)
    except Setup as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            print(f"\nkept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def measure(
    args: argparse.Namespace,
    connections: list[int],
    folder: Path,
    servers: list[Served],
) -> int:
    limits = "\n".join(f"{name} = 10000000" for name in ("health", "preset"))
    config = folder / "appliance.toml"
    config.write_text(
        f"[server]\nthreads = {args.threads}\n"
        '[storage]\ndatabase = "afinitwin.db"\n'
        '[log]\nlevel = "warning"\n'
        f"[rate_limits]\n{limits}\n"
        f"[rate_limits.per_address]\n{limits}\n",
        encoding="utf-8",
    )
    cli(config, "init")
    owner = cli(
        config, "owner", "add", "--name", "Bench", "--plan", "professional", "--quiet"
    )
    cli(config, "snapshot", "import", "--owner", owner, str(args.snapshot), "--quiet")
    key = cli(
        config,
        "key",
        "create",
        "--owner",
        owner,
        "--name",
        "bench",
        "--quota",
        "1000000",
        "--quiet",
    )
    script = folder / "report.lua"
    script.write_text(WRK_REPORT)

    port = free_port()
    appliance = Served(
        "appliance",
        [
            sys.executable,
            "-m",
            "afinitwin_appliance",
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
        ],
        port,
        folder / "appliance.log",
    )
    servers.append(appliance)
    bare = bare_app(BARE, folder, args.threads)
    servers.append(bare)
    tuned = bare_app(TUNED, folder, args.threads, "--send-bytes", str(SEND_BYTES))
    servers.append(tuned)

    for _, path in ENDPOINTS:
        status, body, _ = get(appliance.url(path), key)
        if status != 200:
            raise Setup(f"appliance answered {status} on {path}: {body[:300]!r}")
        appliance.requests += 1
    first_ms, repeat_ms = first_and_repeat(appliance, key)
    preset_bytes = len(get(appliance.url(ENDPOINTS[1][1]), key)[1])
    health_bytes = len(get(appliance.url(ENDPOINTS[0][1]), key)[1])
    appliance.requests += 2

    print(
        f"servers pinned to CPU {SERVER_CPU}, wrk (1 thread) to CPU {CLIENT_CPU}; "
        f"{args.threads} Waitress threads each; {args.duration:g} s per run after "
        f"{args.warmup:g} s warm-up"
    )
    print(
        f"bodies: /health {health_bytes} B, /preset {preset_bytes} B, bare app 1024 B"
    )

    print(
        f"{args.rounds} round(s) per cell, median kept; a run waits (up to "
        f"{QUIET_PATIENCE:g} s) for other processes to leave the machine first"
    )
    rounds: dict[tuple[str, int, str], list[Run]] = collections.defaultdict(list)
    for label, path in ENDPOINTS:
        for conns in connections:
            for _ in range(args.rounds):
                # Alternate the two servers within a cell so drift and other
                # load hit both alike, and the ratio compares neighbours.
                for server in (bare, tuned, appliance):
                    if args.warmup > 0:
                        wrk(server, path, key, conns, args.warmup, script)
                    wait_until_quiet(patience=QUIET_PATIENCE)
                    run = wrk(server, path, key, conns, args.duration, script)
                    rounds[(label, conns, server.name)].append(run)
                    print(
                        f"  {label:8} c={conns:<3} {server.name:10} {run.rps:9,.0f} req/s"
                        f"  p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms"
                        f"  server CPU {100 * run.server_cpu:4.0f}%"
                        f"  other CPU {100 * run.other_cpu:4.0f}%",
                        flush=True,
                    )
    results = {cell: median_run(runs) for cell, runs in rounds.items()}

    top_ups = 0
    while appliance.requests < MEMORY_AFTER and top_ups < MAX_TOP_UPS:
        label, path = ENDPOINTS[top_ups % len(ENDPOINTS)]
        wrk(appliance, path, key, connections[0], TOP_UP_SECONDS, script)
        top_ups += 1
    rss, hwm = appliance.memory_mb()
    bare_rss, _ = bare.memory_mb()

    print()
    print(
        f"{'endpoint':9} {'conns':>5}  {'server':10} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'non-2xx':>8} {'sock err':>8} {'other CPU':>9}  "
        f"{'ratio':>6} {'vs tuned':>8}"
    )
    print("-" * 105)
    noisy = False
    for label, _ in ENDPOINTS:
        for conns in connections:
            base = results[(label, conns, BARE)]
            like = results[(label, conns, TUNED)]
            for name in (BARE, TUNED, "appliance"):
                run = results[(label, conns, name)]
                ratio = (
                    f"{run.rps / base.rps:6.2f} {run.rps / like.rps:8.2f}"
                    if name == "appliance"
                    else ""
                )
                flag = "*" if run.other_cpu > OTHER_CPU_WARN else " "
                noisy = noisy or flag == "*"
                print(
                    f"{label:9} {conns:>5}  {name:10} {run.rps:9,.0f} {run.p50_ms:8.2f} "
                    f"{run.p99_ms:8.2f} {run.bad_status:>8} {run.socket_errors:>8} "
                    f"{100 * run.other_cpu:8.0f}%{flag} {ratio}"
                )
    if noisy:
        print(
            f"* other processes used over {100 * OTHER_CPU_WARN:.0f}% of a core during "
            "that run: its figures are lower than this code can do; run again on an idle "
            "machine"
        )
    print()
    print(
        f"appliance: {appliance.requests:,} requests served; VmRSS {rss:.1f} MB "
        f"(peak {hwm:.1f} MB); bare app VmRSS {bare_rss:.1f} MB"
    )
    print(
        f"/preset first request {first_ms:.1f} ms, then a median of {repeat_ms:.2f} ms "
        "(sequential, one connection each; --profile shows whether repeats render)"
    )

    print("\ntargets:")
    low, high = connections[0], connections[-1]
    for label, _ in ENDPOINTS:
        for conns in connections:
            app_run = results[(label, conns, "appliance")]
            ratio = app_run.rps / results[(label, conns, BARE)].rps
            like = app_run.rps / results[(label, conns, TUNED)].rps
            target = RATIO_TARGETS[label]
            print(
                f"  {verdict(ratio >= target)}  {label} throughput at {conns} connections: "
                f"{ratio:.2f} of the bare app (target >= {target:.2f});"
                f" {like:.2f} of the bare tuned"
            )
    p99_conns = 16 if 16 in connections else low
    p99 = results[("/preset", p99_conns, "appliance")].p99_ms
    print(
        f"  {verdict(p99 < PRESET_P99_MS)}  /preset p99 at {p99_conns} connections: "
        f"{p99:.2f} ms (target < {PRESET_P99_MS:g} ms)"
    )
    if high != low:
        for label, _ in ENDPOINTS:
            scale = (
                results[(label, high, "appliance")].rps
                / results[(label, low, "appliance")].rps
            )
            print(
                f"  {verdict(scale >= SCALING_TARGET)}  {label} throughput at {high} vs "
                f"{low} connections: {scale:.2f} (target >= {SCALING_TARGET:.2f})"
            )
    enough = appliance.requests >= MEMORY_AFTER
    print(
        f"  {verdict(enough and rss < RSS_LIMIT_MB)}  appliance VmRSS after "
        f"{appliance.requests:,} requests: {rss:.1f} MB (target < {RSS_LIMIT_MB:g} MB"
        f"{'' if enough else f'; fewer than {MEMORY_AFTER:,} requests were reached'})"
    )
    refused = sum(
        r.bad_status + r.socket_errors for runs in rounds.values() for r in runs
    )
    print(
        f"  {verdict(refused == 0)}  every measured response was 2xx with no socket error"
        f" ({refused} were not): otherwise the figures measure refusals"
    )

    if args.profile is not None:
        profile(appliance, key, args.profile.resolve(), args.duration, script)
    return 0


if __name__ == "__main__":
    sys.exit(main())
