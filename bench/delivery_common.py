"""Shared pieces of the delivery benchmarks: a real ExpertLoop server in a child process, an RSS
sampler of a process tree (the same method as ``../shared/peers/ls_bench.py``), and job polling.

The server is ``expertloop serve --with-worker`` (uvicorn, one process, job worker threads
inside it) on 127.0.0.1 and a free port, with its own data directory (SQLite). It is stopped by
its PID. Nothing here is part of ExpertLoop.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import common  # noqa: F401  (puts src/ on sys.path)
import httpx
from delivery_data import SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
EXPERTLOOP = ROOT / ".venv" / "bin" / "expertloop"
HOST = "127.0.0.1"


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def client(base_url: str, token: str, timeout: float = 600.0) -> httpx.Client:
    """An httpx client for the loopback server only (no proxies from the environment)."""
    if urlsplit(base_url).hostname != HOST:
        raise SystemExit(f"refusing {base_url}: only http://{HOST}:<port> is allowed")
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
        timeout=timeout,
    )


class Server:
    """``expertloop serve --with-worker`` on a free loopback port, in a child process."""

    def __init__(self, data_dir: Path, *, with_worker: bool = True, **env: str) -> None:
        self.data_dir = data_dir
        self.with_worker = with_worker
        self.extra_env = env
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    def __enter__(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERTLOOP_")}
        env.update(
            EXPERTLOOP_ENV="development",
            EXPERTLOOP_DATA_DIR=str(self.data_dir),
            EXPERTLOOP_SECRET_KEY=SECRET_KEY,
            EXPERTLOOP_BASE_URL=self.base_url,
            EXPERTLOOP_LOG_LEVEL="WARNING",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        env.update(self.extra_env)
        cmd = [str(EXPERTLOOP), "serve", "--host", HOST, "--port", str(self.port)]
        if self.with_worker:
            cmd.append("--with-worker")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited ({self.proc.returncode}); see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(f"{self.base_url}/healthz", trust_env=False, timeout=2)
                if r.status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"server did not come up in 90 s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        """Stop the server by its PID: SIGINT (graceful), then SIGKILL after 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- memory ---------------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            st = (d / "stat").read_text()
            ppid = int(st[st.rindex(")") + 2 :].split()[1])
            kids.setdefault(ppid, []).append(int(d.name))
        except (OSError, ValueError, IndexError):
            pass
    return kids


def proc_kb(pid: int, field: str) -> int:
    """Return a ``/proc/<pid>/status`` field in kB (0 when the process is gone)."""
    try:
        with Path(f"/proc/{pid}/status").open() as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Sample the summed VmRSS of a process and its descendants every 0.2 s (as ls_bench does)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.tree = [pid]
        self._halt = threading.Event()

    def current(self) -> int:
        kids = _children_map()
        tree, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            tree.append(p)
            todo.extend(kids.get(p, []))
        self.tree = tree
        return sum(proc_kb(p, "VmRSS") for p in tree)

    def run(self) -> None:
        n = 0
        while not self._halt.is_set():
            kb = self.current() if n % 10 == 0 else sum(proc_kb(p, "VmRSS") for p in self.tree)
            self.peak_kb = max(self.peak_kb, kb)
            n += 1
            self._halt.wait(self.interval)

    def hwm_kb(self) -> int:
        """Sum of the kernel's per-process peak RSS (VmHWM) over the tree."""
        return sum(proc_kb(p, "VmHWM") for p in self.tree)

    def __enter__(self) -> RssSampler:
        self.peak_kb = self.current()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self.join()
        self.peak_kb = max(self.peak_kb, self.current())


def reset_hwm(pid: int) -> bool:
    """Reset the kernel's peak RSS (VmHWM) of a process to its current RSS (Linux 4.0+)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# -- jobs -----------------------------------------------------------------------------------------


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def wait_job(
    http: httpx.Client, job_id: int, timeout: float, poll: float = 0.2, stats: dict | None = None
) -> dict[str, Any]:
    """Poll ``GET /api/v1/jobs/{id}`` until the job ends (or ``timeout`` s); return it.

    A poll that fails (a 5xx, e.g. a request that waited out SQLite's busy timeout) is counted
    in ``stats`` and retried: what a client following the job would see.
    """
    deadline = time.monotonic() + timeout
    stats = stats if stats is not None else {}
    stats.setdefault("polls", 0)
    stats.setdefault("failed", 0)
    stats.setdefault("slowest_s", 0.0)
    stats.setdefault("errors", [])
    while True:
        t0 = time.perf_counter()
        r = http.get(f"/api/v1/jobs/{job_id}")
        took = time.perf_counter() - t0
        stats["polls"] += 1
        stats["slowest_s"] = round(max(stats["slowest_s"], took), 3)
        if r.status_code >= 500:
            stats["failed"] += 1
            if len(stats["errors"]) < 3:
                stats["errors"].append(f"{r.status_code} after {took:.1f} s: {r.text[:120]}")
        else:
            job: dict[str, Any] = r.raise_for_status().json()
            if job["status"] in ("done", "failed", "cancelled"):
                return job
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} not finished after {timeout:.0f} s")
        time.sleep(poll)


def job_seconds(job: dict[str, Any]) -> float | None:
    """Seconds from the job's start to its end, as the job records them."""
    started, finished = _time(job.get("started_at")), _time(job.get("finished_at"))
    if started is None or finished is None:
        return None
    return (finished - started).total_seconds()


def mb(kb: int) -> float:
    return kb / 1024


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
