"""`recodb bench --http`: the HTTP API under load from wrk, a well-kept C load generator.

For 1 and 2 uvicorn workers, wrk drives three scenarios for a fixed time each:
`GET /health/ping` (a bare `select 1`: the ceiling of this machine and stack),
`POST /recommendations/generate` at offset 0 (a fresh slate computed per request) and at
offsets > 0 (pages read from the slates the fresh run stored). wrk's own CPU use is reported
beside the server's and the whole machine's, since on a 2-core machine they compete.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from recodb import Step, db
from recodb.errors import RecodbError
from recodb.evaluation.bench import data_scale

# wrk calls request() per request and done() once; done() prints one JSON line we parse.
LUA = """
math.randomseed(%(seed)d)
local users = {%(users)s}
local offsets = {%(offsets)s}
wrk.method = "%(method)s"
wrk.headers["Content-Type"] = "application/json"
%(authorization)s
request = function()
  if wrk.method == "GET" then return wrk.format() end
  local body = string.format('{"user_id":"%%s","limit":%(limit)d,"offset":%%d}',
    users[math.random(#users)], offsets[math.random(#offsets)])
  return wrk.format(nil, nil, nil, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""

SCENARIOS = {
    # name: (method, path, offsets): GET /health/ping; POST /recommendations/generate at offset
    # 0 (a fresh slate each time), then at offsets 10..90 (pages of the slates just stored)
    "ping: select 1": ("GET", "/health/ping", [0]),
    "feed, fresh": ("POST", "/recommendations/generate", [0]),
    "feed, stored": (
        "POST",
        "/recommendations/generate",
        [10, 20, 30, 40, 50, 60, 70, 80, 90],
    ),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        p = pending.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Server:
    """`uvicorn api.app:create_app` in a subprocess, as `recodb serve` runs it."""

    def __init__(self, url: str, workers: int, token: str | None) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": url, "RECODB_TRACK_RATE_LIMIT": "off"}
        if token:
            env["RECODB_API_TOKEN"] = token
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--no-access-log", "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RecodbError("the API server did not start (try `recodb serve`)")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _wrk(base: str, scenario: tuple, users: list[str], seconds: float, connections: int,
         token: str | None, seed: int) -> dict:  # fmt: skip
    method, path, offsets = scenario
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % {
            "seed": seed, "users": ",".join(f'"{u}"' for u in users),
            "offsets": ",".join(map(str, offsets)), "method": method, "limit": 10,
            "authorization": f'wrk.headers["Authorization"] = "Bearer {token}"' if token else "",
        })  # fmt: skip
        script = f.name
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s",
             "-s", script, base + path],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(script)
    line = next((x for x in result.stdout.splitlines() if x.startswith("{")), None)
    if result.returncode != 0 or line is None:
        raise RecodbError(f"wrk failed: {result.stderr.strip() or result.stdout.strip()}")
    out = json.loads(line)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    seconds_run = out["duration_us"] / 1e6
    return {
        "requests": out["requests"],
        "rps": out["requests"] / seconds_run,
        "p50_ms": out["p50_us"] / 1000,
        "p90_ms": out["p90_us"] / 1000,
        "p99_ms": out["p99_us"] / 1000,
        "max_ms": out["max_us"] / 1000,
        "errors": out["errors"],
        "wrk_cpu_cores": cpu / seconds_run,
    }


def run(
    database: db.Database,
    app_url: str,
    *,
    workers: tuple[int, ...] = (1, 2),
    seconds: float = 10.0,
    connections: int = 16,
    users: int = 500,
    seed: int = 42,
    on_step: Step | None = None,
) -> dict:
    """Measure each scenario for each worker count; returns a JSON-ready report."""
    step = on_step or (lambda _: None)
    if shutil.which("wrk") is None:
        raise RecodbError("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
    with database.connect() as conn:
        sample = [
            str(r[0])
            for r in conn.execute(
                "select user_id from (select distinct user_id from user_interaction) u"
                " order by hashtext(user_id::text || %s) limit %s",
                (str(seed), users),
            )
        ]
        scale = data_scale(conn)
        version = conn.execute("select model_version from recodb.serving_status()").fetchone()
    if not sample:
        raise RecodbError("there are no interactions: seed and train first")
    report: dict = {
        "scale": scale,
        "model_version": version[0] if version else None,
        "load_generator": "wrk " + _wrk_version(),
        "seconds": seconds,
        "connections": connections,
        "users_sampled": len(sample),
        "cpus": os.cpu_count(),
        "runs": [],
    }
    for n in workers:
        step(f"starting uvicorn with {n} worker(s)")
        server = Server(app_url, n, token=None)
        try:
            # Warm the pools and the plans before measuring.
            _wrk(server.base, SCENARIOS["ping: select 1"], sample, 2, connections,
                 None, seed)  # fmt: skip
            for name, scenario in SCENARIOS.items():
                step(f"{n} worker(s): {name}")
                busy0, total0 = _machine_busy()
                server_cpu0 = _process_cpu(server.process.pid)
                result = _wrk(server.base, scenario, sample, seconds, connections, None, seed)
                busy1, total1 = _machine_busy()
                wall = result["requests"] / result["rps"]
                result["server_cpu_cores"] = (_process_cpu(server.process.pid) - server_cpu0) / wall
                result["machine_busy"] = (busy1 - busy0) / max(1, total1 - total0)
                report["runs"].append({"workers": n, "scenario": name, **result})
        finally:
            server.stop()
    return report


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    text = (out.stdout + out.stderr).split()
    return text[1] if len(text) > 1 else "?"
