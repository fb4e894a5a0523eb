"""`openlines run` on the embedded default, as `make run` starts it: its own Redis with AOF,
SQLite under the data directory, the first admin printed once, and a clean Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.support.servers import free_port

pytestmark = pytest.mark.servers  # each test starts a hub process with its own Redis


def start(data_dir: Path, port: int, **settings: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINES_")}
    env |= {f"OPENLINES_{name.upper()}": value for name, value in settings.items()}
    # The installed script, as `make run` starts it: unlike `python -m`, it does not put the
    # working directory on sys.path, so a package missing from the install fails here.
    script = Path(sys.executable).with_name("openlines")
    return subprocess.Popen(
        [str(script), "run", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 90) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, seen
        line = proc.stdout.readline()
        assert line, f"exited early with {proc.poll()}:\n{seen}"
        seen += line
    return seen


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_run_on_the_embedded_default_and_stop_with_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "var"
    port = free_port()
    proc = start(data, port)
    try:
        banner = read_until(proc, "Press Ctrl-C to stop.")
    except BaseException:
        proc.kill()
        raise
    redis_port = int(re.search(r"embedded redis .* on port (\d+)", banner).group(1))  # type: ignore[union-attr]
    login = re.search(r"admin login:\s+admin / (\S+)\s+\(shown once", banner)
    assert login is not None, banner
    assert f"console:      http://127.0.0.1:{port}/" in banner
    assert f"demo widget:  http://127.0.0.1:{port}/demo" in banner

    async with aiohttp.ClientSession(headers={"Origin": f"http://127.0.0.1:{port}"}) as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 200
        async with http.post(
            f"http://127.0.0.1:{port}/api/login",
            json={"login": "admin", "password": login.group(1)},
        ) as resp:
            assert resp.status == 200
        async with http.get(f"http://127.0.0.1:{port}/demo") as resp:
            assert resp.status == 200 and 'data-channel="demo"' in await resp.text()

    assert port_open(redis_port)
    out = stop(proc)
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert not port_open(redis_port), "the embedded Redis outlived the hub"
    assert (data / "openlines.db").is_file()
    assert any(p.name.startswith("appendonly") for p in (data / "redis").iterdir())

    # A second start keeps the data and never prints the password again.
    proc = start(data, port)
    try:
        banner = read_until(proc, "Press Ctrl-C to stop.")
        assert "admin login:  admin (password set at first start)" in banner
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_bad_settings_are_named(tmp_path: Path) -> None:
    env = {**os.environ, "OPENLINES_PORT": "not-a-port"}
    result = subprocess.run(
        [sys.executable, "-m", "operator_console.cli", "run", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "port" in result.stderr and "bad settings" in result.stderr
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "operator_console.cli",
            "run",
            "--config",
            str(tmp_path / "missing.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no such file" in result.stderr


def cpus_allowed(pid: int) -> set[str]:
    """Each thread's ``Cpus_allowed_list`` of process ``pid``."""
    lists = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                lists.add(line.split(":", 1)[1].strip())
    return lists


def test_the_cpus_setting_keeps_the_hub_and_not_its_redis_on_them(tmp_path: Path) -> None:
    everywhere = os.sched_getaffinity(0)
    cpu = max(everywhere)
    proc = start(tmp_path / "var", free_port(), cpus=str(cpu))
    try:
        banner = read_until(proc, "Press Ctrl-C to stop.")
        # The event loop, the database writers and readers: every thread on that CPU.
        assert cpus_allowed(proc.pid) == {str(cpu)}
        redis_port = re.search(r"embedded redis .* on port (\d+)", banner)
        assert redis_port is not None, banner
        redis = subprocess.run(
            ["pgrep", "-f", f"redis-server 127.0.0.1:{redis_port.group(1)}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert os.sched_getaffinity(int(redis.stdout.split()[0])) == everywhere
    finally:
        out = stop(proc)
    assert proc.returncode == 0, out
