"""What an operator watches and checks: /metrics, /readyz, `tenantry doctor`, JSON logs."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app
from tenantry.core.migrate import schema_head
from tests.support.admin import make_global_admin
from tests.support.serving import serving
from tests.support.stories import PASSWORD


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text exposition (0 when absent)."""
    for line in metrics.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if series.split("{")[0] == name and found == labels:
            return float(value)
    return 0.0


def test_metrics_count_requests_by_route_template_and_sign_in_failures(api, stories, database):
    before = api.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    signed_up = stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    user_id = signed_up["user"]["id"]
    make_global_admin(database, "ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as ariane:
        for _ in range(3):
            assert ariane.get(f"/v1/users/{user_id}").status_code == 200
        assert ariane.get("/v1/users/00000000-0000-0000-0000-000000000000").status_code == 404
        checked = ariane.post(
            "/v1/me/entitlements/check", json={"name": "meetings.max_participants", "value": 50}
        )
        assert checked.status_code == 200, checked.text
    refused = api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "ariane@contoso.com", "password": "nope"},
    )
    assert refused.status_code == 400
    api.get("/no/such/thing")
    after = api.get("/metrics").text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before.text, name, **labels)

    route = "/v1/users/{user_id}"
    assert grew("tenantry_http_requests_total", method="GET", route=route, status="200") == 3
    assert grew("tenantry_http_requests_total", method="GET", route=route, status="404") == 1
    # An id in the URL is never a label: one series for the template, whatever the ids.
    assert user_id not in after
    assert grew("tenantry_http_requests_total", method="GET", route="(unmatched)", status="404")
    assert grew("tenantry_http_request_duration_seconds_count", method="GET", route=route) == 4
    assert grew("tenantry_sign_in_failures_total", reason="invalid_grant") == 1
    # The entitlement check answered before routing is counted under its template too.
    assert "/v1/me/entitlements/check" in after
    for gauge in ("tenantry_outbox_pending", "tenantry_outbox_oldest_pending_age_seconds"):
        assert re.search(rf"^{gauge} \d", after, re.MULTILINE), gauge


def test_readyz_says_when_the_schema_is_behind(api, database):
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["schema"] == schema_head()
    database.execute_sql("UPDATE alembic_version SET version_num = '0001'")
    try:
        behind = api.get("/readyz")
        assert behind.status_code == 503
        assert behind.headers["retry-after"]
        error = behind.json()["error"]
        assert error["code"] == "serviceUnavailable" and "tenantry migrate" in error["message"]
        assert api.get("/healthz").status_code == 200  # alive, not ready
    finally:
        database.execute_sql(f"UPDATE alembic_version SET version_num = '{schema_head()}'")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def environment(monkeypatch: pytest.MonkeyPatch, **values: str) -> Iterator[None]:
    with monkeypatch.context() as patch:
        for name, value in values.items():
            patch.setenv(f"TENANTRY_{name.upper()}", value)
        yield


def doctor(*args: str) -> tuple[int, list[dict[str, str]]]:
    result = CliRunner().invoke(app, ["doctor", "--json", *args], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_doctor_checks_what_the_server_needs_and_says_how_to_fix_it(
    database, smtp, dns_zone, monkeypatch, tmp_path, settings
):
    good = {
        "database_url": database.url,
        "smtp_url": smtp.url,
        "dns_nameservers": dns_zone.nameserver,
        "data_dir": str(tmp_path),
        "secret_key": settings.secret_key,  # the key the database's keys are sealed with
    }
    with environment(monkeypatch, **good):
        code, findings = doctor()
    assert code == 0, findings
    assert {f["check"]: f["status"] for f in findings} == {
        "database": "ok",
        "secret key": "ok",
        "keys": "ok",
        "smtp": "ok",
        "dns": "ok",
    }

    nothing_listens = f"127.0.0.1:{closed_port()}"
    bad = {
        **good,
        "smtp_url": f"smtp://{nothing_listens}",
        "dns_nameservers": nothing_listens,
        "dns_timeout": "0.3",
        "secret_key": "short",
    }
    with environment(monkeypatch, **bad):
        code, findings = doctor()
    assert code == 1
    failed = {f["check"]: f for f in findings if f["status"] == "failed"}
    # Another master key does not open the keys the first run sealed in the database.
    assert set(failed) == {"smtp", "dns", "secret key", "keys"}
    assert "TENANTRY_SECRET_KEY" in failed["keys"]["fix"]
    assert nothing_listens in failed["smtp"]["detail"]
    assert "TENANTRY_SMTP_URL" in failed["smtp"]["fix"]
    assert "TENANTRY_DNS_NAMESERVERS" in failed["dns"]["fix"]
    assert "TENANTRY_SECRET_KEY" in failed["secret key"]["fix"]

    database.execute_sql("UPDATE alembic_version SET version_num = '0001'")
    try:
        with environment(monkeypatch, **good):
            code, findings = doctor()
    finally:
        database.execute_sql(f"UPDATE alembic_version SET version_num = '{schema_head()}'")
    (schema,) = [f for f in findings if f["check"] == "database"]
    assert code == 1 and schema["status"] == "failed" and "tenantry migrate" in schema["fix"]


def test_serve_logs_json_lines_and_its_workers_share_their_metrics(tmp_path):
    with serving(
        tmp_path, "--workers", "2", "--access-log", env={"TENANTRY_LOG_FORMAT": "json"}
    ) as (url, log, _):
        for _ in range(20):  # a fresh connection each: both workers answer some
            with httpx.Client(base_url=url, timeout=10) as client:
                assert client.get("/v1/ping").status_code == 200
        scrapes = []
        for _ in range(4):
            with httpx.Client(base_url=url, timeout=10) as client:
                scrapes.append(client.get("/metrics").text)
    # Whichever worker answered the scrape, it counted every worker's requests.
    for metrics in scrapes:
        count = sample(
            metrics, "tenantry_http_requests_total", method="GET", route="/v1/ping", status="200"
        )
        assert count == 20
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert records, log.read_text()
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["logger"] == "uvicorn.access" and "/v1/ping" in r["message"] for r in records), (
        records
    )
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    not_json = [line for line in lines if not line.startswith("{")]
    assert not not_json, not_json
    assert PASSWORD not in log.read_text()
