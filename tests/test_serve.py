"""`tenantry serve`, the README's command, as a newcomer runs it: a process, a port, a file."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.support.serving import serving


def test_serve_migrates_a_fresh_file_and_keeps_no_access_log_by_default(tmp_path):
    with serving(tmp_path) as (url, log, _):
        assert httpx.get(f"{url}/v1/ping").status_code == 200
        assert httpx.get(f"{url}/dev/mailbox").status_code == 200
    assert (tmp_path / "tenantry.db").exists()
    assert "GET /v1/ping" not in log.read_text()


def test_serve_logs_each_request_with_access_log(tmp_path):
    with serving(tmp_path, "--access-log") as (url, log, _):
        assert httpx.get(f"{url}/v1/ping").status_code == 200
    assert "GET /v1/ping HTTP/1.1" in log.read_text()


def _workers(pid: int) -> list[int]:
    """The worker processes `tenantry serve --workers N` started (Linux /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in children if "multiprocessing.spawn" in _cmdline(c)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads Linux /proc")
def test_a_killed_worker_is_replaced_while_the_other_keeps_answering(tmp_path):
    with serving(tmp_path, "--workers", "2") as (url, _log, server):
        deadline = time.monotonic() + 30
        while len(workers := _workers(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)  # as the OOM killer would

        with httpx.Client(base_url=url, timeout=10) as client:
            # New connections go to the worker still alive: nobody sees an error.
            for _ in range(20):
                with httpx.Client(base_url=url, timeout=10) as fresh:
                    assert fresh.get("/v1/ping").status_code == 200
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                alive = _workers(server)
                if len(alive) == 2 and workers[0] not in alive:
                    break
                time.sleep(0.2)
            assert len(alive) == 2 and workers[0] not in alive  # a new one took its place
            assert client.get("/healthz").status_code == 200


def test_a_request_that_is_not_http_gets_the_one_error_shape(tmp_path):
    with serving(tmp_path) as (url, _log, _):
        port = int(url.rsplit(":", 1)[1])
        for request in (
            b"GET /v1/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x7f\r\n\r\n",
            b"FOO BAR BAZ QUX\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(request)
                answer = b""
                while chunk := raw.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400"), answer
            assert b"content-type: application/json" in head.lower()
            assert json.loads(body)["error"]["code"] == "badRequest"
        assert httpx.get(f"{url}/v1/ping").status_code == 200  # the server goes on


def test_a_connection_ends_after_its_requests_so_clients_spread_over_the_workers(tmp_path):
    """Keep-alive connections stay with the worker that accepted them; ending each one after
    TENANTRY_MAX_REQUESTS_PER_CONNECTION requests makes clients reconnect, and the new
    connection goes to whichever worker accepts it first."""
    env = {"TENANTRY_MAX_REQUESTS_PER_CONNECTION": "3"}
    with serving(tmp_path, env=env) as (url, _log, _):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            heads = []
            for _ in range(3):
                raw.sendall(b"GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while not answer.endswith(b"\r\n\r\n{}"):
                    answer += raw.recv(65536)
                heads.append(answer.split(b"\r\n\r\n")[0].lower())
            assert raw.recv(65536) == b""  # the server closed it after the third answer
        assert [b"connection: close" in head for head in heads] == [False, False, True]
        with httpx.Client(base_url=url, timeout=10) as client:  # clients simply reconnect
            assert [client.get("/v1/ping").status_code for _ in range(7)] == [200] * 7
