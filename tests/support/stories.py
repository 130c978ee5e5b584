"""Steps that tests share: sign up through the API and the mail, sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.server import LiveServer
from tests.support.smtp import SmtpSink

PASSWORD = "Correct-Horse-9"


@dataclass
class Stories:
    api: httpx.Client
    smtp: SmtpSink
    server: LiveServer

    def start_signup(self, email: str, name: str = "Someone", **extra: Any) -> httpx.Response:
        return self.api.post("/v1/signup", json={"email": email, "displayName": name, **extra})

    def sign_up(
        self, email: str, name: str = "Someone", password: str = PASSWORD
    ) -> dict[str, Any]:
        """Sign up completely, reading the code from the delivered email."""
        before = len(self.smtp.code_messages(email))
        started = self.start_signup(email, name)
        assert started.status_code == 202, started.text
        code = self.smtp.code_for(email, count=before + 1)
        verified = self.api.post(
            f"/v1/signup/{started.json()['signupId']}/verify",
            json={"code": code, "password": password},
        )
        assert verified.status_code in (200, 201), verified.text
        return verified.json()

    def token(self, email: str, password: str = PASSWORD) -> str:
        response = self.api.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": password},
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def client_for(self, email: str, password: str = PASSWORD) -> httpx.Client:
        """An API client signed in as that user."""
        return httpx.Client(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {self.token(email, password)}"},
            timeout=30,
        )


def publish_record(dns_zone, state_or_record: dict[str, Any]) -> None:
    """Publish the TXT record a wizard state or verificationDnsRecords answer asks for."""
    records = state_or_record.get("verificationDnsRecords") or state_or_record.get("value")
    for record in records:
        dns_zone.publish(record["label"], record["text"])


def become_admin(
    client: httpx.Client,
    dns_zone,
    *,
    sku: str = "BUSINESS_ESSENTIALS",
    quantity: int | None = None,
    entry_point: str = "admin",
    key: str = "first-purchase",
) -> httpx.Response:
    """Walk the whole become-the-admin wizard; returns the `complete` response."""
    state = client.post("/v1/organization/becomeAdmin", json={"entryPoint": entry_point})
    assert state.status_code == 200, state.text
    publish_record(dns_zone, state.json())
    verified = client.post("/v1/organization/becomeAdmin/verify")
    assert verified.status_code == 200, verified.text
    return client.post(
        "/v1/organization/becomeAdmin/complete",
        json={"skuPartNumber": sku, "quantity": quantity or state.json()["minimumLicenses"]},
        headers={"Idempotency-Key": key},
    )
