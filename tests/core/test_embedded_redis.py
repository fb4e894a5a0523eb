"""The hub's embedded redis-server never outlives the hub, and a start never runs a second
server on the same AOF."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.redis_server import PID_FILE, EmbeddedRedis, redis_binary
from tests.support.servers import free_port


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_kill_9_of_the_hub_takes_its_redis_down(tmp_path: Path) -> None:
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINES_")}
    hub = subprocess.Popen(
        [sys.executable, "-m", "operator_console.cli", "run", "--port", str(free_port()),
         "--data-dir", str(data)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert hub.stdout is not None
        seen = ""
        deadline = time.monotonic() + 60
        while "Press Ctrl-C to stop." not in seen:
            assert time.monotonic() < deadline, seen
            line = hub.stdout.readline()
            assert line, f"exited early with {hub.poll()}:\n{seen}"
            seen += line
        redis_pid = int((data / "redis" / PID_FILE).read_text())
        assert alive(redis_pid)
        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
        assert wait_gone(redis_pid), "the embedded redis-server outlived a kill -9 of the hub"
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()


async def start_and_check(server: EmbeddedRedis, leftover: subprocess.Popen[bytes]) -> None:
    await server.start()
    try:
        assert leftover.poll() == 0  # stopped by SIGTERM, cleanly, before the new one started
        assert server.process is not None
        assert int((server.directory / PID_FILE).read_text()) == server.process.pid
    finally:
        await server.stop()


def test_a_start_stops_a_leftover_server_of_its_data_directory(tmp_path: Path) -> None:
    directory = tmp_path / "redis"
    directory.mkdir()
    leftover = subprocess.Popen(
        [str(redis_binary()), "--port", str(free_port()), "--bind", "127.0.0.1",
         "--dir", str(directory), "--appendonly", "yes", "--save", "",
         "--pidfile", str(directory / PID_FILE)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not (directory / PID_FILE).is_file():
            assert time.monotonic() < deadline and leftover.poll() is None
            time.sleep(0.05)
        asyncio.run(start_and_check(EmbeddedRedis(directory), leftover))
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()
