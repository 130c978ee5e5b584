"""Development mode (`tenantry serve --dev`): the development DNS zone answers domain
verification, so a domain is taken over on a machine with no DNS server; outside it, the
zone does not exist and is never read."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from tenantry.cli.main import app
from tenantry.core.devzone import DevDnsRecord
from tests.support.server import LiveServer
from tests.support.serving import serving


@pytest.fixture(scope="module")
def dev_server(settings) -> Iterator[LiveServer]:
    """A second server on the same database, in development mode."""
    live = LiveServer(settings.model_copy(update={"dev_mode": True}))
    live.start()
    yield live
    live.stop()


def dev(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["dev", "dns", *args])
    return result.exit_code, result.output


def test_outside_development_mode_the_zone_does_not_exist_and_is_never_read(
    server, stories, database
):
    assert httpx.get(f"{server.url}/dev/dns").status_code == 404
    planted = httpx.post(
        f"{server.url}/dev/dns/records", json={"name": "contoso.com", "value": "x"}
    )
    assert planted.status_code == 404
    code, said = dev("publish", "contoso.com", "TXT", "x", "--url", server.url)
    assert code == 1 and "not in development mode" in said

    stories.sign_up("ariane@contoso.com", "Ariane")
    with stories.client_for("ariane@contoso.com") as ariane:
        state = ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"}).json()
        value = state["verificationDnsRecords"][0]["text"]
        # Even with the record in the zone's table, a server not in development mode asks DNS.
        with database.engine.begin() as connection:
            connection.execute(
                insert(DevDnsRecord).values(
                    id=uuid.uuid4(), name="contoso.com", value=value, created_at=datetime.now(UTC)
                )
            )
        refused = ariane.post("/v1/organization/becomeAdmin/verify")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "verificationRecordNotFound"


def test_a_domain_is_taken_over_through_the_development_zone(dev_server, stories, database):
    stories.sign_up("ariane@contoso.com", "Ariane")
    token = stories.token("ariane@contoso.com")
    with httpx.Client(
        base_url=dev_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as ariane:
        state = ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"}).json()
        value = state["verificationDnsRecords"][0]["text"]
        early = ariane.post("/v1/organization/becomeAdmin/verify")
        assert early.status_code == 409  # not published yet

        code, said = dev("publish", "Contoso.COM.", "TXT", value, "--url", dev_server.url)
        assert code == 0, said
        code, listed = dev("list", "--url", dev_server.url, "--json")
        assert code == 0 and '"name": "contoso.com"' in listed

        verified = ariane.post("/v1/organization/becomeAdmin/verify")
        assert verified.status_code == 200, verified.text
        bought = ariane.post(
            "/v1/organization/becomeAdmin/complete",
            json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 1},
            headers={"Idempotency-Key": "dev-mode"},
        )
        assert bought.status_code == 200, bought.text
        assert bought.json()["state"] == "managed"

    refused = httpx.post(
        f"{dev_server.url}/dev/dns/records", json={"name": "not a name", "value": "x"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalidDevRecord"


def test_the_wizard_publishes_its_record_with_one_click(dev_server, stories):
    stories.sign_up("ariane@contoso.com", "Ariane")
    with httpx.Client(base_url=dev_server.url, timeout=30) as browser:
        signin = browser.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', signin.text).group(1)
        browser.post(
            "/signin",
            data={
                "csrf_token": token,
                "email": "ariane@contoso.com",
                "password": "Correct-Horse-9",
            },
        )
        step1 = browser.get("/admin/become")
        token = re.search(r'name="csrf_token" value="([^"]+)"', step1.text).group(1)
        started = browser.post("/admin/become", data={"csrf_token": token, "entry": "admin"})
        assert started.status_code == 303, started.text
        step3 = browser.get("/admin/become")
        assert 'data-test="dev-publish"' in step3.text, step3.text
        form = re.search(r'data-test="dev-publish">(.*?)</form>', step3.text, re.S)
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(1)))
        published = browser.post("/dev/dns", data=fields)
        assert published.status_code == 303
        assert published.headers["location"] == "/admin/become"
        zone = browser.get("/dev/dns")
        assert "contoso.com" in zone.text and fields["value"] in zone.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', step3.text).group(1)
        checked = browser.post("/admin/become/verify", data={"csrf_token": token})
        assert checked.status_code == 303
        assert 'data-test="step-4"' in browser.get("/admin/become").text


def test_serve_dev_refuses_to_listen_beyond_loopback(tmp_path):
    with pytest.raises(pytest.fail.Exception), serving(tmp_path, "--dev", "--host", "0.0.0.0"):
        pass
    assert "--dev serves loopback only" in (tmp_path / "serve.log").read_text()
