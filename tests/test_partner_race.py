"""Twenty organizations enrolling one publisher name at the same moment: exactly one wins."""

from __future__ import annotations

import threading

import httpx

from tests.support.admin import make_global_admin
from tests.support.partner import enrollment

TENANTS = 20


def test_twenty_tenants_enrolling_one_name_at_once_make_exactly_one_account(
    stories, database, server
):
    tokens = []
    for number in range(TENANTS):
        email = f"admin@org{number}.com"
        stories.sign_up(email, f"Admin {number}")
        make_global_admin(database, email)
        tokens.append(stories.token(email))

    start = threading.Barrier(TENANTS)
    answers: list[httpx.Response] = []

    def enroll(token: str, number: int) -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            body = enrollment("Contoso Labs" if number % 2 else "CONTOSO LABS")
            start.wait()
            answers.append(client.post("/v1/partnerAccounts", json=body))

    threads = [
        threading.Thread(target=enroll, args=(token, number)) for number, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (TENANTS - 1), [a.text for a in answers]
    codes = {answer.json()["error"]["code"] for answer in answers if answer.status_code == 409}
    assert codes == {"publisherNameTaken"}
    assert database.scalar("SELECT count(*) FROM partner_accounts") == 1
