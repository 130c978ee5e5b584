"""Per-address rate limits count an IPv6 network's /64 as one address, as smart lockout does.

One party usually holds a whole /64 (2^64 addresses): counted per address, it could
sign up, sign in and enter codes without ever meeting a limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.stories import PASSWORD

NETWORK = "2001:db8:1:2::"  # one party's /64
ELSEWHERE = "2001:db8:1:3::1"  # the next /64: someone else


@contextmanager
def limits(server, **values: int) -> Iterator[None]:
    settings = server.app.state.settings
    original = {name: getattr(settings, name) for name in values}
    for name, value in values.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in original.items():
            setattr(settings, name, value)


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def test_sign_ups_from_one_ipv6_network_share_its_limit(stories, server):
    with limits(server, signup_rate_per_hour=2):
        statuses = [
            stories.api.post(
                "/v1/signup",
                json={"email": f"p{host}@contoso.com", "displayName": "P"},
                headers=_from(f"{NETWORK}{host}"),
            ).status_code
            for host in (1, 2, 3)
        ]
        other = stories.api.post(
            "/v1/signup",
            json={"email": "q@contoso.com", "displayName": "Q"},
            headers=_from(ELSEWHERE),
        )
    assert statuses == [202, 202, 429]
    assert other.status_code == 202


def test_sign_ins_from_one_ipv6_network_share_its_limit(stories, server):
    def attempt(address: str) -> int:
        return stories.api.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "nobody@contoso.com", "password": "x"},
            headers=_from(address),
        ).status_code

    with limits(server, signin_rate_per_minute=2):
        statuses = [attempt(f"{NETWORK}{host:x}") for host in (1, 0xBEEF, 0xFFFF)]
        other = attempt(ELSEWHERE)
    assert statuses == [400, 400, 429]
    assert other == 400


def test_codes_entered_from_one_ipv6_network_share_its_limit(stories, server, smtp):
    signups = [
        stories.start_signup(email, "P").json()["signupId"]
        for email in ("ariane@contoso.com", "alain@contoso.com")
    ]
    codes = {smtp.code_for("ariane@contoso.com"), smtp.code_for("alain@contoso.com")}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in codes)
    with limits(server, signup_rate_per_hour=1):  # five codes an hour from one network
        answers = [
            stories.api.post(
                f"/v1/signup/{signups[host % 2]}/verify",  # three tries each: under their own 5
                json={"code": wrong, "password": PASSWORD},
                headers=_from(f"{NETWORK}{host}"),
            )
            for host in range(1, 7)
        ]
    assert [answer.status_code for answer in answers] == [400] * 5 + [429]
    assert answers[-1].json()["error"]["code"] == "tooManyRequests"
