"""A week before the free offer steps down, its holders are told by email, once."""

from __future__ import annotations

from datetime import timedelta

from tenantry.core.clock import clock
from tenantry.core.i18n import format_date
from tests.support.licensing import PREMIUM, assign, buy, cli, global_admin, set_usage_location
from tests.support.stories import PASSWORD


def _notices(database) -> int:
    return cli(database, "subscription", "tick")["offerStepDownNotices"]


def test_the_step_down_is_announced_a_week_ahead_once(stories, database, smtp):
    stories.sign_up("ariane@contoso.com", "Ariane")
    signed_up = clock.now()
    # Alain signs up from a French browser: his emails are in French.
    started = stories.api.post(
        "/v1/signup",
        json={"email": "alain@contoso.com", "displayName": "Alain"},
        headers={"Accept-Language": "fr"},
    )
    verified = stories.api.post(
        f"/v1/signup/{started.json()['signupId']}/verify",
        json={"code": smtp.code_for("alain@contoso.com"), "password": PASSWORD},
    )
    assert verified.status_code == 201, verified.text

    clock.advance(days=52)  # the step (day 60) is 8 days away: too early
    assert _notices(database) == 0
    clock.advance(days=2)  # 6 days away
    assert _notices(database) == 2
    assert _notices(database) == 0  # told once, however often the round runs

    step_day = format_date("en", signed_up + timedelta(days=60))
    mail = smtp.wait_for("ariane@contoso.com", count=2)[-1]  # the code, then the notice
    assert mail.subject == f"Your Meetings (free) plan changes on {step_day}"
    assert "Participants per meeting: 10, then 3" in mail.body
    assert "/admin/become" in mail.body  # nobody administers contoso.com yet
    french = smtp.wait_for("alain@contoso.com", count=2)[-1]
    assert "Participants par réunion : 10, puis 3" in french.body
    assert (
        database.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'Send offer step-down notice'"
        )
        == 2
    )


def test_someone_whose_license_keeps_the_limit_is_not_told(stories, database, smtp):
    ariane = global_admin(stories, database)  # a managed tenant; Ariane holds no license
    stories.sign_up("alain@contoso.com", "Alain")
    buy(ariane.api, "BUSINESS_PREMIUM", 5)
    set_usage_location(database, "alain@contoso.com", "BE")
    with stories.client_for("alain@contoso.com") as alain:
        alain_id = alain.get("/v1/me").json()["id"]
    assert assign(ariane.api, alain_id, PREMIUM.sku_id).status_code == 200
    before = len(smtp.to("alain@contoso.com"))

    clock.advance(days=55)
    assert _notices(database) == 1  # Ariane only
    assert len(smtp.to("alain@contoso.com")) == before  # Alain keeps 300 either way
    told = smtp.wait_for("ariane@contoso.com", count=2)[-1]
    assert "a license is needed" in told.body and "/admin/become" not in told.body
