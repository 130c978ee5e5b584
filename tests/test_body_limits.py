"""Request bodies have one limit (1 MiB unless configured; the CSV imports take 5 MB files),
enforced while the body streams in: a body over it is refused with 413 `requestTooLarge`
before anything parses it, signed in or not."""

from __future__ import annotations

import json
import re
import socket

import httpx
import pytest

from tenantry.core.i18n import translate
from tests.support.admin import make_global_admin
from tests.support.directory import admin_api, error_code
from tests.support.server import LiveServer
from tests.test_web_admin_takeover import sign_in

MIB = 1024 * 1024


def _port(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _answer(raw: socket.socket) -> tuple[bytes, bytes]:
    """The head and body of the response read from `raw` (the connection may stay open)."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))
    while len(body) < length:
        body += raw.recv(65536)
    return head, body


def _too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"]["code"] == "requestTooLarge"
    assert "1 MiB" in response.json()["error"]["message"]


def test_a_json_body_over_the_limit_is_refused_unauthenticated(api):
    big = {"email": "ariane@contoso.com", "displayName": "x" * (2 * MIB)}
    _too_large(api.post("/v1/signup", json=big))
    # Just under the limit, the body is read and judged as usual.
    under = api.post("/v1/signup", json={"email": "ariane@contoso.com", "displayName": "x" * 999})
    assert under.status_code == 400 and error_code(under) == "invalidRequest"


def test_the_connection_goes_on_after_a_refused_body(server):
    """The rest of a refused body is read and dropped, so the client sees the 413 (not a
    reset connection) and may send its next request on the same connection."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        ports = []
        for _ in range(2):
            big = client.post("/v1/signup", content=b"{" + b" " * (3 * MIB) + b"}")
            _too_large(big)
            ports.append(big.extensions["network_stream"].get_extra_info("client_addr"))
            assert client.get("/v1/ping").status_code == 200
    assert ports[0] is not None and ports[0] == ports[1]  # one connection throughout


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(server):
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=10) as raw:
        raw.sendall(
            b"POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: 100000000\r\n\r\n"
        )
        head, body = _answer(raw)  # no byte of the body was sent
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"100 Continue" not in head
    # The client will not send the body it announced: the connection ends there.
    assert b"connection: close" in head.lower()
    assert json.loads(body)["error"]["code"] == "requestTooLarge"


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(server):
    chunk = b"x" * 65536
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=10) as raw:
        raw.sendall(
            b"POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(2 * MIB // len(chunk)):  # 2 MiB, and never the final chunk
            raw.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        head, body = _answer(raw)
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["error"]["code"] == "requestTooLarge"


def test_the_hot_entitlement_check_has_the_same_limit(stories, api):
    stories.sign_up("ariane@contoso.com", "Ariane")
    token = stories.token("ariane@contoso.com")
    check = {"name": "meetings.max_participants", "value": 1, "pad": "x" * (2 * MIB)}
    _too_large(
        api.post(
            "/v1/me/entitlements/check", json=check, headers={"Authorization": f"Bearer {token}"}
        )
    )


def test_a_web_form_over_the_limit_gets_the_413_page(server):
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        page = browser.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        refused = browser.post(
            "/signin", data={"csrf_token": token, "email": "a@contoso.com", "password": "x" * MIB}
        )
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert translate("en", "error.requestTooLarge") in refused.text


def test_csv_imports_still_take_files_over_the_json_limit(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane") as ariane:
        header = "userPrincipalName,displayName\n"
        rows = "".join(f"u{n}@contoso.com,{'U' * 250}\n" for n in range(5_001))  # ~1.4 MB
        assert len(header + rows) > MIB
        many = ariane.post(
            "/v1/users/import", content=header + rows, headers={"Content-Type": "text/csv"}
        )
        # Read whole and judged: too many rows, not too large.
        assert many.status_code == 400 and error_code(many) == "tooManyRows", many.text[:300]
        too_big = ariane.post(
            "/v1/users/import",
            files={"file": ("users.csv", b"x" * (6 * MIB), "text/csv")},
        )
        assert too_big.status_code == 413 and error_code(too_big) == "requestTooLarge"


def test_the_import_page_still_takes_files_over_the_json_limit(server, stories, database):
    stories.sign_up("ariane@contoso.com", "Ariane")
    make_global_admin(database, "ariane@contoso.com")
    rows = "".join(f"u{n}@contoso.com,{'U' * 250}\n" for n in range(5_001))
    data = ("userPrincipalName,displayName\n" + rows).encode()
    assert len(data) > MIB
    with sign_in(server, "ariane@contoso.com") as ariane:
        page = ariane.get("/admin/users/import")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        report = ariane.post(
            "/admin/users/import",
            data={"csrf_token": token},
            files={"file": ("people.csv", data, "text/csv")},
        )
    assert report.status_code == 400, report.text[:300]  # read whole: too many rows
    assert translate("en", "web.admin.error.tooManyRows") in report.text


@pytest.fixture()
def small_limit_server(settings):
    live = LiveServer(settings.model_copy(update={"max_body_bytes": 4096}))
    live.start()
    yield live
    live.stop()


def test_the_limit_is_configurable(small_limit_server):
    with httpx.Client(base_url=small_limit_server.url, timeout=30) as client:
        refused = client.post(
            "/v1/signup", json={"email": "a@contoso.com", "displayName": "x" * 5000}
        )
        taken = client.post(
            "/v1/signup", json={"email": "a@contoso.com", "displayName": "x" * 3000}
        )
    assert refused.status_code == 413 and error_code(refused) == "requestTooLarge"
    assert "4096 bytes" in refused.json()["error"]["message"]
    assert taken.status_code != 413
