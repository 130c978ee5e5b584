"""Races the database settles: an owner and a Power User deciding one request at the same
moment (exactly one decision, one email), one person submitting twice at once (one pending
request), and two timed rounds at once (each expiry handled once)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tenantry.core.clock import clock
from tenantry.core.db import Database
from tenantry.engagements import scheduled
from tests.support.engagements import (
    create_engagement,
    make_operator,
    ok,
    partner_organization,
    request_access,
)

ROUNDS = 5


def settle(database) -> None:
    """Wait until the outbox has sent what is pending."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and database.scalar(
        "SELECT count(*) FROM outbox_messages WHERE status = 'pending'"
    ):
        time.sleep(0.05)


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls in threads released together; their answers."""
    start = threading.Barrier(len(calls))
    answers: list[httpx.Response] = []

    def run(call: Callable[[], httpx.Response]) -> None:
        start.wait()
        answers.append(call())

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.fixture()
def cast(stories, database):
    nadia = make_operator(stories, database, "nadia@tenantry-ops.com", "Nadia Operator")
    fabrikam = partner_organization(
        stories,
        database,
        nadia,
        domain="fabrikam.com",
        publisher="Fabrikam Labs",
        admin=("fatima", "Fatima Admin"),
        people=[("kim", "Kim Akers"), ("paul", "Paul Power")],
    )
    preview = create_engagement(nadia, "Contoso Devices Preview")
    ok(
        nadia.post(
            f"/v1/engagements/{preview['id']}/members",
            json={"userIds": [fabrikam.user_ids["paul@fabrikam.com"]], "role": "powerUser"},
        ),
        201,
    )
    return nadia, fabrikam, preview


def test_an_owner_and_a_power_user_deciding_at_once_make_one_decision(
    cast, stories, smtp, database
):
    nadia, fabrikam, preview = cast
    paul = fabrikam.client(stories, "paul@fabrikam.com")
    kim = fabrikam.client(stories, "kim@fabrikam.com")
    for round_number in range(ROUNDS):
        asked = request_access(kim, preview["id"], f"Round {round_number}")
        path = f"/v1/accessRequests/{asked['id']}"
        answers = at_once(
            [
                lambda path=path: nadia.post(f"{path}/approve", json={"justification": "Nadia"}),
                lambda path=path: paul.post(f"{path}/deny", json={"justification": "Paul"}),
            ]
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200, 409], [answer.text for answer in answers]
        loser = next(answer for answer in answers if answer.status_code == 409)
        assert loser.json()["error"]["code"] == "requestAlreadyDecided"
        winner = next(answer for answer in answers if answer.status_code == 200).json()
        stored = ok(kim.get(path))
        assert (stored["state"], stored["approverJustification"]) == (
            winner["state"],
            winner["approverJustification"],
        )
        if winner["state"] == "delivered":
            # Leave again, so that the next round can ask again.
            ok(
                nadia.delete(f"/v1/engagements/{preview['id']}/members/{asked['requester']['id']}"),
                204,
            )
    decisions = database.scalar(
        "SELECT count(*) FROM audit_events WHERE action IN "
        "('engagement.accessRequest.approved', 'engagement.accessRequest.denied')"
    )
    assert decisions == ROUNDS
    # One email per decision: the outbox is empty once they are sent, and no more came.
    settle(database)
    told = [m for m in smtp.to("kim@fabrikam.com") if "Your access" in m.subject]
    assert len(told) == ROUNDS, [m.subject for m in told]


def test_one_person_asking_twice_at_once_has_one_pending_request(cast, stories, database):
    _, fabrikam, preview = cast
    kim = fabrikam.client(stories, "kim@fabrikam.com")
    body = {"justification": "Twice", "acceptTermsOfUse": True}
    path = f"/v1/engagements/{preview['id']}/accessRequests"
    answers = at_once([lambda: kim.post(path, json=body) for _ in range(6)])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 5, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
        "requestAlreadyPending"
    }
    assert database.scalar("SELECT count(*) FROM engagement_access_requests") == 1


def test_two_rounds_at_once_expire_each_request_once(cast, stories, smtp, database):
    _, fabrikam, preview = cast
    kim = fabrikam.client(stories, "kim@fabrikam.com")
    request_access(kim, preview["id"], "Expire me")
    clock.advance(days=15)
    results: list[dict[str, int]] = []
    start = threading.Barrier(2)

    def round_() -> None:
        async def run() -> dict[str, int]:
            own = Database(database.url)
            try:
                start.wait()
                return await scheduled.tick(own, base_url="http://tenantry.test")
            finally:
                await own.dispose()

        results.append(asyncio.run(run()))

    threads = [threading.Thread(target=round_) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result["expired"] for result in results) == [0, 1]
    assert (
        database.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'engagement.accessRequest.expired'"
        )
        == 1
    )
