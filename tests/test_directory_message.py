"""An admin writes one message to every active user of the organization."""

from __future__ import annotations

import time

from tests.support.directory import add_user, admin_api, error_code

SUBJECT = "Welcome to Tenantry"


def _welcome(smtp, address: str, timeout: float = 15.0) -> list:
    """The welcome messages delivered to `address`, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in smtp.to(address) if m.subject == SUBJECT]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no message to {address}")


def test_a_message_reaches_every_active_user_once(stories, database, smtp):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane Dupont") as ariane:
        for name in ("alain", "chloe", "lea"):
            add_user(ariane, f"{name}@contoso.com", name.title())
        add_user(ariane, "bruno@contoso.com", "Bruno", accountEnabled=False)
        with admin_api(stories, database, "fiona@fabrikam.com", "Fiona"):
            pass

        sent = ariane.post(
            "/v1/organization/sendMessage",
            json={"subject": "Welcome to Tenantry", "body": "Meetings move to Tenantry on Monday."},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"recipients": 4}

        for address in ("ariane@contoso.com", "alain@contoso.com", "chloe@contoso.com"):
            received = _welcome(smtp, address)
            assert len(received) == 1
            assert "Meetings move to Tenantry on Monday." in received[0].body
            assert "Ariane Dupont (ariane@contoso.com)" in received[0].body
        assert len(_welcome(smtp, "lea@contoso.com")) == 1
        assert all(m.subject != "Welcome to Tenantry" for m in smtp.to("bruno@contoso.com"))
        assert all(m.subject != "Welcome to Tenantry" for m in smtp.to("fiona@fabrikam.com"))
        assert (
            database.scalar(
                "SELECT count(*) FROM outbox_messages WHERE subject = 'Welcome to Tenantry'"
            )
            == 4
        )
        assert (
            database.scalar(
                "SELECT count(*) FROM audit_events WHERE action = 'Send message to all users'"
            )
            == 1
        )

        empty = ariane.post("/v1/organization/sendMessage", json={"subject": "", "body": "x"})
        assert empty.status_code == 400 and error_code(empty) == "invalidRequest"


def test_a_subject_of_more_than_one_line_is_refused(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane Dupont") as ariane:
        sneaky = ariane.post(
            "/v1/organization/sendMessage",
            json={"subject": "Hello\r\nBcc: someone@fabrikam.com", "body": "Hi"},
        )
        assert sneaky.status_code == 400, sneaky.text
        assert sneaky.json()["error"]["target"] == "subject"
    assert database.scalar("SELECT count(*) FROM outbox_messages WHERE subject LIKE 'Hello%'") == 0
