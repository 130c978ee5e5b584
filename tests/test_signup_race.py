"""Twenty people of one new domain verifying at the same moment end in exactly one tenant."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.stories import PASSWORD

PEOPLE = 20


def test_simultaneous_verifications_form_one_tenant(stories, api, smtp, database):
    emails = [f"person{i}@newco.com" for i in range(PEOPLE)]
    pending = []
    for email in emails:
        started = stories.start_signup(email, email.split("@")[0])
        assert started.status_code == 202
        pending.append((started.json()["signupId"], email))
    codes = {email: smtp.code_for(email) for email in emails}

    def verify(item: tuple[str, str]):
        signup_id, email = item
        return api.post(
            f"/v1/signup/{signup_id}/verify", json={"code": codes[email], "password": PASSWORD}
        )

    with ThreadPoolExecutor(max_workers=PEOPLE) as pool:
        responses = list(pool.map(verify, pending))

    assert [r.status_code for r in responses] == [201] * PEOPLE, [r.text for r in responses]
    assert len({r.json()["tenant"]["id"] for r in responses}) == 1
    assert database.scalar("SELECT count(*) FROM tenants") == 1
    assert database.scalar("SELECT count(*) FROM users") == PEOPLE
    assert database.scalar("SELECT count(*) FROM domains WHERE name = 'newco.com'") == 1
