"""A server that is not there, too slow, or not Tenantry: one line naming the URL and the
fix, exit 1, never a traceback."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app


@pytest.fixture()
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTRY_CONFIG_DIR", str(tmp_path))
    runner = CliRunner()

    def invoke(*args: str):
        # catch_exceptions=False: a traceback would fail the test instead of being printed.
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NotTenantry(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<html><body>It works!</body></html>"
        self.send_response(200 if self.command == "GET" else 404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def web_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotTenantry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_login_to_a_server_that_is_not_running_says_so_in_one_line(run):
    url = f"http://127.0.0.1:{closed_port()}"
    result = run("login", "--url", url, "-u", "ariane@contoso.com", "-p", "x")
    assert result.exit_code == 1
    line = one_line(result.output)
    assert f"cannot reach {url}" in line
    assert "tenantry serve" in line and "TENANTRY_URL" in line


def test_a_command_after_the_server_went_away_says_so_in_one_line(run, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    (tmp_path / "credentials.json").write_text(json.dumps({"url": url, "access_token": "t"}))
    for command in (["whoami"], ["user", "list"], ["subscription", "list"]):
        result = run(*command)
        assert result.exit_code == 1, (command, result.output)
        assert f"cannot reach {url}" in one_line(result.output)


def test_a_server_that_is_not_tenantry_is_named_not_parsed(run, web_server):
    result = run("login", "--url", web_server, "-u", "ariane@contoso.com", "-p", "x")
    assert result.exit_code == 1
    line = one_line(result.output)
    assert web_server in line and "not Tenantry" in line
