"""`tenantry serve`, the README's command, as a newcomer runs it: a process, a port, a file."""

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """`tenantry serve` on a fresh SQLite file; yields its URL and its log file."""
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(
        TENANTRY_DATABASE_URL=f"sqlite:///{tmp_path / 'tenantry.db'}",
        TENANTRY_DATA_DIR=str(tmp_path / "data"),
        TENANTRY_DEV_MAILBOX="1",
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tenantry", "serve", "--port", str(port), *args],
            env=env,
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
        yield url, log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_serve_migrates_a_fresh_file_and_keeps_no_access_log_by_default(tmp_path):
    with serving(tmp_path) as (url, log):
        assert httpx.get(f"{url}/v1/ping").status_code == 200
        assert httpx.get(f"{url}/dev/mailbox").status_code == 200
    assert (tmp_path / "tenantry.db").exists()
    assert "GET /v1/ping" not in log.read_text()


def test_serve_logs_each_request_with_access_log(tmp_path):
    with serving(tmp_path, "--access-log") as (url, log):
        assert httpx.get(f"{url}/v1/ping").status_code == 200
    assert "GET /v1/ping HTTP/1.1" in log.read_text()
