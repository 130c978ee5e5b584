"""`tenantry serve` started as a newcomer starts it: a process, a port, a fresh SQLite file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, Path, int]]:
    """`tenantry serve` on a fresh SQLite file, with only the `TENANTRY_*` settings of `env`;
    yields its URL, its log file and its pid."""
    port = free_port()
    log = tmp_path / "serve.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    environment.update(
        TENANTRY_DATABASE_URL=f"sqlite:///{tmp_path / 'tenantry.db'}",
        TENANTRY_DATA_DIR=str(tmp_path / "data"),
        TENANTRY_DEV_MAILBOX="1",
    )
    environment.update(env or {})
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tenantry", "serve", "--port", str(port), *args],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("tenantry serve did not start:\n" + log.read_text())
            time.sleep(0.1)
        yield url, log, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
