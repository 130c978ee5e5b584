"""Smart lockout: wrong passwords lock out the network they come from, not the person.

The test server trusts `X-Forwarded-For` from 127.0.0.1 (TENANTRY_TRUSTED_PROXIES, as
for a reverse proxy on the same host), so each test picks the origin of every sign-in.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from tenantry.core.audit import AuditEvent
from tenantry.core.clock import clock
from tenantry.core.i18n import translate
from tenantry.core.ratelimit import origin_of
from tests.support.directory import add_user, admin_api, error_code
from tests.support.stories import PASSWORD

USER = "alain@contoso.com"
ATTACKER = "203.0.113.7"
HOME = "198.51.100.4"


def sign_in(api: httpx.Client, origin: str, password: str, email: str = USER) -> httpx.Response:
    return api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
        headers={"X-Forwarded-For": origin},
    )


_guesses = itertools.count()


def guess(api: httpx.Client, origin: str, times: int = 1) -> list[str]:
    """Different wrong passwords from `origin` (the same one twice counts once); the error
    code of each."""
    return [error_code(sign_in(api, origin, f"Wrong-Guess-{next(_guesses)}")) for _ in range(times)]


def counted(database, origin: str, column: str = "failures", email: str = USER):
    return database.scalar(
        f"SELECT l.{column} FROM sign_in_lockouts l JOIN users u ON u.id = l.user_id"
        " WHERE u.user_principal_name = :email AND l.origin = :origin",
        email=email,
        origin=origin,
    )


@contextmanager
def lockout_settings(server, **values: int) -> Iterator[None]:
    settings = server.app.state.settings
    original = {name: getattr(settings, name) for name in values}
    for name, value in values.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in original.items():
            setattr(settings, name, value)


def test_an_attackers_network_is_locked_while_the_user_signs_in_from_home(stories, database):
    stories.sign_up(USER, "Alain")

    assert guess(stories.api, ATTACKER, 5) == ["invalid_grant"] * 5
    refused = sign_in(stories.api, ATTACKER, PASSWORD)  # even the right password
    at_home = sign_in(stories.api, HOME, PASSWORD)

    assert refused.status_code == 429
    assert error_code(refused) == "accountLocked"
    assert refused.json()["error"]["retryAfterSeconds"] == int(refused.headers["Retry-After"])
    assert 890 <= int(refused.headers["Retry-After"]) <= 900
    assert at_home.status_code == 200, at_home.text
    # Each wrong password is audited, the fifth as the one that locked; the refusal is not.
    with database.engine.connect() as connection:
        failed = connection.execute(
            select(AuditEvent.details, AuditEvent.client_address)
            .where(AuditEvent.action == "Sign-in failed")
            .order_by(AuditEvent.occurred_at)
        ).all()
    expected = [({"locked": False}, ATTACKER)] * 4 + [({"locked": True}, ATTACKER)]
    assert [tuple(row) for row in failed] == expected
    assert database.scalar("SELECT count(*) FROM users WHERE failed_sign_ins > 0") == 0

    clock.advance(minutes=16)
    assert sign_in(stories.api, ATTACKER, PASSWORD).status_code == 200


def test_retry_after_never_ends_before_the_lock(stories, database):
    """Retry-After is rounded up: a client that waits exactly that long is let in."""
    stories.sign_up(USER, "Alain")
    guess(stories.api, ATTACKER, 5)
    refused = sign_in(stories.api, ATTACKER, PASSWORD)
    answered = clock.now()
    retry_after = int(refused.headers["Retry-After"])
    locked_until = counted(database, ATTACKER, "locked_until")
    if isinstance(locked_until, str):  # SQLite hands the raw column back
        locked_until = datetime.fromisoformat(locked_until)
    if locked_until.tzinfo is None:
        locked_until = locked_until.replace(tzinfo=UTC)
    # The lock was set a moment ago, for 900 s: what is left is 899.something seconds.
    assert retry_after == 900
    assert answered + timedelta(seconds=retry_after) >= locked_until
    assert refused.json()["error"]["retryAfterSeconds"] == retry_after


def test_a_successful_sign_in_clears_its_networks_count(stories, database):
    stories.sign_up(USER, "Alain")
    guess(stories.api, HOME, 4)
    assert sign_in(stories.api, HOME, PASSWORD).status_code == 200
    assert counted(database, HOME) is None

    assert guess(stories.api, HOME, 4) == ["invalid_grant"] * 4
    assert sign_in(stories.api, HOME, PASSWORD).status_code == 200


def test_each_further_lockout_of_a_network_lasts_twice_as_long(stories, database):
    stories.sign_up(USER, "Alain")
    guess(stories.api, ATTACKER, 5)
    retry_afters = [int(sign_in(stories.api, ATTACKER, PASSWORD).headers["Retry-After"])]
    for minutes in (16, 31, 61):
        clock.advance(minutes=minutes)
        # Past the threshold, one more wrong password locks the network again.
        assert guess(stories.api, ATTACKER) == ["invalid_grant"]
        locked = sign_in(stories.api, ATTACKER, PASSWORD)
        assert error_code(locked) == "accountLocked"
        retry_afters.append(int(locked.headers["Retry-After"]))

    assert [round(seconds / 60) for seconds in retry_afters] == [15, 30, 60, 120]
    assert counted(database, ATTACKER, "lockouts") == 4
    assert sign_in(stories.api, HOME, PASSWORD).status_code == 200

    # However often a network was locked, a lockout lasts at most 24 hours.
    with database.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE sign_in_lockouts SET lockouts = 40")
    clock.advance(hours=3)
    guess(stories.api, ATTACKER)
    longest = sign_in(stories.api, ATTACKER, PASSWORD)
    assert round(int(longest.headers["Retry-After"]) / 3600) == 24


def test_guesses_from_many_networks_lock_the_account_everywhere(stories, database):
    stories.sign_up(USER, "Alain")
    networks = [f"192.0.2.{host}" for host in range(1, 14)]  # 13 networks, 4 guesses each
    codes = [code for network in networks for code in guess(stories.api, network, 4)]

    # The 50th failure (default TENANTRY_LOCKOUT_ACCOUNT_THRESHOLD) locks the account.
    assert codes[:50] == ["invalid_grant"] * 50
    assert codes[50:] == ["accountLocked"] * 2
    refused = sign_in(stories.api, HOME, PASSWORD)
    assert refused.status_code == 429 and error_code(refused) == "accountLocked"
    assert 890 <= int(refused.headers["Retry-After"]) <= 900
    assert counted(database, "*", "lockouts") == 1

    clock.advance(minutes=16)
    assert sign_in(stories.api, HOME, PASSWORD).status_code == 200
    # Each network's own count is still there: under the per-network threshold, not locked.
    assert sign_in(stories.api, networks[0], PASSWORD).status_code == 200


def test_the_account_wide_count_lapses_after_a_quiet_window(stories, server):
    stories.sign_up(USER, "Alain")
    with lockout_settings(server, lockout_account_threshold=6):
        guess(stories.api, "192.0.2.1", 3)
        clock.advance(minutes=16)
        guess(stories.api, "192.0.2.2", 3)
        assert sign_in(stories.api, HOME, PASSWORD).status_code == 200
        guess(stories.api, "192.0.2.3", 3)
        assert error_code(sign_in(stories.api, HOME, PASSWORD)) == "accountLocked"


def test_an_admin_password_reset_clears_every_lockout(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane") as ariane:
        add_user(ariane, USER, "Alain", password=PASSWORD)
        guess(stories.api, ATTACKER, 5)
        for host in range(1, 13):  # with the attacker's five, past 50: the account locks
            guess(stories.api, f"192.0.2.{host}", 4)
        assert error_code(sign_in(stories.api, HOME, PASSWORD)) == "accountLocked"

        reset = ariane.post(f"/v1/users/{USER}/resetPassword")
        assert reset.status_code == 200, reset.text

    assert database.scalar("SELECT count(*) FROM sign_in_lockouts") == 0
    temporary = reset.json()["temporaryPassword"]
    assert sign_in(stories.api, ATTACKER, temporary).status_code == 200
    assert sign_in(stories.api, HOME, temporary).status_code == 200


def test_concurrent_wrong_passwords_are_all_counted(stories, server, database):
    stories.sign_up(USER, "Alain")
    with (
        lockout_settings(server, lockout_threshold=1000, lockout_account_threshold=1000),
        ThreadPoolExecutor(max_workers=20) as pool,
    ):
        codes = list(pool.map(lambda _: guess(stories.api, ATTACKER)[0], range(20)))
    assert codes == ["invalid_grant"] * 20
    assert counted(database, ATTACKER) == 20
    assert counted(database, "*") == 20


def test_concurrent_wrong_passwords_past_the_threshold_lock_once(stories, database):
    """However the twenty race the lockout, each one answered "wrong password" is counted
    (and audited), the rest are refused, and the network is locked once."""
    stories.sign_up(USER, "Alain")
    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(lambda _: guess(stories.api, ATTACKER)[0], range(20)))
    wrong = codes.count("invalid_grant")
    assert wrong >= 5
    assert codes.count("accountLocked") == 20 - wrong
    assert counted(database, ATTACKER) == wrong
    assert counted(database, ATTACKER, "lockouts") == 1
    audited = database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Sign-in failed'")
    assert audited == wrong
    assert sign_in(stories.api, HOME, PASSWORD).status_code == 200


def test_the_sign_in_page_counts_and_refuses_like_the_api(stories, server):
    stories.sign_up(USER, "Alain")

    def page_sign_in(origin: str, password: str) -> httpx.Response:
        with httpx.Client(
            base_url=server.url, headers={"X-Forwarded-For": origin}, timeout=30
        ) as tab:
            page = tab.get("/signin")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token, page.text
            return tab.post(
                "/signin",
                data={"csrf_token": token.group(1), "email": USER, "password": password},
            )

    assert [page_sign_in(ATTACKER, f"Wrong-Guess-{n}").status_code for n in range(5)] == [400] * 5
    refused = page_sign_in(ATTACKER, PASSWORD)
    assert refused.status_code == 429
    assert translate("en", "error.accountLocked") in refused.text
    assert error_code(sign_in(stories.api, ATTACKER, PASSWORD)) == "accountLocked"
    assert page_sign_in(HOME, PASSWORD).status_code == 303


def test_an_ipv6_network_is_locked_as_a_whole_64(stories):
    stories.sign_up(USER, "Alain")
    for host in range(1, 6):  # a new address of the same /64 for every guess
        assert guess(stories.api, f"2001:db8:1:2::{host}") == ["invalid_grant"]
    refused = sign_in(stories.api, "2001:db8:1:2:ffff::9", PASSWORD)
    assert error_code(refused) == "accountLocked"
    assert sign_in(stories.api, "2001:db8:1:3::1", PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("client_address", "origin"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("testclient", "unknown"),
    ],
)
def test_origins(client_address, origin):
    assert origin_of(client_address) == origin


def test_the_same_wrong_password_again_is_not_counted(stories, database):
    """As in Entra: retrying a typo never locks anyone out; different guesses still do."""
    stories.sign_up(USER, "Alain")
    typo = [error_code(sign_in(stories.api, HOME, "Correct-Horse-8")) for _ in range(8)]
    assert typo == ["invalid_grant"] * 8
    assert counted(database, HOME) == 1
    assert sign_in(stories.api, HOME, PASSWORD).status_code == 200

    # The last three wrong passwords are remembered: an older one counts again.
    for password in ("Guess-A1", "Guess-B2", "Guess-C3", "Guess-A1", "Guess-D4"):
        assert error_code(sign_in(stories.api, ATTACKER, password)) == "invalid_grant"
    assert counted(database, ATTACKER) == 4  # Guess-A1 again was not counted
    assert error_code(sign_in(stories.api, ATTACKER, "Guess-A1")) == "invalid_grant"  # forgotten
    assert counted(database, ATTACKER) == 5
    assert error_code(sign_in(stories.api, ATTACKER, PASSWORD)) == "accountLocked"
    # Every wrong password is audited, counted or not.
    failed = database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Sign-in failed'")
    assert failed == 8 + 6
